import VQCore
import XCTest

final class PackedRingTests: XCTestCase {
    static let host: UInt64 = 0x5500_0000_0000
    static let ramSize = 0x40000
    static let ringAddress: UInt64 = 0x8000

    private var ram = BufferMemory(base: PackedRingTests.host, count: PackedRingTests.ramSize)

    /// Eight slots at 0x8000; the driver event area right after, the device's on another page.
    private let q = VirtqueueLocation(layout: .packed, size: 8, descriptors: GuestPhysicalAddress(0x8000),
                                      driverArea: GuestPhysicalAddress(0x8080), deviceArea: GuestPhysicalAddress(0x9000),
                                      features: [.version1, .packedRing, .indirectDescriptors])

    private func gpa(_ value: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(value) }
    private func pos(_ index: UInt16, _ table: UInt64? = nil) -> DescriptorPosition {
        DescriptorPosition(index: index, table: table.map { GuestPhysicalAddress($0) })
    }

    private func map() throws -> SlotMap {
        try SlotMap(slots: [MemorySlot(guest: gpa(0), size: UInt64(Self.ramSize), host: Self.host, name: "pc.ram")])
    }

    private func memory() throws -> GuestMemory { GuestMemory(map: try map(), reader: ram) }

    private func put(_ d: Descriptor, slot: Int, table: UInt64 = PackedRingTests.ringAddress) {
        ram.store(d.packedBytes, at: Self.host + table + UInt64(16 * slot))
    }

    /// A descriptor the driver made available in the lap with wrap counter `wrap`.
    private func avail(_ address: UInt64, _ length: UInt32, id: UInt16, wrap: Bool, _ extra: Descriptor.Flags = []) -> Descriptor {
        Descriptor(address: gpa(address), length: length, flags: extra.union(wrap ? [.avail] : [.used]), id: id)
    }

    /// A used descriptor the device wrote in the lap with wrap counter `wrap` (the address is the driver's, kept).
    private func used(_ address: UInt64, _ length: UInt32, id: UInt16, wrap: Bool) -> Descriptor {
        Descriptor(address: gpa(address), length: length, flags: wrap ? [.avail, .used] : [], id: id)
    }

    private func snapshot(usedIndex: PackedRing.Hint? = nil, lastAvailIndex: PackedRing.Hint? = nil) throws -> PackedRing.Snapshot {
        try PackedRing.snapshot(memory: try memory(), location: q, usedIndex: usedIndex, lastAvailIndex: lastAvailIndex)
    }

    private func single(_ slot: UInt16, wrap: Bool, id: UInt16, address: UInt64, length: UInt32, writable: Bool = true,
                        consumed: Bool? = nil) -> PackedRing.AvailableChain {
        PackedRing.AvailableChain(slot: slot, wrap: wrap, bufferID: id, consumed: consumed, chain: Chain(
            head: slot, elements: [Chain.Element(index: slot, address: gpa(address), length: length, isWritable: writable)],
            readableBytes: writable ? 0 : UInt64(length), writableBytes: writable ? UInt64(length) : 0, ringDescriptors: 1))
    }

    func testFreshZeroedRing() throws {
        let s = try snapshot()
        XCTAssertEqual(s.driver, PackedRing.Position(index: 0, wrap: true))
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 0, wrap: true))
        XCTAssertEqual(s.deviceUsedSource, .derived)
        XCTAssertNil(s.deviceAvail)
        XCTAssertEqual(s.available, [])
        XCTAssertEqual(s.states, [PackedRing.SlotState](repeating: .used(wrap: false), count: 8))
        XCTAssertEqual(s.problems, [])
        XCTAssertTrue(s.consistent)
        XCTAssertEqual(s.attempts, 1)
    }

    func testFirstLap() throws {
        put(used(0x30000, 100, id: 0, wrap: true), slot: 0)
        put(avail(0x31000, 1514, id: 1, wrap: true, [.write]), slot: 1)
        put(avail(0x32000, 1514, id: 2, wrap: true, [.write]), slot: 2)
        let reader = CountingReader(ram)
        let s = try PackedRing.snapshot(memory: GuestMemory(map: try map(), reader: reader), location: q)
        XCTAssertEqual(s.driver, PackedRing.Position(index: 3, wrap: true))
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 1, wrap: true))
        XCTAssertEqual(s.deviceUsedSource, .derived)
        XCTAssertEqual(s.states, [.used(wrap: true), .available(wrap: true), .available(wrap: true)]
            + [PackedRing.SlotState](repeating: .used(wrap: false), count: 5))
        XCTAssertEqual(s.available, [
            single(1, wrap: true, id: 1, address: 0x31000, length: 1514),
            single(2, wrap: true, id: 2, address: 0x32000, length: 1514),
        ])
        XCTAssertEqual(s.problems, [])
        XCTAssertTrue(s.consistent)
        XCTAssertEqual(reader.calls, 2, "the ring and event areas, then the ring again (no indirect tables)")
    }

    func testSecondLapAcrossTheWrap() throws {
        // Lap 1 (wrap 1): slots 2-5 used, 6-7 still available. Lap 2 (wrap 0): slots 0-1 available.
        for slot in 2...5 { put(used(0x30000, 60, id: UInt16(slot), wrap: true), slot: slot) }
        put(avail(0x36000, 100, id: 6, wrap: true), slot: 6)
        put(avail(0x37000, 100, id: 7, wrap: true), slot: 7)
        put(avail(0x38000, 100, id: 2, wrap: false), slot: 0)
        put(avail(0x39000, 100, id: 3, wrap: false), slot: 1)
        let s = try snapshot()
        XCTAssertEqual(s.driver, PackedRing.Position(index: 2, wrap: false))
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 6, wrap: true))
        XCTAssertEqual(s.deviceUsedSource, .derived)
        XCTAssertEqual(s.available, [
            single(6, wrap: true, id: 6, address: 0x36000, length: 100, writable: false),
            single(7, wrap: true, id: 7, address: 0x37000, length: 100, writable: false),
            single(0, wrap: false, id: 2, address: 0x38000, length: 100, writable: false),
            single(1, wrap: false, id: 3, address: 0x39000, length: 100, writable: false),
        ])
        XCTAssertEqual(s.states[0], .available(wrap: false))
        XCTAssertEqual(s.states[5], .used(wrap: true))
        XCTAssertEqual(s.problems, [])
    }

    func testFullRingAndHints() throws {
        for slot in 0..<8 { put(avail(0x30000 + UInt64(slot) * 0x1000, 64, id: UInt16(slot), wrap: true), slot: slot) }
        let s = try snapshot()
        XCTAssertEqual(s.driver, PackedRing.Position(index: 0, wrap: false), "a whole lap written: next lap starts")
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 0, wrap: true), "a whole lap behind")
        XCTAssertEqual(s.available.map(\.slot), [0, 1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(s.available.map(\.bufferID), [0, 1, 2, 3, 4, 5, 6, 7])
        XCTAssertTrue(s.available.allSatisfy { $0.wrap && $0.consumed == nil })
        // QMP says the device has fetched five: the first five are consumed. The bare index 0 is read
        // as "a lap behind" since no slot is used.
        let hinted = try snapshot(usedIndex: PackedRing.Hint(index: 0), lastAvailIndex: PackedRing.Hint(index: 5))
        XCTAssertEqual(hinted.deviceUsedSource, .hint)
        XCTAssertEqual(hinted.deviceUsed, PackedRing.Position(index: 0, wrap: true))
        XCTAssertEqual(hinted.deviceAvail, PackedRing.Position(index: 5, wrap: true))
        XCTAssertEqual(hinted.available.map(\.consumed), [true, true, true, true, true, false, false, false])
        XCTAssertEqual(hinted.problems, [])
    }

    func testHintsMoveTheUsedPositionAndBadHintsAreIgnored() throws {
        put(used(0x30000, 1, id: 0, wrap: true), slot: 0)
        put(avail(0x31000, 2, id: 1, wrap: true), slot: 1)
        put(avail(0x32000, 3, id: 2, wrap: true), slot: 2)
        put(avail(0x33000, 4, id: 3, wrap: true), slot: 3)
        // The device has written nothing past slot 0 but says it has fetched slots 1 and 2.
        let s = try snapshot(usedIndex: PackedRing.Hint(index: 1, wrap: true), lastAvailIndex: PackedRing.Hint(encoded: 0x8003))
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 1, wrap: true))
        XCTAssertEqual(s.deviceAvail, PackedRing.Position(index: 3, wrap: true))
        XCTAssertEqual(s.available.map(\.consumed), [true, true, false])
        // A used hint before a used slot: that slot is where only available ones belong.
        let early = try snapshot(usedIndex: PackedRing.Hint(index: 0))
        XCTAssertEqual(early.deviceUsed, PackedRing.Position(index: 0, wrap: true))
        XCTAssertEqual(early.problems, [.unexpectedUsed(slot: 0)])
        XCTAssertEqual(early.available.map(\.slot), [1, 2, 3])
        let bad = try snapshot(usedIndex: PackedRing.Hint(index: 9), lastAvailIndex: PackedRing.Hint(index: 6, wrap: true))
        XCTAssertEqual(bad.problems, [
            .badHint(name: "used index", index: 9, reason: "not below the queue size 8"),
            .badHint(name: "last avail index", index: 6, reason: "ahead of the driver's position 4 (wrap 1)"),
        ])
        XCTAssertEqual(bad.deviceUsedSource, .derived)
        XCTAssertEqual(bad.deviceUsed, PackedRing.Position(index: 1, wrap: true))
        XCTAssertNil(bad.deviceAvail)
        let behind = try snapshot(usedIndex: PackedRing.Hint(index: 2, wrap: true), lastAvailIndex: PackedRing.Hint(index: 1, wrap: true))
        XCTAssertEqual(behind.problems, [.badHint(name: "last avail index", index: 1, reason: "behind the device's used position 2 (wrap 1)")])
    }

    /// A receive queue the driver keeps refilled: slots 0-2 refilled in lap 0, slots 3 and 4 used in
    /// lap 1, slots 5-7 available in lap 1. The device's used position is 5 (wrap 1).
    private func putRefilledRxRing() {
        for slot in 0...2 { put(avail(0x40000 + UInt64(slot) * 0x1000, 1514, id: UInt16(slot), wrap: false, [.write]), slot: slot) }
        put(used(0x43000, 60, id: 3, wrap: true), slot: 3)
        put(used(0x44000, 60, id: 4, wrap: true), slot: 4)
        for slot in 5...7 { put(avail(0x40000 + UInt64(slot) * 0x1000, 1514, id: UInt16(slot), wrap: true, [.write]), slot: slot) }
    }

    func testAnOlderQEMUHintNeverWinsOverTheRing() throws {
        putRefilledRxRing()
        // QEMU said used-idx 4 a moment before the read; the device has since used slot 4.
        let old = DeviceQueueState(lastAvailIndex: 4, shadowAvailIndex: 4, usedIndex: 4, inUse: 0)
        let s = try PackedRing.snapshot(memory: try memory(), location: q, deviceState: old)
        XCTAssertEqual(s.problems, [], "an older hint is not a problem of the ring")
        XCTAssertEqual(s.staleHints, 2)
        XCTAssertEqual(s.driver, PackedRing.Position(index: 3, wrap: false))
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 5, wrap: true))
        XCTAssertEqual(s.deviceUsedSource, .derived)
        XCTAssertNil(s.deviceAvail)
        XCTAssertEqual(s.available.map(\.slot), [5, 6, 7, 0, 1, 2])
        // The same index taken as the device's word as of the read: slot 4 contradicts it.
        let fresh = try snapshot(usedIndex: PackedRing.Hint(index: 4))
        XCTAssertEqual(fresh.problems, [.unexpectedUsed(slot: 4)])
        XCTAssertEqual(fresh.staleHints, 0)
        // A hint that agrees with the ring is taken.
        let current = DeviceQueueState(lastAvailIndex: 6, shadowAvailIndex: 6, usedIndex: 5, inUse: 1)
        let agreed = try PackedRing.snapshot(memory: try memory(), location: q, deviceState: current)
        XCTAssertEqual(agreed.staleHints, 0)
        XCTAssertEqual(agreed.problems, [])
        XCTAssertEqual(agreed.deviceUsedSource, .hint)
        XCTAssertEqual(agreed.deviceAvail, PackedRing.Position(index: 6, wrap: true))
        XCTAssertEqual(agreed.available.map(\.consumed), [true, false, false, false, false, false])
    }

    func testInFlightCountsTheRingNotAnOlderHintAtTheDriversIndex() throws {
        // A full ring (8 available, lap 1): QEMU's used-idx 0 is the driver's index, a lap behind.
        for slot in 0...7 { put(avail(0x40000 + UInt64(slot) * 0x1000, 1514, id: UInt16(slot), wrap: true, [.write]), slot: slot) }
        let state = DeviceQueueState(lastAvailIndex: 0, shadowAvailIndex: 0, usedIndex: 0, inUse: 0)
        let full = try PackedRing.snapshot(memory: try memory(), location: q, deviceState: state)
        XCTAssertEqual(full.available.count, 8)
        XCTAssertEqual(full.staleHints, 0)
        // The device uses slot 0 before the next read, QEMU's answer is kept: still 7 in flight, not 0.
        put(used(0x40000, 60, id: 0, wrap: true), slot: 0)
        let s = try PackedRing.snapshot(memory: try memory(), location: q, deviceState: state)
        XCTAssertEqual(s.available.count, 7)
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 1, wrap: true))
        XCTAssertEqual(s.staleHints, 2, "the used index, and the read index of the same answer")
        XCTAssertNil(s.deviceAvail)
        XCTAssertEqual(s.problems, [])
    }

    func testMultiSlotChainAcrossTheRingEndIsAnEstimate() throws {
        for slot in 1...5 { put(used(0x30000, 1, id: 0, wrap: true), slot: slot) }
        put(avail(0x36000, 16, id: 4, wrap: true, [.next]), slot: 6)
        put(avail(0x37000, 4096, id: 4, wrap: true, [.next, .write]), slot: 7)
        put(avail(0x38000, 1, id: 4, wrap: false, [.write]), slot: 0)
        let s = try snapshot()
        XCTAssertEqual(s.driver, PackedRing.Position(index: 1, wrap: false))
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 6, wrap: true))
        XCTAssertEqual(s.deviceUsedSource, .estimated)
        XCTAssertEqual(s.available.count, 1)
        XCTAssertEqual(s.available[0].slot, 6)
        XCTAssertEqual(s.available[0].bufferID, 4)
        XCTAssertEqual(s.available[0].chain.ringDescriptors, 3)
        XCTAssertEqual(s.available[0].chain.elements.map(\.index), [6, 7, 0])
        XCTAssertEqual(s.available[0].chain.readableBytes, 16)
        XCTAssertEqual(s.available[0].chain.writableBytes, 4097)
        XCTAssertEqual(s.allProblems, [])
    }

    func testIndirectBlkRequest() throws {
        let t: UInt64 = 0x20000
        put(used(0x30000, 1, id: 0, wrap: true), slot: 0)
        put(avail(t, 48, id: 5, wrap: true, [.indirect]), slot: 1)
        put(Descriptor(address: gpa(0x31000), length: 16), slot: 0, table: t)
        put(Descriptor(address: gpa(0x32000), length: 512, flags: [.write]), slot: 1, table: t)
        put(Descriptor(address: gpa(0x33000), length: 1, flags: [.write]), slot: 2, table: t)
        let reader = CountingReader(ram)
        let s = try PackedRing.snapshot(memory: GuestMemory(map: try map(), reader: reader), location: q)
        XCTAssertEqual(s.deviceUsedSource, .derived)
        XCTAssertEqual(s.available.map(\.bufferID), [5])
        XCTAssertEqual(s.available[0].chain.elements, [
            Chain.Element(index: 0, indirectTable: gpa(t), address: gpa(0x31000), length: 16, isWritable: false),
            Chain.Element(index: 1, indirectTable: gpa(t), address: gpa(0x32000), length: 512, isWritable: true),
            Chain.Element(index: 2, indirectTable: gpa(t), address: gpa(0x33000), length: 1, isWritable: true),
        ])
        XCTAssertEqual(s.allProblems, [])
        XCTAssertEqual(reader.calls, 2, "the ring, then the table and the ring again in one batch")
    }

    func testEventSuppressionAreas() throws {
        ram.store(UInt16(0x8003), at: Self.host + 0x8080)
        ram.store(UInt16(2), at: Self.host + 0x8082)
        ram.store(UInt16(5), at: Self.host + 0x9000)
        ram.store(UInt16(1), at: Self.host + 0x9002)
        let s = try snapshot()
        XCTAssertEqual(s.driverEvent, PackedRing.EventSuppression(rawDescriptor: 0x8003, rawFlags: 2))
        XCTAssertEqual(s.driverEvent.offset, 3)
        XCTAssertTrue(s.driverEvent.wrap)
        XCTAssertEqual(s.driverEvent.mode, .descriptor)
        XCTAssertEqual(s.deviceEvent.offset, 5)
        XCTAssertFalse(s.deviceEvent.wrap)
        XCTAssertEqual(s.deviceEvent.mode, .disable)
        XCTAssertEqual(PackedRing.EventSuppression(rawDescriptor: 0, rawFlags: 3).mode, .reserved)
        XCTAssertEqual(PackedRing.Position(index: 3, wrap: true).encoded, 0x8003)
    }

    // MARK: Hostile rings

    func testWrapPattern() throws {
        put(avail(0x30000, 1, id: 0, wrap: true), slot: 0)
        put(avail(0x30000, 1, id: 1, wrap: true), slot: 1)
        put(avail(0x30000, 1, id: 3, wrap: true), slot: 3)
        let s = try snapshot()
        XCTAssertEqual(s.driver, PackedRing.Position(index: 2, wrap: true))
        XCTAssertEqual(s.problems, [.wrapPattern(slot: 3)])
    }

    func testHostileChains() throws {
        put(used(0x30000, 1, id: 77, wrap: true), slot: 0)                                  // used id out of range
        put(avail(0x9_0000_0000, 0xFFFF_FFFF, id: 9, wrap: true), slot: 1)                  // id, address, length
        put(avail(0x20000, 32, id: 2, wrap: true, [.indirect, .next]), slot: 2)             // INDIRECT with NEXT
        put(avail(0x31000, 8, id: 3, wrap: true), slot: 3)                                  // ...its next slot, id mismatch
        put(avail(0x32000, 8, id: 4, wrap: true), slot: 4)                                  // duplicate id 4 ...
        put(avail(0x33000, 8, id: 4, wrap: true, [.next]), slot: 5)                         // ... and unterminated
        put(Descriptor(address: gpa(0x20000), length: 32, flags: [.indirect]), slot: 0, table: 0x20000)  // points at itself
        put(Descriptor(address: gpa(0x34000), length: 0, flags: [.write]), slot: 1, table: 0x20000)
        let s = try snapshot()
        XCTAssertEqual(s.driver, PackedRing.Position(index: 6, wrap: true))
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 1, wrap: true))
        XCTAssertEqual(s.deviceUsedSource, .estimated)
        XCTAssertEqual(s.available.map(\.slot), [1, 2, 4, 5])
        XCTAssertEqual(s.available.map(\.bufferID), [9, 3, 4, 4])
        XCTAssertEqual(s.problems, [
            .ringEntryOutOfRange(ring: .avail, position: 1, value: 9, size: 8),
            .duplicateBuffer(id: 4, first: 4, second: 5),
            .ringEntryOutOfRange(ring: .used, position: 0, value: 77, size: 8),
        ])
        XCTAssertEqual(s.available[0].chain.problems, [
            .hugeLength(head: 1, at: pos(1), length: 0xFFFF_FFFF),
            .addressUnmapped(head: 1, at: pos(1), address: gpa(0x9_0000_0000), length: 0xFFFF_FFFF, firstUnmapped: gpa(0x9_0000_0000)),
        ])
        XCTAssertEqual(s.available[1].chain.problems, [
            .indirectWithNext(head: 2, at: pos(2)),
            .nestedIndirect(head: 2, at: pos(0, 0x20000), target: gpa(0x20000)),
            .zeroLength(head: 2, at: pos(1, 0x20000)),
            .readableAfterWritable(head: 2, at: pos(3)),
            .bufferIDMismatch(head: 2, first: 2, last: 3),
        ])
        XCTAssertEqual(s.available[1].chain.elements.map(\.position), [pos(1, 0x20000), pos(3)])
        XCTAssertEqual(s.available[3].chain.problems, [.chainUnterminated(head: 5, at: pos(5))])
    }

    func testSizeZeroReadsNothing() throws {
        var location = q
        location.size = 0
        location.descriptors = gpa(0x1_0000_0000)
        let s = try PackedRing.snapshot(memory: try memory(), location: location)
        XCTAssertEqual(s.problems, [.invalidSize(size: 0)])
        XCTAssertEqual(s.descriptors, [])
        XCTAssertEqual(s.available, [])
        XCTAssertEqual(s.attempts, 0)
    }

    func testUnreadableRingThrows() throws {
        var location = q
        location.descriptors = gpa(0x1_0000_0000)
        XCTAssertThrowsError(try PackedRing.snapshot(memory: try memory(), location: location))
    }

    func testGarbageRingsNeverTrap() throws {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        for i in 0..<ram.bytes.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            ram.bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        let memory = try memory()
        for size: UInt16 in [1, 7, 8, 256, 1000, 16384] {
            let location = VirtqueueLocation(layout: .packed, size: size, descriptors: gpa(0), driverArea: gpa(0x3_0000),
                                             deviceArea: gpa(0x3_0004), features: [.packedRing])
            for hint: PackedRing.Hint? in [nil, PackedRing.Hint(index: 0), PackedRing.Hint(index: size / 2, wrap: false)] {
                let s = try PackedRing.snapshot(memory: memory, location: location, usedIndex: hint, lastAvailIndex: hint)
                XCTAssertTrue(s.consistent)
                XCTAssertEqual(s.descriptors.count, Int(size))
                XCTAssertEqual(s.states.count, Int(size))
                XCTAssertLessThan(Int(s.driver.index), Int(size))
                XCTAssertLessThan(Int(s.deviceUsed.index), Int(size))
                // The available chains tile the slots between the device's used position and the driver's.
                let covered = s.available.reduce(0) { $0 + $1.chain.ringDescriptors }
                let unexpected = s.problems.filter { $0.code == "unexpected_used" }.count
                let behind = (Int(s.driver.index) - Int(s.deviceUsed.index) + Int(size)) % Int(size)
                let expected = behind == 0 && s.driver.wrap != s.deviceUsed.wrap ? Int(size) : behind
                XCTAssertEqual(covered + unexpected, expected)
            }
        }
    }

    // MARK: Torn reads

    func testFlagsThatChangeOnEveryReadAreTorn() throws {
        put(avail(0x31000, 64, id: 1, wrap: true), slot: 0)
        let reader = ChangingReader(ram, watched: Self.host + Self.ringAddress + 14, changes: .max, change: .flipUsedBit)
        let s = try PackedRing.snapshot(memory: GuestMemory(map: try map(), reader: reader), location: q, maxAttempts: 4)
        XCTAssertFalse(s.consistent)
        XCTAssertEqual(s.attempts, 4)
        XCTAssertEqual(reader.calls, 5)
        XCTAssertEqual(s.problems, [.torn(attempts: 4)])
    }

    func testFlagsThatChangeOnceAreConsistentOnTheSecondAttempt() throws {
        put(avail(0x31000, 64, id: 1, wrap: true), slot: 0)
        // The device marks slot 0 used right after the first read.
        let reader = ChangingReader(ram, watched: Self.host + Self.ringAddress + 14, changes: 1, change: .flipUsedBit)
        let s = try PackedRing.snapshot(memory: GuestMemory(map: try map(), reader: reader), location: q)
        XCTAssertTrue(s.consistent)
        XCTAssertEqual(s.attempts, 2)
        XCTAssertEqual(reader.calls, 3)
        XCTAssertEqual(s.states[0], .used(wrap: true))
        XCTAssertEqual(s.available, [])
        XCTAssertEqual(s.deviceUsed, PackedRing.Position(index: 1, wrap: true))
        XCTAssertEqual(s.problems, [])
    }
}

