import VQCore
import XCTest

final class SplitRingTests: XCTestCase {
    /// Host offset of guest-physical 0 in the test buffer.
    static let host: UInt64 = 0x7f00_0000_0000
    static let ramSize = 0x40000

    private var ram = BufferMemory(base: SplitRingTests.host, count: SplitRingTests.ramSize)

    private func gpa(_ value: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(value) }
    private func pos(_ index: UInt16, _ table: UInt64? = nil) -> DescriptorPosition {
        DescriptorPosition(index: index, table: table.map { GuestPhysicalAddress($0) })
    }

    private func map() throws -> SlotMap {
        try SlotMap(slots: [MemorySlot(guest: gpa(0), size: UInt64(Self.ramSize), host: Self.host, name: "pc.ram")])
    }

    private func memory() throws -> GuestMemory { GuestMemory(map: try map(), reader: ram) }

    private func put<T: FixedWidthInteger>(_ value: T, _ gpa: UInt64) { ram.store(value, at: Self.host + gpa) }
    private func put(_ d: Descriptor, table: UInt64, _ index: Int) { ram.store(d.splitBytes, at: Self.host + table + UInt64(16 * index)) }

    /// Writes a split ring: indexes, available entries at the given free-running positions, used entries.
    private func ring(_ q: VirtqueueLocation, availIndex: UInt16, usedIndex: UInt16,
                      avail: [UInt16: UInt16] = [:], used: [UInt16: (UInt32, UInt32)] = [:]) {
        let n = UInt64(q.size)
        put(availIndex, q.driverArea.rawValue + 2)
        put(usedIndex, q.deviceArea.rawValue + 2)
        for (position, head) in avail { put(head, q.driverArea.rawValue + 4 + 2 * (UInt64(position) % n)) }
        for (position, (id, len)) in used {
            put(id, q.deviceArea.rawValue + 4 + 8 * (UInt64(position) % n))
            put(len, q.deviceArea.rawValue + 8 + 8 * (UInt64(position) % n))
        }
    }

    /// Linux 6.1's layout for num = 256: desc +0, avail +0x1000, used +0x1240.
    private let linux = VirtqueueLocation(layout: .split, size: 256, descriptors: GuestPhysicalAddress(0x10000),
                                          driverArea: GuestPhysicalAddress(0x11000), deviceArea: GuestPhysicalAddress(0x11240),
                                          features: [.version1, .indirectDescriptors, .eventIndex])
    /// A legacy layout for num = 16: used ring on the next 4 KiB boundary after the available ring.
    private let legacy = VirtqueueLocation(layout: .split, size: 16, descriptors: GuestPhysicalAddress(0x20000),
                                           driverArea: GuestPhysicalAddress(0x20100), deviceArea: GuestPhysicalAddress(0x21000))

    func testLinuxLayoutWithEventIndexAndThreeChainsInFlight() throws {
        let q = linux
        let desc = q.descriptors.rawValue
        // Head 10: a direct virtio-blk read. Head 20: the same through an indirect table. Head 30: one buffer.
        put(Descriptor(address: gpa(0x30000), length: 16, flags: [.next], next: 11), table: desc, 10)
        put(Descriptor(address: gpa(0x31000), length: 4096, flags: [.next, .write], next: 12), table: desc, 11)
        put(Descriptor(address: gpa(0x32000), length: 1, flags: [.write]), table: desc, 12)
        put(Descriptor(address: gpa(0x33000), length: 48, flags: [.indirect]), table: desc, 20)
        put(Descriptor(address: gpa(0x30100), length: 16, flags: [.next], next: 1), table: 0x33000, 0)
        put(Descriptor(address: gpa(0x34000), length: 512, flags: [.next, .write], next: 2), table: 0x33000, 1)
        put(Descriptor(address: gpa(0x32010), length: 1, flags: [.write]), table: 0x33000, 2)
        put(Descriptor(address: gpa(0x35000), length: 1514, flags: [.write]), table: desc, 30)
        ring(q, availIndex: 8, usedIndex: 5, avail: [4: 3, 5: 10, 6: 20, 7: 30], used: [4: (3, 512)])
        put(UInt16(1), q.driverArea.rawValue)                    // NO_INTERRUPT
        put(UInt16(6), q.driverArea.rawValue + 4 + 2 * 256)      // used_event
        put(UInt16(8), q.deviceArea.rawValue + 4 + 8 * 256)      // avail_event
        let reader = CountingReader(ram)
        let snapshot = try SplitRing.snapshot(memory: GuestMemory(map: try map(), reader: reader), location: q)

        XCTAssertTrue(snapshot.consistent)
        XCTAssertEqual(snapshot.attempts, 1)
        XCTAssertEqual(reader.calls, 2, "one batch for the three areas, one for the indirect tables")
        XCTAssertEqual(snapshot.problems, [])
        XCTAssertEqual(snapshot.allProblems, [])
        XCTAssertEqual(snapshot.descriptors.count, 256)
        XCTAssertEqual(snapshot.descriptors[11], Descriptor(address: gpa(0x31000), length: 4096, flags: [.next, .write], next: 12))
        XCTAssertEqual(snapshot.avail.flags, 1)
        XCTAssertTrue(snapshot.avail.noInterrupt)
        XCTAssertEqual(snapshot.avail.index, 8)
        XCTAssertEqual(snapshot.avail.ring.count, 256)
        XCTAssertEqual(Array(snapshot.avail.ring[4...8]), [3, 10, 20, 30, 0])
        XCTAssertEqual(snapshot.avail.usedEvent, 6)
        XCTAssertEqual(snapshot.used.index, 5)
        XCTAssertEqual(snapshot.used.ring.count, 256)
        XCTAssertEqual(snapshot.used.ring[4], SplitRing.UsedElement(id: 3, length: 512))
        XCTAssertEqual(snapshot.used.availEvent, 8)
        XCTAssertFalse(snapshot.used.noNotify)
        XCTAssertEqual(snapshot.pendingCount, 3)
        XCTAssertEqual(snapshot.inFlight.map(\.position), [5, 6, 7])
        XCTAssertEqual(snapshot.inFlight.map(\.head), [10, 20, 30])
        XCTAssertEqual(snapshot.inFlight[0].chain?.elements.map(\.index), [10, 11, 12])
        XCTAssertEqual(snapshot.inFlight[0].chain?.writableBytes, 4097)
        XCTAssertEqual(snapshot.inFlight[1].chain?.elements, [
            Chain.Element(index: 0, indirectTable: gpa(0x33000), address: gpa(0x30100), length: 16, isWritable: false),
            Chain.Element(index: 1, indirectTable: gpa(0x33000), address: gpa(0x34000), length: 512, isWritable: true),
            Chain.Element(index: 2, indirectTable: gpa(0x33000), address: gpa(0x32010), length: 1, isWritable: true),
        ])
        XCTAssertEqual(snapshot.inFlight[2].chain,
                       Chain(head: 30, elements: [Chain.Element(index: 30, address: gpa(0x35000), length: 1514, isWritable: true)],
                             writableBytes: 1514, ringDescriptors: 1))
    }

    func testLegacyLayoutWithoutEventIndexAcrossTheIndexWrap() throws {
        let q = legacy
        for d in 0..<16 { put(Descriptor(address: gpa(0x30000 + UInt64(d) * 0x100), length: 0x100), table: q.descriptors.rawValue, d) }
        ring(q, availIndex: 2, usedIndex: 65534, avail: [65534: 7, 65535: 8, 0: 9, 1: 15])
        put(UInt16(0xBEEF), q.driverArea.rawValue + 4 + 2 * 16)  // would be used_event; not negotiated
        let snapshot = try SplitRing.snapshot(memory: try memory(), location: q)
        XCTAssertTrue(snapshot.consistent)
        XCTAssertEqual(snapshot.problems, [])
        XCTAssertNil(snapshot.avail.usedEvent)
        XCTAssertNil(snapshot.used.availEvent)
        XCTAssertEqual(snapshot.inFlight.map(\.position), [65534, 65535, 0, 1])
        XCTAssertEqual(snapshot.inFlight.map(\.head), [7, 8, 9, 15])
        XCTAssertEqual(snapshot.inFlight.compactMap { $0.chain?.elements.first?.address }, [gpa(0x30700), gpa(0x30800), gpa(0x30900), gpa(0x30F00)])
    }

    func testAvailIndexJumpKeepsAtMostSizeEntries() throws {
        let q = legacy
        ring(q, availIndex: 300, usedIndex: 0, avail: Dictionary(uniqueKeysWithValues: (0..<16).map { (UInt16($0), UInt16($0)) }))
        let snapshot = try SplitRing.snapshot(memory: try memory(), location: q)
        XCTAssertEqual(snapshot.problems, [.availIndexJump(availIndex: 300, usedIndex: 0, size: 16)])
        XCTAssertEqual(snapshot.inFlight.map(\.position), Array(284..<300))
        XCTAssertEqual(snapshot.inFlight.map(\.head), [12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
        // Used ahead of available is a jump too; every entry then names head 0 once more.
        ring(q, availIndex: 5, usedIndex: 10, avail: Dictionary(uniqueKeysWithValues: (0..<16).map { (UInt16($0), 0) }))
        let behind = try SplitRing.snapshot(memory: try memory(), location: q)
        XCTAssertEqual(behind.problems, [.availIndexJump(availIndex: 5, usedIndex: 10, size: 16)]
            + (65526...65535).map { .duplicateBuffer(id: 0, first: 65525, second: UInt16($0)) }
            + (0...4).map { .duplicateBuffer(id: 0, first: 65525, second: UInt16($0)) })
        XCTAssertEqual(behind.inFlight.map(\.position), Array(65525...65535) + [0, 1, 2, 3, 4])
    }

    func testRingEntriesOutOfRange() throws {
        let q = legacy
        put(Descriptor(address: gpa(0x30000), length: 8), table: q.descriptors.rawValue, 2)
        ring(q, availIndex: 4, usedIndex: 2, avail: [2: 99, 3: 2], used: [2: (77, 1)])
        let snapshot = try SplitRing.snapshot(memory: try memory(), location: q)
        XCTAssertEqual(snapshot.problems, [
            .ringEntryOutOfRange(ring: .avail, position: 2, value: 99, size: 16),
            .ringEntryOutOfRange(ring: .used, position: 2, value: 77, size: 16),
        ])
        XCTAssertEqual(snapshot.inFlight, [
            SplitRing.InFlight(position: 2, head: 99, chain: nil),
            SplitRing.InFlight(position: 3, head: 2, chain: Chain(head: 2, elements: [
                Chain.Element(index: 2, address: gpa(0x30000), length: 8, isWritable: false),
            ], readableBytes: 8, ringDescriptors: 1)),
        ])
    }

    func testDuplicateHeadsAndSharedDescriptors() throws {
        let q = legacy
        let desc = q.descriptors.rawValue
        put(Descriptor(address: gpa(0x30000), length: 8, flags: [.next], next: 1), table: desc, 0)
        put(Descriptor(address: gpa(0x30100), length: 8, flags: [.next], next: 2), table: desc, 1)
        put(Descriptor(address: gpa(0x30200), length: 8), table: desc, 2)
        put(Descriptor(address: gpa(0x30300), length: 8, flags: [.next], next: 2), table: desc, 3)
        ring(q, availIndex: 3, usedIndex: 0, avail: [0: 0, 1: 3, 2: 0])
        let snapshot = try SplitRing.snapshot(memory: try memory(), location: q)
        XCTAssertEqual(snapshot.problems, [.duplicateBuffer(id: 0, first: 0, second: 2)])
        XCTAssertEqual(snapshot.inFlight[0].chain?.elements.map(\.index), [0, 1, 2])
        XCTAssertEqual(snapshot.inFlight[2].chain, snapshot.inFlight[0].chain)
        XCTAssertEqual(snapshot.inFlight[1].chain?.elements.map(\.index), [3])
        XCTAssertEqual(snapshot.inFlight[1].chain?.problems, [.sharedDescriptor(head: 3, at: pos(2), otherHead: 0)])
        XCTAssertEqual(snapshot.allProblems.map(\.code), ["duplicate_buffer", "shared_descriptor"])
    }

    func testHostileChainsInFlight() throws {
        let q = legacy
        let desc = q.descriptors.rawValue
        put(Descriptor(address: gpa(0x30000), length: 8, flags: [.next], next: 1), table: desc, 0)
        put(Descriptor(address: gpa(0x30100), length: 8, flags: [.next], next: 0), table: desc, 1)
        put(Descriptor(address: gpa(0x9_0000_0000), length: 0xFFFF_FFFF, flags: [.write]), table: desc, 5)
        put(Descriptor(address: gpa(0x33000), length: 40, flags: [.indirect, .next], next: 9), table: desc, 6)
        ring(q, availIndex: 3, usedIndex: 0, avail: [0: 0, 1: 5, 2: 6])
        let snapshot = try SplitRing.snapshot(memory: try memory(), location: q)
        XCTAssertEqual(snapshot.problems, [])
        XCTAssertEqual(snapshot.inFlight[0].chain?.problems, [.loop(head: 0, at: pos(0))])
        XCTAssertEqual(snapshot.inFlight[1].chain?.problems, [
            .hugeLength(head: 5, at: pos(5), length: 0xFFFF_FFFF),
            .addressUnmapped(head: 5, at: pos(5), address: gpa(0x9_0000_0000), length: 0xFFFF_FFFF, firstUnmapped: gpa(0x9_0000_0000)),
        ])
        XCTAssertEqual(snapshot.inFlight[2].chain?.problems, [
            .indirectWithNext(head: 6, at: pos(6)),
            .indirectLength(head: 6, at: pos(6), length: 40),
            .zeroLength(head: 6, at: pos(0, 0x33000)),
            .zeroLength(head: 6, at: pos(9)),
        ])
        XCTAssertEqual(snapshot.inFlight[2].chain?.elements.map(\.position), [pos(0, 0x33000), pos(9)])
    }

    func testUnreadableRingAreasThrow() throws {
        var q = legacy
        q.deviceArea = gpa(0x8000_0000)
        XCTAssertThrowsError(try SplitRing.snapshot(memory: try memory(), location: q)) { error in
            guard case MemoryError.guestUnmapped(let address, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(address, self.gpa(0x8000_0002), "the used index, first in the batch")
        }
    }

    func testSizeZeroDecodesNothing() throws {
        var q = legacy
        q.size = 0
        let snapshot = try SplitRing.snapshot(memory: try memory(), location: q)
        XCTAssertEqual(snapshot.problems, [.invalidSize(size: 0)])
        XCTAssertEqual(snapshot.descriptors, [])
        XCTAssertEqual(snapshot.inFlight, [])
        XCTAssertEqual(snapshot.attempts, 0)
        q.size = 24
        XCTAssertEqual(try SplitRing.snapshot(memory: try memory(), location: q).problems, [.invalidSize(size: 24)])
    }

    // MARK: Torn reads

    func testAnIndexThatMovesOnEveryReadIsTorn() throws {
        let q = legacy
        ring(q, availIndex: 10, usedIndex: 9, avail: [9: 1])
        let reader = ChangingReader(ram, watched: Self.host + q.driverArea.rawValue + 2, changes: .max, change: .incrementIndex)
        let snapshot = try SplitRing.snapshot(memory: GuestMemory(map: try map(), reader: reader), location: q, maxAttempts: 3)
        XCTAssertFalse(snapshot.consistent)
        XCTAssertEqual(snapshot.attempts, 3)
        XCTAssertEqual(reader.calls, 3, "one batch per attempt: no chain needs an indirect table")
        XCTAssertEqual(snapshot.problems.last, .torn(attempts: 3))
    }

    func testAnIndexThatMovesOnceIsConsistentOnTheSecondAttempt() throws {
        let q = legacy
        put(Descriptor(address: gpa(0x30000), length: 64, flags: [.write]), table: q.descriptors.rawValue, 1)
        ring(q, availIndex: 10, usedIndex: 9, avail: [9: 1, 10: 2])
        let reader = ChangingReader(ram, watched: Self.host + q.driverArea.rawValue + 2, changes: 1, change: .incrementIndex)
        let snapshot = try SplitRing.snapshot(memory: GuestMemory(map: try map(), reader: reader), location: q)
        XCTAssertTrue(snapshot.consistent)
        XCTAssertEqual(snapshot.attempts, 2)
        XCTAssertEqual(reader.calls, 2)
        XCTAssertEqual(snapshot.problems, [])
        XCTAssertEqual(snapshot.avail.index, 11)
        XCTAssertEqual(snapshot.inFlight.map(\.position), [9, 10])
        XCTAssertEqual(snapshot.inFlight.map(\.head), [1, 2])
    }

    func testAUsedIndexThatMovesOnceIsConsistentOnTheSecondAttempt() throws {
        let q = legacy
        ring(q, availIndex: 10, usedIndex: 8, avail: [8: 1, 9: 2])
        let reader = ChangingReader(ram, watched: Self.host + q.deviceArea.rawValue + 2, changes: 1, change: .incrementIndex)
        let snapshot = try SplitRing.snapshot(memory: GuestMemory(map: try map(), reader: reader), location: q)
        XCTAssertTrue(snapshot.consistent)
        XCTAssertEqual(snapshot.attempts, 2)
        XCTAssertEqual(snapshot.used.index, 9)
        XCTAssertEqual(snapshot.inFlight.map(\.head), [2])
    }

    func testGarbageRingsNeverTrap() throws {
        // Deterministic noise over 1 MiB of RAM, then rings of every shape read from it.
        var noise = BufferMemory(base: Self.host, count: 0x100000)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<noise.bytes.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            noise.bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        // Keep some links in range and some buffers readable, so chains get long.
        for i in stride(from: 0, to: 0x8000, by: 16) { noise.bytes[i + 14] &= 0x0F; noise.bytes[i + 12] |= 1 }
        let memory = GuestMemory(map: try SlotMap(slots: [MemorySlot(guest: gpa(0), size: 0x100000, host: Self.host, name: "pc.ram")]),
                                 reader: noise)
        var decodedChains = 0
        for (size, desc, avail, used) in [(UInt16(16), 0x0, 0x100, 0x1000), (256, 0x0, 0x1000, 0x1240),
                                          (1024, 0x2000, 0x6000, 0x7000), (32768, 0x0, 0x80000, 0x90000)] {
            for features: VirtioFeatures in [[], [.eventIndex]] {
                let q = VirtqueueLocation(layout: .split, size: size, descriptors: gpa(UInt64(desc)),
                                          driverArea: gpa(UInt64(avail)), deviceArea: gpa(UInt64(used)), features: features)
                let snapshot = try SplitRing.snapshot(memory: memory, location: q)
                XCTAssertTrue(snapshot.consistent)
                XCTAssertEqual(snapshot.descriptors.count, Int(size))
                XCTAssertEqual(snapshot.inFlight.count, min(snapshot.pendingCount, Int(size)))
                XCTAssertEqual(snapshot.avail.usedEvent != nil, features.contains(.eventIndex))
                for entry in snapshot.inFlight {
                    XCTAssertEqual(entry.chain == nil, Int(entry.head) >= Int(size))
                    if let chain = entry.chain {
                        XCTAssertEqual(chain.readableBytes + chain.writableBytes, chain.elements.reduce(0) { $0 + UInt64($1.length) })
                        decodedChains += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(decodedChains, 100)
    }

    func testAUsedIndexThatMovesDuringTheIndirectReadIsCaught() throws {
        let q = legacy
        put(Descriptor(address: gpa(0x33000), length: 16, flags: [.indirect]), table: q.descriptors.rawValue, 4)
        put(Descriptor(address: gpa(0x30000), length: 64, flags: [.write]), table: 0x33000, 0)
        ring(q, availIndex: 1, usedIndex: 0, avail: [0: 4])
        // The used index is read three times in the first batch; the fourth read, after the tables, sees it move.
        final class LateMover: MemoryReader {
            var inner: BufferMemory
            let watched: UInt64
            var reads = 0
            init(_ inner: BufferMemory, watched: UInt64) { self.inner = inner; self.watched = watched }
            func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
                for i in requests.indices {
                    let r = requests[i]
                    if r.address <= watched, watched + 2 <= r.address + UInt64(r.buffer.count) {
                        reads += 1
                        if reads == 4 { inner.store(UInt16(1), at: watched) }
                    }
                    try inner.read(UnsafeMutableBufferPointer(rebasing: requests[i..<i + 1]))
                }
            }
        }
        let reader = LateMover(ram, watched: Self.host + q.deviceArea.rawValue + 2)
        let snapshot = try SplitRing.snapshot(memory: GuestMemory(map: try map(), reader: reader), location: q)
        XCTAssertTrue(snapshot.consistent)
        XCTAssertEqual(snapshot.attempts, 2)
        XCTAssertEqual(snapshot.used.index, 1)
        XCTAssertEqual(snapshot.inFlight, [])
    }
}

