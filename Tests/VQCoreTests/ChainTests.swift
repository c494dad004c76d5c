import VQCore
import XCTest

final class ChainTests: XCTestCase {
    /// 64 KiB of guest RAM at guest-physical 0 (host offset 0x100000 in the buffer's own space).
    static let ramSize: UInt64 = 0x10000
    static let table = GuestPhysicalAddress(0x1000)
    static let size: UInt16 = 8

    private var ram = BufferMemory(base: 0x100000, count: Int(ChainTests.ramSize))

    private func store(_ d: Descriptor, at index: Int, table: UInt64 = ChainTests.table.rawValue, packed: Bool = false) {
        ram.store(packed ? d.packedBytes : d.splitBytes, at: 0x100000 + table + UInt64(16 * index))
    }

    private func memory() throws -> (GuestMemory, CountingReader) {
        let map = try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: Self.ramSize, host: 0x100000, name: "pc.ram")])
        let reader = CountingReader(ram)
        return (GuestMemory(map: map, reader: reader), reader)
    }

    private func tableDescriptors(packed: Bool = false) -> [Descriptor] {
        let start = Int(Self.table.rawValue)
        return Descriptor.decode(Array(ram.bytes[start..<start + 16 * Int(Self.size)]), layout: packed ? .packed : .split)
    }

    private func pos(_ index: UInt16, _ table: UInt64? = nil) -> DescriptorPosition {
        DescriptorPosition(index: index, table: table.map { GuestPhysicalAddress($0) })
    }

    private func gpa(_ value: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(value) }

    // MARK: Descriptors

    func testDescriptorLayoutsAndFlags() {
        let d = Descriptor(address: gpa(0x1122_3344_5566_7788), length: 0x99AA_BBCC, flags: [.next, .write], next: 0x0DEF, id: 0x0123)
        XCTAssertEqual(d.splitBytes, [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xCC, 0xBB, 0xAA, 0x99, 0x03, 0x00, 0xEF, 0x0D])
        XCTAssertEqual(d.packedBytes, [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xCC, 0xBB, 0xAA, 0x99, 0x23, 0x01, 0x03, 0x00])
        XCTAssertEqual(Descriptor.decode(d.splitBytes + [1, 2, 3], layout: .split),
                       [Descriptor(address: d.address, length: d.length, flags: [.next, .write], next: 0x0DEF)])
        XCTAssertEqual(Descriptor.decode(d.packedBytes, layout: .packed),
                       [Descriptor(address: d.address, length: d.length, flags: [.next, .write], id: 0x0123)])
        XCTAssertTrue(d.hasNext && d.isWriteOnly && !d.isIndirect)
        XCTAssertEqual(Descriptor.Flags.avail.rawValue, 0x80)
        XCTAssertEqual(Descriptor.Flags.used.rawValue, 0x8000)
        let available = Descriptor(address: gpa(0), length: 0, flags: [.avail])
        XCTAssertTrue(available.isAvailable(wrap: true))
        XCTAssertFalse(available.isAvailable(wrap: false))
        XCTAssertTrue(available.looksAvailable)
        let used0 = Descriptor(address: gpa(0), length: 0, flags: [])
        XCTAssertTrue(used0.isUsed(wrap: false))
        XCTAssertFalse(used0.isUsed(wrap: true))
        XCTAssertTrue(Descriptor(address: gpa(0), length: 0, flags: [.avail, .used]).isUsed(wrap: true))
        XCTAssertTrue(Descriptor(address: gpa(0), length: 0, flags: [.used]).isAvailable(wrap: false))
    }

    func testProblemCodesAreStableAndDistinct() {
        let examples: [RingProblem] = [
            .loop(head: 1, at: pos(2)), .nextOutOfRange(head: 1, from: nil, next: 9, count: 8),
            .nestedIndirect(head: 1, at: pos(0, 0x10), target: gpa(0x20)), .indirectWithNext(head: 1, at: pos(1)),
            .indirectInList(head: 1, at: pos(1)), .indirectLength(head: 1, at: pos(1), length: 40),
            .indirectEmpty(head: 1, at: pos(1)), .indirectTooLarge(head: 1, at: pos(1), entries: 2000, limit: 1024),
            .indirectUnread(head: 1, at: pos(1), table: gpa(0x10), reason: "x"),
            .addressUnmapped(head: 1, at: pos(1), address: gpa(5), length: 1, firstUnmapped: gpa(5)),
            .iovaUnmapped(head: 1, at: pos(1), iova: gpa(5), length: 1, firstUnmapped: gpa(5), reason: "x"),
            .hugeLength(head: 1, at: pos(1), length: .max), .zeroLength(head: 1, at: pos(1)),
            .readableAfterWritable(head: 1, at: pos(1)), .chainTooLong(head: 1, elements: 9, limit: 8),
            .chainTooLarge(head: 1, bytes: 1 << 33), .chainUnterminated(head: 1, at: pos(1)),
            .sharedDescriptor(head: 1, at: pos(1), otherHead: 2), .bufferIDMismatch(head: 1, first: 1, last: 2),
            .availIndexJump(availIndex: 300, usedIndex: 0, size: 8),
            .ringEntryOutOfRange(ring: .avail, position: 1, value: 9, size: 8), .duplicateBuffer(id: 1, first: 1, second: 2),
            .torn(attempts: 8), .wrapPattern(slot: 3), .badHint(name: "used index", index: 9, reason: "x"),
            .unexpectedUsed(slot: 2), .invalidSize(size: 0),
        ]
        XCTAssertEqual(examples.map(\.code), RingProblem.allCodes)
        XCTAssertEqual(Set(RingProblem.allCodes).count, RingProblem.allCodes.count)
        XCTAssertEqual(RingProblem.loop(head: 3, at: pos(5)).message, "chain 3 reaches descriptor 5 a second time: the chain loops")
        XCTAssertEqual(RingProblem.nextOutOfRange(head: 2, from: pos(4, 0x2000), next: 7, count: 3).message,
                       "chain 2: entry 4 of the indirect table at 0x2000 links to 7, outside its table of 3 entries")
        XCTAssertEqual(RingProblem.torn(attempts: 8).description,
                       "the guest changed the ring during every one of 8 reads; the snapshot may mix states")
        XCTAssertEqual(RingProblem.zeroLength(head: 4, at: pos(1)).head, 4)
        XCTAssertNil(RingProblem.torn(attempts: 1).head)
    }

    // MARK: Split chains

    func testVirtioBlkRequestDirect() throws {
        store(Descriptor(address: gpa(0x3000), length: 16, flags: [.next], next: 5), at: 2)
        store(Descriptor(address: gpa(0x4000), length: 4096, flags: [.next, .write], next: 7), at: 5)
        store(Descriptor(address: gpa(0x5000), length: 1, flags: [.write]), at: 7)
        let (memory, reader) = try memory()
        let chain = Chain.split(head: 2, table: tableDescriptors(), memory: memory)
        XCTAssertEqual(chain, Chain(head: 2, elements: [
            Chain.Element(index: 2, address: gpa(0x3000), length: 16, isWritable: false),
            Chain.Element(index: 5, address: gpa(0x4000), length: 4096, isWritable: true),
            Chain.Element(index: 7, address: gpa(0x5000), length: 1, isWritable: true),
        ], problems: [], readableBytes: 16, writableBytes: 4097, ringDescriptors: 3))
        XCTAssertEqual(reader.calls, 0, "no indirect table, no read")
    }

    func testVirtioBlkRequestThroughIndirectTableIsOneRead() throws {
        let t: UInt64 = 0x6000
        store(Descriptor(address: gpa(t), length: 48, flags: [.indirect, .write]), at: 0)
        store(Descriptor(address: gpa(0x3000), length: 16, flags: [.next], next: 1), at: 0, table: t)
        store(Descriptor(address: gpa(0x4000), length: 512, flags: [.next, .write], next: 2), at: 1, table: t)
        store(Descriptor(address: gpa(0x5000), length: 1, flags: [.write]), at: 2, table: t)
        let (memory, reader) = try memory()
        let chain = Chain.split(head: 0, table: tableDescriptors(), memory: memory)
        XCTAssertEqual(chain.elements, [
            Chain.Element(index: 0, indirectTable: gpa(t), address: gpa(0x3000), length: 16, isWritable: false),
            Chain.Element(index: 1, indirectTable: gpa(t), address: gpa(0x4000), length: 512, isWritable: true),
            Chain.Element(index: 2, indirectTable: gpa(t), address: gpa(0x5000), length: 1, isWritable: true),
        ])
        XCTAssertEqual(chain.problems, [])
        XCTAssertEqual(chain.readableBytes, 16)
        XCTAssertEqual(chain.writableBytes, 513)
        XCTAssertEqual(chain.ringDescriptors, 1)
        XCTAssertTrue(chain.elements.allSatisfy(\.isFromIndirectTable))
        XCTAssertEqual(reader.calls, 1)
    }

    func testLoops() throws {
        store(Descriptor(address: gpa(0x3000), length: 8, flags: [.next], next: 1), at: 0)
        store(Descriptor(address: gpa(0x3100), length: 8, flags: [.next], next: 0), at: 1)
        store(Descriptor(address: gpa(0x3200), length: 8, flags: [.next], next: 3), at: 3)
        let table = tableDescriptors()
        let ab = Chain.split(head: 0, table: table)
        XCTAssertEqual(ab.elements.map(\.index), [0, 1])
        XCTAssertEqual(ab.problems, [.loop(head: 0, at: pos(0))])
        let selfLoop = Chain.split(head: 3, table: table)
        XCTAssertEqual(selfLoop.elements.map(\.index), [3])
        XCTAssertEqual(selfLoop.problems, [.loop(head: 3, at: pos(3))])
    }

    func testNextOutOfRangeAndHeadOutOfRange() {
        store(Descriptor(address: gpa(0x3000), length: 8, flags: [.next], next: 300), at: 4)
        let table = tableDescriptors()
        let chain = Chain.split(head: 4, table: table)
        XCTAssertEqual(chain.elements.map(\.index), [4])
        XCTAssertEqual(chain.problems, [.nextOutOfRange(head: 4, from: pos(4), next: 300, count: 8)])
        XCTAssertEqual(Chain.split(head: 8, table: table),
                       Chain(head: 8, problems: [.nextOutOfRange(head: 8, from: nil, next: 8, count: 8)]))
        XCTAssertEqual(Chain.split(head: 0, table: []).problems, [.nextOutOfRange(head: 0, from: nil, next: 0, count: 0)])
    }

    func testIndirectInsideIndirect() throws {
        let t: UInt64 = 0x6000, inner: UInt64 = 0x7000
        store(Descriptor(address: gpa(t), length: 32, flags: [.indirect]), at: 1)
        store(Descriptor(address: gpa(inner), length: 32, flags: [.indirect, .next], next: 1), at: 0, table: t)
        store(Descriptor(address: gpa(0x3000), length: 64, flags: [.write]), at: 1, table: t)
        let (memory, reader) = try memory()
        let chain = Chain.split(head: 1, table: tableDescriptors(), memory: memory)
        XCTAssertEqual(chain.elements, [Chain.Element(index: 1, indirectTable: gpa(t), address: gpa(0x3000), length: 64, isWritable: true)])
        XCTAssertEqual(chain.problems, [.nestedIndirect(head: 1, at: pos(0, t), target: gpa(inner))])
        XCTAssertEqual(reader.calls, 1, "the nested table is never read")
    }

    func testIndirectTablePointingAtItself() throws {
        let t: UInt64 = 0x6000
        store(Descriptor(address: gpa(t), length: 32, flags: [.indirect]), at: 0)
        store(Descriptor(address: gpa(t), length: 32, flags: [.indirect, .next], next: 1), at: 0, table: t)
        store(Descriptor(address: gpa(t), length: 32, flags: [.indirect, .next], next: 0), at: 1, table: t)
        let (memory, _) = try memory()
        let chain = Chain.split(head: 0, table: tableDescriptors(), memory: memory)
        XCTAssertEqual(chain.elements, [])
        XCTAssertEqual(chain.problems, [
            .nestedIndirect(head: 0, at: pos(0, t), target: gpa(t)),
            .nestedIndirect(head: 0, at: pos(1, t), target: gpa(t)),
            .loop(head: 0, at: pos(0, t)),
        ])
    }

    func testIndirectWithNextIsFlaggedAndBothAreWalked() throws {
        let t: UInt64 = 0x6000
        store(Descriptor(address: gpa(t), length: 16, flags: [.indirect, .next], next: 6), at: 0)
        store(Descriptor(address: gpa(0x3000), length: 100), at: 0, table: t)
        store(Descriptor(address: gpa(0x5000), length: 1, flags: [.write]), at: 6)
        let (memory, _) = try memory()
        let chain = Chain.split(head: 0, table: tableDescriptors(), memory: memory)
        XCTAssertEqual(chain.elements, [
            Chain.Element(index: 0, indirectTable: gpa(t), address: gpa(0x3000), length: 100, isWritable: false),
            Chain.Element(index: 6, address: gpa(0x5000), length: 1, isWritable: true),
        ])
        XCTAssertEqual(chain.problems, [.indirectWithNext(head: 0, at: pos(0))])
        XCTAssertEqual(chain.ringDescriptors, 2)
    }

    func testIndirectLengthNotAMultipleOf16() throws {
        let t: UInt64 = 0x6000
        store(Descriptor(address: gpa(t), length: 40, flags: [.indirect]), at: 0)
        store(Descriptor(address: gpa(0x3000), length: 10, flags: [.next], next: 1), at: 0, table: t)
        store(Descriptor(address: gpa(0x3100), length: 20, flags: [.next], next: 2), at: 1, table: t)
        let (memory, _) = try memory()
        let chain = Chain.split(head: 0, table: tableDescriptors(), memory: memory)
        XCTAssertEqual(chain.elements.map(\.length), [10, 20])
        XCTAssertEqual(chain.problems, [
            .indirectLength(head: 0, at: pos(0), length: 40),
            .nextOutOfRange(head: 0, from: pos(1, t), next: 2, count: 2),
        ])
    }

    func testEmptyIndirectTables() throws {
        store(Descriptor(address: gpa(0x6000), length: 0, flags: [.indirect]), at: 0)
        store(Descriptor(address: gpa(0x6000), length: 8, flags: [.indirect]), at: 1)
        let (memory, reader) = try memory()
        let table = tableDescriptors()
        XCTAssertEqual(Chain.split(head: 0, table: table, memory: memory),
                       Chain(head: 0, problems: [.indirectEmpty(head: 0, at: pos(0))], ringDescriptors: 1))
        XCTAssertEqual(Chain.split(head: 1, table: table, memory: memory),
                       Chain(head: 1, problems: [.indirectLength(head: 1, at: pos(1), length: 8)], ringDescriptors: 1))
        XCTAssertEqual(reader.calls, 0)
    }

    func testIndirectTooLargeIsCutAtTheLimit() throws {
        let t: UInt64 = 0x6000
        store(Descriptor(address: gpa(t), length: 16 * 10, flags: [.indirect]), at: 0)
        for i in 0..<10 {
            store(Descriptor(address: gpa(0x3000 + UInt64(i) * 0x100), length: 0x100, flags: [.next], next: UInt16(i + 1)), at: i, table: t)
        }
        let (memory, _) = try memory()
        let chain = Chain.split(head: 0, table: tableDescriptors(), memory: memory, limits: ChainLimits(maxIndirectEntries: 4))
        XCTAssertEqual(chain.elements.map(\.index), [0, 1, 2, 3])
        XCTAssertEqual(chain.problems, [.indirectTooLarge(head: 0, at: pos(0), entries: 10, limit: 4)])
        // Without the cap: ten buffers in a queue of eight, and the last link leaves the table.
        let uncapped = Chain.split(head: 0, table: tableDescriptors(), memory: memory)
        XCTAssertEqual(uncapped.elements.count, 10)
        XCTAssertEqual(uncapped.problems, [
            .nextOutOfRange(head: 0, from: pos(9, t), next: 10, count: 10),
            .chainTooLong(head: 0, elements: 10, limit: 8),
        ])
    }

    func testIndirectBudgetAndMissingTables() throws {
        store(Descriptor(address: gpa(0x6000), length: 32, flags: [.indirect]), at: 0)
        let (memory, reader) = try memory()
        let chain = Chain.split(head: 0, table: tableDescriptors(), memory: memory, limits: ChainLimits(maxIndirectBytes: 16))
        XCTAssertEqual(chain.problems, [.indirectUnread(head: 0, at: pos(0), table: gpa(0x6000),
                                                        reason: "over the budget of 16 bytes of indirect tables in one decode")])
        XCTAssertEqual(reader.calls, 0)
        XCTAssertEqual(Chain.split(head: 0, table: tableDescriptors()).problems,
                       [.indirectUnread(head: 0, at: pos(0), table: gpa(0x6000), reason: "the table was not supplied")])
        let supplied = Chain.split(head: 0, table: tableDescriptors(), indirectTables: [
            gpa(0x6000): [Descriptor(address: gpa(0x3000), length: 4, flags: [.next], next: 1),
                          Descriptor(address: gpa(0x3010), length: 4, flags: [.write])],
        ])
        XCTAssertEqual(supplied.elements.map(\.address), [gpa(0x3000), gpa(0x3010)])
        XCTAssertEqual(supplied.problems, [])
    }

    func testAddressesOutsideRAMDoNotStopDecoding() throws {
        store(Descriptor(address: gpa(0x10_0000_0000), length: 512, flags: [.next], next: 1), at: 0)
        store(Descriptor(address: gpa(Self.ramSize - 16), length: 32, flags: [.next], next: 2), at: 1)
        store(Descriptor(address: gpa(0xFFFF_FFFF_FFFF_FFF0), length: 0x20, flags: [.next, .write], next: 3), at: 2)
        store(Descriptor(address: gpa(0x5000), length: 1, flags: [.write]), at: 3)
        let (memory, _) = try memory()
        let chain = Chain.split(head: 0, table: tableDescriptors(), memory: memory)
        XCTAssertEqual(chain.elements.map(\.index), [0, 1, 2, 3])
        XCTAssertEqual(chain.problems, [
            .addressUnmapped(head: 0, at: pos(0), address: gpa(0x10_0000_0000), length: 512, firstUnmapped: gpa(0x10_0000_0000)),
            .addressUnmapped(head: 0, at: pos(1), address: gpa(Self.ramSize - 16), length: 32, firstUnmapped: gpa(Self.ramSize)),
            .addressUnmapped(head: 0, at: pos(2), address: gpa(0xFFFF_FFFF_FFFF_FFF0), length: 0x20,
                             firstUnmapped: gpa(0xFFFF_FFFF_FFFF_FFF0)),
        ])
        XCTAssertEqual(chain.readableBytes, 544)
        XCTAssertEqual(chain.writableBytes, 0x21)
    }

    func testIndirectTableOutsideRAMIsNotRead() throws {
        store(Descriptor(address: gpa(0x7_0000_0000), length: 64, flags: [.indirect]), at: 0)
        let (memory, reader) = try memory()
        let chain = Chain.split(head: 0, table: tableDescriptors(), memory: memory)
        XCTAssertEqual(chain.problems, [.addressUnmapped(head: 0, at: pos(0), address: gpa(0x7_0000_0000), length: 64,
                                                         firstUnmapped: gpa(0x7_0000_0000))])
        XCTAssertEqual(chain.elements, [])
        XCTAssertEqual(reader.calls, 0)
    }

    func testHugeLengths() {
        store(Descriptor(address: gpa(0x3000), length: 0x7FFF_FFFF, flags: [.next], next: 1), at: 0)
        store(Descriptor(address: gpa(0x3000), length: 0xFFFF_FFFF, flags: [.next], next: 2), at: 1)
        store(Descriptor(address: gpa(0x3000), length: 0x8000_0000, flags: [.write]), at: 2)
        let chain = Chain.split(head: 0, table: tableDescriptors())
        XCTAssertEqual(chain.problems, [
            .hugeLength(head: 0, at: pos(1), length: 0xFFFF_FFFF),
            .hugeLength(head: 0, at: pos(2), length: 0x8000_0000),
            .chainTooLarge(head: 0, bytes: 0x7FFF_FFFF + 0xFFFF_FFFF + 0x8000_0000),
        ])
        XCTAssertEqual(chain.readableBytes, 0x7FFF_FFFF + 0xFFFF_FFFF)
        XCTAssertEqual(chain.writableBytes, 0x8000_0000)
    }

    func testZeroLengthAndOrder() {
        store(Descriptor(address: gpa(0x3000), length: 8, flags: [.next, .write], next: 1), at: 0)
        store(Descriptor(address: gpa(0x3100), length: 0, flags: [.next], next: 2), at: 1)
        store(Descriptor(address: gpa(0x3200), length: 8, flags: [.write]), at: 2)
        let chain = Chain.split(head: 0, table: tableDescriptors())
        XCTAssertEqual(chain.problems, [.readableAfterWritable(head: 0, at: pos(1)), .zeroLength(head: 0, at: pos(1))])
        XCTAssertEqual(chain.elements.map(\.isWritable), [true, false, true])
    }

    // MARK: Packed chains

    func testPackedChainWrapsAroundTheRingEnd() {
        store(Descriptor(address: gpa(0x3000), length: 16, flags: [.next, .avail], id: 4), at: 6, packed: true)
        store(Descriptor(address: gpa(0x4000), length: 512, flags: [.next, .write, .avail], id: 4), at: 7, packed: true)
        store(Descriptor(address: gpa(0x5000), length: 1, flags: [.write, .used], id: 4), at: 0, packed: true)
        let chain = Chain.packed(head: 6, ring: tableDescriptors(packed: true))
        XCTAssertEqual(chain, Chain(head: 6, elements: [
            Chain.Element(index: 6, address: gpa(0x3000), length: 16, isWritable: false),
            Chain.Element(index: 7, address: gpa(0x4000), length: 512, isWritable: true),
            Chain.Element(index: 0, address: gpa(0x5000), length: 1, isWritable: true),
        ], readableBytes: 16, writableBytes: 513, ringDescriptors: 3))
        XCTAssertEqual(Chain.packed(head: 6, ring: tableDescriptors(packed: true), maxSlots: 2).problems,
                       [.chainUnterminated(head: 6, at: pos(7))])
    }

    func testPackedIndirectTableIsSequential() throws {
        let t: UInt64 = 0x6000
        store(Descriptor(address: gpa(t), length: 48, flags: [.indirect, .avail], id: 1), at: 3, packed: true)
        // NEXT and ids are reserved in packed indirect tables: ignored.
        store(Descriptor(address: gpa(0x3000), length: 16, flags: [], id: 99), at: 0, table: t, packed: true)
        store(Descriptor(address: gpa(0x4000), length: 512, flags: [.write, .next], id: 98), at: 1, table: t, packed: true)
        store(Descriptor(address: gpa(0x5000), length: 1, flags: [.write]), at: 2, table: t, packed: true)
        let (memory, reader) = try memory()
        let chain = Chain.packed(head: 3, ring: tableDescriptors(packed: true), memory: memory)
        XCTAssertEqual(chain.elements, [
            Chain.Element(index: 0, indirectTable: gpa(t), address: gpa(0x3000), length: 16, isWritable: false),
            Chain.Element(index: 1, indirectTable: gpa(t), address: gpa(0x4000), length: 512, isWritable: true),
            Chain.Element(index: 2, indirectTable: gpa(t), address: gpa(0x5000), length: 1, isWritable: true),
        ])
        XCTAssertEqual(chain.problems, [])
        XCTAssertEqual(chain.ringDescriptors, 1)
        XCTAssertEqual(reader.calls, 1)
    }

    func testPackedIndirectInsideAList() throws {
        store(Descriptor(address: gpa(0x3000), length: 16, flags: [.next, .avail]), at: 0, packed: true)
        store(Descriptor(address: gpa(0x6000), length: 16, flags: [.indirect, .next, .avail]), at: 1, packed: true)
        store(Descriptor(address: gpa(0x5000), length: 1, flags: [.write, .avail]), at: 2, packed: true)
        store(Descriptor(address: gpa(0x4000), length: 8, flags: [.write]), at: 0, table: 0x6000, packed: true)
        let (memory, _) = try memory()
        let chain = Chain.packed(head: 0, ring: tableDescriptors(packed: true), memory: memory)
        XCTAssertEqual(chain.elements.map(\.address), [gpa(0x3000), gpa(0x4000), gpa(0x5000)])
        XCTAssertEqual(chain.problems, [.indirectInList(head: 0, at: pos(1)), .indirectWithNext(head: 0, at: pos(1))])
    }
}
