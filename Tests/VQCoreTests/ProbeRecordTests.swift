import VQCore
import XCTest

/// Builds probe records as the BPF program writes them (Sources/CVQProbes/bpf/vqprobes.h).
struct ProbeRecordBuilder {
    var bytes = [UInt8](repeating: 0, count: ProbeRecordDecoder.headerSize + ProbeRecordDecoder.maxSegments * ProbeRecordDecoder.segmentSize)
    var data: [UInt8] = []

    init(kind: UInt32, ns: UInt64, tid: UInt32 = 7, object: UInt64, argument: UInt64 = 0, head: UInt32 = 0, len: UInt32 = 0, out: UInt32 = 0, into: UInt32 = 0) {
        put64(0, ns); put32(8, kind); put32(12, tid); put64(16, object); put64(24, argument)
        put32(32, head); put32(36, len); put32(40, out); put32(44, into)
    }

    mutating func put32(_ o: Int, _ v: UInt32) { for k in 0..<4 { bytes[o + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
    mutating func put64(_ o: Int, _ v: UInt64) { for k in 0..<8 { bytes[o + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }

    mutating func segment(address: UInt64, length: UInt32, writable: Bool, copied: [UInt8]) {
        let n = Int(bytes[48])
        let base = ProbeRecordDecoder.headerSize + n * ProbeRecordDecoder.segmentSize
        put64(base, address); put32(base + 8, length); put32(base + 12, UInt32(copied.count)); put32(base + 16, writable ? 1 : 0)
        put32(48, UInt32(n + 1))
        data += copied
        put32(52, UInt32(data.count))
    }

    var record: [UInt8] { bytes + data }
}

final class ProbeRecordTests: XCTestCase {
    func testPopWithSegmentsAndBytes() throws {
        var b = ProbeRecordBuilder(kind: 3, ns: 123_456_789, object: 0x5555_0000_1000, head: 17, out: 1, into: 2)
        let header: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0]
        b.segment(address: 0x2bd5510, length: 16, writable: false, copied: header)
        b.segment(address: 0x2e07000, length: 4096, writable: true, copied: [])
        b.segment(address: 0x2bd5520, length: 1, writable: true, copied: [])
        let e = try ProbeRecordDecoder.decode(b.record)
        XCTAssertEqual(e.kind, .pop)
        XCTAssertEqual(e.nanoseconds, 123_456_789)
        XCTAssertEqual(e.subject, .virtQueue(0x5555_0000_1000))
        XCTAssertEqual(e.head, 17)
        XCTAssertEqual(e.outCount, 1)
        XCTAssertEqual(e.inCount, 2)
        XCTAssertEqual(e.segments.map(\.address), [0x2bd5510, 0x2e07000, 0x2bd5520])
        XCTAssertEqual(e.segments[0].bytes, header)
        XCTAssertEqual(e.segments[1].writable, true)
        XCTAssertEqual(e.segments[1].bytes, [])
    }

    func testEveryKind() throws {
        XCTAssertEqual(try ProbeRecordDecoder.decode(ProbeRecordBuilder(kind: 1, ns: 1, object: 0xd0, argument: 2).record).subject, .device(0xd0, queue: 2))
        XCTAssertEqual(try ProbeRecordDecoder.decode(ProbeRecordBuilder(kind: 2, ns: 1, object: 0xe0).record).subject, .hostNotifier(0xe0))
        var fill = ProbeRecordBuilder(kind: 4, ns: 1, object: 0xa0, argument: 3, head: 5, len: 4097, into: 2)
        fill.segment(address: 0x1000, length: 4096, writable: true, copied: [1, 2, 3])
        fill.segment(address: 0x2000, length: 1, writable: true, copied: [0])
        let f = try ProbeRecordDecoder.decode(fill.record)
        XCTAssertEqual(f.kind, .fill)
        XCTAssertEqual(f.head, 5)
        XCTAssertEqual(f.count, 4097)
        XCTAssertEqual(f.position, 3)
        XCTAssertEqual(f.segments.last?.bytes, [0])
        let flush = try ProbeRecordDecoder.decode(ProbeRecordBuilder(kind: 5, ns: 1, object: 0xa0, argument: 4).record)
        XCTAssertEqual(flush.kind, .flush)
        XCTAssertEqual(flush.count, 4)
        let irq = try ProbeRecordDecoder.decode(ProbeRecordBuilder(kind: 6, ns: 1, object: 0xa0, argument: 1).record)
        XCTAssertEqual(irq.kind, .interrupt)
        XCTAssertTrue(irq.throughIrqfd)
        let quiet = try ProbeRecordDecoder.decode(ProbeRecordBuilder(kind: 7, ns: 1, object: 0xa0).record)
        XCTAssertEqual(quiet.kind, .suppressed)
        XCTAssertFalse(quiet.throughIrqfd)
    }

    func testBadRecordsAreRefused() {
        XCTAssertThrowsError(try ProbeRecordDecoder.decode([UInt8](repeating: 0, count: 40)))
        XCTAssertThrowsError(try ProbeRecordDecoder.decode(ProbeRecordBuilder(kind: 9, ns: 1, object: 0).record))
        var b = ProbeRecordBuilder(kind: 3, ns: 1, object: 0xa0)
        b.segment(address: 0, length: 4, writable: false, copied: [1, 2, 3, 4])
        XCTAssertThrowsError(try ProbeRecordDecoder.decode(Array(b.record.dropLast())), "data shorter than it says")
        var more = b
        more.put32(ProbeRecordDecoder.headerSize + 8, 2)  // copied 4 of a 2-byte segment
        XCTAssertThrowsError(try ProbeRecordDecoder.decode(more.record))
        var many = b
        many.put32(48, 9)
        XCTAssertThrowsError(try ProbeRecordDecoder.decode(many.record))
    }
}
