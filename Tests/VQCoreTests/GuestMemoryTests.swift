import XCTest
@testable import VQCore

private func gpa(_ value: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(value) }

/// A reader that records every batch it is given, then delegates.
private final class RecordingReader: MemoryReader {
    let inner: BufferMemory
    var batches: [[(address: UInt64, count: Int)]] = []
    init(_ inner: BufferMemory) { self.inner = inner }
    func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        batches.append(requests.map { ($0.address, $0.buffer.count) })
        try inner.read(requests)
    }
}

final class GuestMemoryTests: XCTestCase {
    /// Backing bytes at host 0x10000..<0x14000; byte at offset i is `pattern(i)`.
    private static let base: UInt64 = 0x1_0000
    private static func pattern(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: i &* 31 &+ (i >> 8)) }
    private let backing = BufferMemory(base: base, bytes: (0..<0x4000).map(pattern))

    /// Guest layout:
    ///   s0 guest 0x0000-0x0fff -> host 0x10000 (buffer offset 0x0000)
    ///   s1 guest 0x1000-0x1fff -> host 0x12000 (buffer offset 0x2000), adjacent in the guest, not in the host
    ///   hole 0x2000-0x2fff ("mmio")
    ///   s2 guest 0x3000-0x3fff -> host 0x11000 (buffer offset 0x1000)
    ///   s3 guest 0x4000-0x4fff -> host 0x20000 (outside the buffer: the backing is unmapped)
    private func makeMap() throws -> SlotMap {
        try SlotMap(slots: [
            MemorySlot(guest: gpa(0x0000), size: 0x1000, host: 0x1_0000, name: "s0"),
            MemorySlot(guest: gpa(0x1000), size: 0x1000, host: 0x1_2000, name: "s1"),
            MemorySlot(guest: gpa(0x3000), size: 0x1000, host: 0x1_1000, name: "s2"),
            MemorySlot(guest: gpa(0x4000), size: 0x1000, host: 0x2_0000, name: "s3"),
        ], holes: [MemoryHole(guest: gpa(0x2000), size: 0x1000, name: "mmio")])
    }

    private func memory() throws -> GuestMemory { GuestMemory(map: try makeMap(), reader: backing) }

    private func expected(offset: Int, count: Int) -> [UInt8] { (offset..<offset + count).map(Self.pattern) }

    private func error(_ body: () throws -> Void) -> MemoryError? {
        do {
            try body()
            return nil
        } catch let error as MemoryError {
            return error
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    private let holeReason = "in mmio (0x2000-0x2fff), not RAM"

    // MARK: Single reads

    func testFirstAndLastByteOfEachSlot() throws {
        let mem = try memory()
        XCTAssertEqual(try mem.bytes(at: gpa(0x0), count: 1), expected(offset: 0x0, count: 1))
        XCTAssertEqual(try mem.bytes(at: gpa(0xfff), count: 1), expected(offset: 0xfff, count: 1))
        XCTAssertEqual(try mem.bytes(at: gpa(0x1000), count: 1), expected(offset: 0x2000, count: 1))
        XCTAssertEqual(try mem.bytes(at: gpa(0x1fff), count: 1), expected(offset: 0x2fff, count: 1))
        XCTAssertEqual(try mem.bytes(at: gpa(0x3000), count: 1), expected(offset: 0x1000, count: 1))
        XCTAssertEqual(try mem.bytes(at: gpa(0x3fff), count: 1), expected(offset: 0x1fff, count: 1))
    }

    func testOnePastTheEndOfSlots() throws {
        let mem = try memory()
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x2000), count: 1) }, .guestUnmapped(gpa(0x2000), reason: holeReason))
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x5000), count: 1) },
                       .guestUnmapped(gpa(0x5000), reason: "past the end of guest memory (0x5000)"))
    }

    func testWholeSlot() throws {
        let mem = try memory()
        XCTAssertEqual(try mem.bytes(at: gpa(0x3000), count: 0x1000), expected(offset: 0x1000, count: 0x1000))
        XCTAssertEqual(try mem.bytes(at: gpa(0x1800), count: 0x800), expected(offset: 0x2800, count: 0x800))
    }

    func testReadSpanningTwoAdjacentSlots() throws {
        let mem = try memory()
        let bytes = try mem.bytes(at: gpa(0xff8), count: 16)
        XCTAssertEqual(bytes, expected(offset: 0xff8, count: 8) + expected(offset: 0x2000, count: 8))
        // Both slots whole.
        let all = try mem.bytes(at: gpa(0), count: 0x2000)
        XCTAssertEqual(all, expected(offset: 0, count: 0x1000) + expected(offset: 0x2000, count: 0x1000))
    }

    func testSpanningReadIsOneBatch() throws {
        let reader = RecordingReader(backing)
        let mem = GuestMemory(map: try makeMap(), reader: reader)
        _ = try mem.bytes(at: gpa(0xffe), count: 4)
        XCTAssertEqual(reader.batches.count, 1)
        XCTAssertEqual(reader.batches[0].map(\.address), [0x1_0ffe, 0x1_2000])
        XCTAssertEqual(reader.batches[0].map(\.count), [2, 2])
        // Within one slot: one request.
        _ = try mem.bytes(at: gpa(0x3010), count: 8)
        XCTAssertEqual(reader.batches.count, 2)
        XCTAssertEqual(reader.batches[1].map(\.address), [0x1_1010])
        XCTAssertEqual(reader.batches[1].map(\.count), [8])
    }

    func testReadRunningIntoAHoleFailsAndReadsNothing() throws {
        let reader = RecordingReader(backing)
        let mem = GuestMemory(map: try makeMap(), reader: reader)
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x1ff0), count: 32) },
                       .guestUnmapped(gpa(0x2000), reason: holeReason))
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x0ff0), count: 0x1020) },
                       .guestUnmapped(gpa(0x2000), reason: holeReason))
        XCTAssertEqual(reader.batches.count, 0, "nothing is read when the range is not all mapped")
        // Up to the last byte before the hole is fine.
        XCTAssertEqual(try mem.bytes(at: gpa(0x1ff0), count: 16), expected(offset: 0x2ff0, count: 16))
    }

    func testReadStartingInAHole() throws {
        let mem = try memory()
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x2fff), count: 2) }, .guestUnmapped(gpa(0x2fff), reason: holeReason))
    }

    func testBackingUnmapped() throws {
        let mem = try memory()
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x4010), count: 4) }, .backingUnmapped(0x2_0010))
        // Spanning s2 into s3: the second piece's backing is missing.
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x3ffc), count: 8) }, .backingUnmapped(0x2_0000))
    }

    func testZeroLengthReadsSucceedAnywhere() throws {
        let mem = try memory()
        XCTAssertEqual(try mem.bytes(at: gpa(0x2000), count: 0), [])
        XCTAssertEqual(try mem.bytes(at: gpa(.max), count: 0), [])
        var nothing: [UInt8] = []
        try nothing.withUnsafeMutableBytes { try mem.read(at: gpa(0x9999_9999), into: $0) }
    }

    // MARK: Typed loads

    func testLittleEndianLoads() throws {
        var bytes = BufferMemory(base: 0x1000, count: 0x100)
        bytes.store(UInt32(0x1122_3344), at: 0x1010)
        bytes.store(UInt64(0x0102_0304_0506_0708), at: 0x10f8)
        bytes.store([0xaa, 0xbb], at: 0x1020)
        let map = try SlotMap(slots: [
            MemorySlot(guest: gpa(0x8000), size: 0x80, host: 0x1000, name: "lo"),
            MemorySlot(guest: gpa(0x8080), size: 0x80, host: 0x1080, name: "hi"),
        ])
        let mem = GuestMemory(map: map, reader: bytes)
        XCTAssertEqual(try mem.load(UInt32.self, at: gpa(0x8010)), 0x1122_3344)
        XCTAssertEqual(try mem.load(UInt16.self, at: gpa(0x8010)), 0x3344)
        XCTAssertEqual(try mem.load(UInt8.self, at: gpa(0x8013)), 0x11)
        XCTAssertEqual(try mem.load(UInt16.self, at: gpa(0x8020)), 0xbbaa)
        XCTAssertEqual(try mem.load(Int16.self, at: gpa(0x8020)), Int16(bitPattern: 0xbbaa))
        XCTAssertEqual(try mem.load(UInt64.self, at: gpa(0x80f8)), 0x0102_0304_0506_0708)
        // A load straddling the two slots (host-adjacent here).
        XCTAssertEqual(try mem.load(UInt32.self, at: gpa(0x807e)), 0)
        XCTAssertEqual(error { _ = try mem.load(UInt64.self, at: gpa(0x80fc)) },
                       .guestUnmapped(gpa(0x8100), reason: "past the end of guest memory (0x8100)"))
    }

    func testLoadAcrossNonContiguousBacking() throws {
        var bytes = BufferMemory(base: 0, count: 0x3000)
        bytes.store([0x11, 0x22], at: 0x0ffe)  // end of slot a
        bytes.store([0x33, 0x44], at: 0x2000)  // start of slot b
        let map = try SlotMap(slots: [
            MemorySlot(guest: gpa(0x0), size: 0x1000, host: 0x0, name: "a"),
            MemorySlot(guest: gpa(0x1000), size: 0x1000, host: 0x2000, name: "b"),
        ])
        let mem = GuestMemory(map: map, reader: bytes)
        XCTAssertEqual(try mem.load(UInt32.self, at: gpa(0xffe)), 0x4433_2211)
    }

    // MARK: Batches

    func testBatchRead() throws {
        let reader = RecordingReader(backing)
        let mem = GuestMemory(map: try makeMap(), reader: reader)
        var a = [UInt8](repeating: 0, count: 4)
        var b = [UInt8](repeating: 0, count: 16)
        var c = [UInt8](repeating: 0xee, count: 0)
        var d = [UInt8](repeating: 0, count: 1)
        try a.withUnsafeMutableBytes { pa in
            try b.withUnsafeMutableBytes { pb in
                try c.withUnsafeMutableBytes { pc in
                    try d.withUnsafeMutableBytes { pd in
                        try mem.read([(gpa(0x10), pa), (gpa(0xff8), pb), (gpa(0x2000), pc), (gpa(0x3fff), pd)])
                    }
                }
            }
        }
        XCTAssertEqual(a, expected(offset: 0x10, count: 4))
        XCTAssertEqual(b, expected(offset: 0xff8, count: 8) + expected(offset: 0x2000, count: 8))
        XCTAssertEqual(d, expected(offset: 0x1fff, count: 1))
        XCTAssertEqual(reader.batches.count, 1, "one batch for every range")
        XCTAssertEqual(reader.batches[0].map(\.address), [0x1_0010, 0x1_0ff8, 0x1_2000, 0x1_1fff])
        XCTAssertEqual(reader.batches[0].map(\.count), [4, 8, 8, 1])
    }

    func testBatchWithAnUnmappedRangeThrowsBeforeReading() throws {
        let reader = RecordingReader(backing)
        let mem = GuestMemory(map: try makeMap(), reader: reader)
        var a = [UInt8](repeating: 0, count: 4)
        var b = [UInt8](repeating: 0, count: 4)
        let failure = error {
            try a.withUnsafeMutableBytes { pa in
                try b.withUnsafeMutableBytes { pb in
                    try mem.read([(gpa(0x10), pa), (gpa(0x1ffe), pb)])
                }
            }
        }
        XCTAssertEqual(failure, .guestUnmapped(gpa(0x2000), reason: holeReason))
        XCTAssertEqual(reader.batches.count, 0)
        XCTAssertEqual(a, [0, 0, 0, 0])
    }

    func testEmptyBatch() throws {
        let reader = RecordingReader(backing)
        let mem = GuestMemory(map: try makeMap(), reader: reader)
        try mem.read([])
        XCTAssertLessThanOrEqual(reader.batches.count, 1)
        XCTAssertEqual(reader.batches.flatMap { $0 }.count, 0)
    }

    // MARK: Near 2^64

    func testTopOfTheGuestAddressSpace() throws {
        var bytes = BufferMemory(base: 0, count: 0x1000)
        bytes.store(UInt64(0xfeed_face_cafe_beef), at: 0xff8)
        let map = try SlotMap(slots: [MemorySlot(guest: gpa(.max - 0xfff), size: 0x1000, host: 0, name: "top")])
        let mem = GuestMemory(map: map, reader: bytes)
        XCTAssertEqual(try mem.load(UInt64.self, at: gpa(.max - 7)), 0xfeed_face_cafe_beef)
        XCTAssertEqual(try mem.load(UInt8.self, at: gpa(.max)), 0xfe)
        XCTAssertEqual(error { _ = try mem.load(UInt16.self, at: gpa(.max)) },
                       .guestUnmapped(gpa(.max), reason: "past the end of the address space"))
        XCTAssertEqual(error { _ = try mem.load(UInt64.self, at: gpa(.max - 3)) },
                       .guestUnmapped(gpa(.max), reason: "past the end of the address space"))
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(.max - 0x1000), count: 2) },
                       .guestUnmapped(gpa(.max - 0x1000), reason: "in no memory slot (a hole between RAM ranges)"))
    }

    func testBackingAddressNearTopDoesNotTrap() throws {
        // A slot whose backing range would run past 2^64: the reader reports it, nothing traps.
        let map = try SlotMap(slots: [MemorySlot(guest: gpa(0x1000), size: 0x1000, host: .max - 0xff, name: "odd")])
        let mem = GuestMemory(map: map, reader: backing)
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x1100), count: 4) }, .backingUnmapped(0))
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x1000), count: 0x200) }, .backingUnmapped(.max - 0xff))
        XCTAssertEqual(error { _ = try mem.bytes(at: gpa(0x10f8), count: 8) }, .backingUnmapped(.max - 7))
    }

    func testUnmappedNearTopWithOrdinaryMap() throws {
        let mem = try memory()
        XCTAssertEqual(error { _ = try mem.load(UInt64.self, at: gpa(.max - 3)) },
                       .guestUnmapped(gpa(.max - 3), reason: "past the end of guest memory (0x5000)"))
    }

    // MARK: BufferMemory

    func testBufferMemoryBounds() throws {
        let buffer = BufferMemory(base: 0x1000, bytes: [1, 2, 3, 4])
        XCTAssertEqual(try buffer.bytes(at: 0x1000, count: 4), [1, 2, 3, 4])
        XCTAssertEqual(try buffer.bytes(at: 0x1003, count: 1), [4])
        XCTAssertEqual(try buffer.bytes(at: 0x1004, count: 0), [])
        XCTAssertEqual(error { _ = try buffer.bytes(at: 0xfff, count: 1) }, .backingUnmapped(0xfff))
        XCTAssertEqual(error { _ = try buffer.bytes(at: 0x1003, count: 2) }, .backingUnmapped(0x1003))
        XCTAssertEqual(error { _ = try buffer.bytes(at: 0x1004, count: 1) }, .backingUnmapped(0x1004))
        XCTAssertEqual(error { _ = try buffer.bytes(at: .max, count: 1) }, .backingUnmapped(.max))
    }

    func testBufferMemoryStore() throws {
        var buffer = BufferMemory(base: 0x100, count: 8)
        XCTAssertEqual(buffer.bytes, [0, 0, 0, 0, 0, 0, 0, 0])
        buffer.store(UInt16(0xbeef), at: 0x101)
        buffer.store([9, 8], at: 0x106)
        XCTAssertEqual(buffer.bytes, [0, 0xef, 0xbe, 0, 0, 0, 9, 8])
    }

    func testMemoryErrorDescriptions() {
        XCTAssertEqual(MemoryError.guestUnmapped(gpa(0xa0000), reason: "in vga").description,
                       "guest-physical address 0xa0000 is not backed by RAM: in vga")
        XCTAssertEqual(MemoryError.backingUnmapped(0x7f00).description,
                       "nothing is mapped at 0x7f00 in the target (it may have changed its memory map; run again)")
        XCTAssertEqual(MemoryError.processGone(pid: 42).description, "process 42 has exited")
    }
}
