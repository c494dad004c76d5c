import VQCore
import XCTest

final class VirtioBalloonPayloadTests: XCTestCase {
    static func stat(_ tag: UInt16, _ value: UInt64) -> [UInt8] { LE.u16(tag) + LE.u64(value) }

    func testQueuesByFeatures() {
        typealias Queue = VirtioBalloonMessage.Queue
        XCTAssertEqual(Queue(index: 0, features: []), .inflate)
        XCTAssertEqual(Queue(index: 1, features: []), .deflate)
        XCTAssertEqual(Queue(index: 2, features: []), .statistics, "features unknown: the full numbering")
        XCTAssertEqual(Queue(index: 4, features: []), .reporting)
        XCTAssertNil(Queue(index: 5, features: []))
        XCTAssertEqual(Queue(index: 2, features: [.balloonReporting]), .reporting, "no stats or hint queue before it")
        XCTAssertEqual(Queue(index: 2, features: [.balloonFreePageHint, .balloonReporting]), .freePageHints)
        XCTAssertEqual(Queue(index: 3, features: [.balloonStatistics, .balloonReporting]), .reporting)
        XCTAssertNil(Queue(index: 3, features: [.balloonStatistics]))
        XCTAssertNil(Queue(index: -1, features: []))
    }

    func testInflateAndDeflate() {
        let pfns = [0x12345, 0x12346, 0x12347, 0x12348, 0x12349].flatMap { LE.u32(UInt32($0)) }
        let inflate = VirtioBalloonMessage.PageList(pfns, length: 256 * 4, inflate: true)
        XCTAssertEqual(inflate.count, 256)
        XCTAssertEqual(inflate.firstFrames, [0x12345, 0x12346, 0x12347, 0x12348])
        XCTAssertEqual(inflate.firstAddresses.first, 0x1234_5000)
        XCTAssertEqual(VirtioBalloonMessage.pages(inflate).summary,
                       "balloon inflate 256 pages (1 MiB): 0x12345000 0x12346000 0x12347000 0x12348000…")
        let deflate = VirtioBalloonMessage.PageList(LE.u32(1), length: 4, inflate: false)
        XCTAssertEqual(VirtioBalloonMessage.pages(deflate).summary, "balloon deflate 1 page (4 KiB): 0x1000")
        let ragged = VirtioBalloonMessage.PageList([1, 0, 0], length: 7, inflate: true)
        XCTAssertEqual(ragged.count, 1)
        XCTAssertEqual(ragged.firstFrames, [], "three bytes are no PFN")
        XCTAssertEqual(ragged.defect, .malformed("7 bytes is not a whole number of 4-byte PFNs"))
    }

    func testStatistics() {
        let bytes = Self.stat(0, 0) + Self.stat(2, 17) + Self.stat(4, 112 << 20) + Self.stat(5, 1 << 30) + Self.stat(9, 3) + Self.stat(42, 5)
        let stats = VirtioBalloonMessage.Statistics(bytes, length: UInt64(bytes.count))
        XCTAssertEqual(stats.count, 6)
        XCTAssertEqual(stats.entries.map(\.tag), [0, 2, 4, 5, 9, 42])
        XCTAssertEqual(stats.entries[2].value, 112 << 20)
        XCTAssertEqual(stats.entries.map(\.name), ["swap-in", "major-faults", "free-memory", "total-memory", "hugetlb-failures", "tag 42"])
        XCTAssertEqual(VirtioBalloonMessage.statistics(stats).summary,
                       "balloon stats swap-in 0, major-faults 17, free-memory 112 MiB, total-memory 1 GiB, hugetlb-failures 3, tag 42 5")
        let names = (0..<10).map { VirtioBalloonMessage.Statistics.Entry(tag: UInt16($0), value: 0).name }
        XCTAssertEqual(names, ["swap-in", "swap-out", "major-faults", "minor-faults", "free-memory", "total-memory",
                               "available-memory", "disk-caches", "hugetlb-allocations", "hugetlb-failures"])
        let cut = VirtioBalloonMessage.Statistics(Array(bytes.prefix(15)), length: 15)
        XCTAssertEqual(cut.entries.count, 1)
        XCTAssertEqual(cut.defect, .malformed("15 bytes is not a whole number of 10-byte statistics"))
        let hostile = VirtioBalloonMessage.Statistics(bytes, length: UInt64(UInt32.max))
        XCTAssertEqual(hostile.entries.count, 6, "entries come from the bytes present, not the length")
        let wild = (0..<16).flatMap { Self.stat(UInt16(1000 + $0), .max) }
        let wideSummary = VirtioBalloonMessage.statistics(.init(wild, length: 161)).summary
        XCTAssertLessThan(wideSummary.count, 400)
        XCTAssertTrue(wideSummary.hasPrefix("balloon stats tag 1000 18446744073709551615, tag 1001 "), wideSummary)
        XCTAssertTrue(wideSummary.hasSuffix(" more) (malformed: 161 bytes is not a whole number of 10-byte statistics)"), wideSummary)
    }

    func testThroughTheDecoder() {
        let pages = PayloadTestGuest([.init(at: 0x100, LE.u32(0x100) + LE.u32(0x101), length: 8)])
        XCTAssertEqual(pages.decode("virtio-balloon", queue: 0)?.summary, "balloon inflate 2 pages (8 KiB): 0x100000 0x101000")
        XCTAssertEqual(pages.decode("virtio-balloon", queue: 1)?.summary, "balloon deflate 2 pages (8 KiB): 0x100000 0x101000")
        let stats = PayloadTestGuest([.init(at: 0x100, Self.stat(6, 4096) + Self.stat(7, 0))])
        XCTAssertEqual(stats.decode("virtio-balloon", queue: 2)?.summary, "balloon stats available-memory 4 KiB, disk-caches 0 B")
        let hint = PayloadTestGuest([.init(at: 0x100, LE.u32(5))])
        XCTAssertEqual(hint.decode("virtio-balloon", queue: 3)?.summary, "balloon free-page-hint command id 5")
        XCTAssertEqual(PayloadTestGuest([.init(at: 0x100, [5])]).decode("virtio-balloon", queue: 3),
                       .undecodable(family: "balloon", defect: .truncated(needed: 4, present: 1)))
        let report = PayloadTestGuest([.init(at: 0x1000, [], length: 0x1ff000, writable: true), .init(at: 0x8000, [], length: 0x1000, writable: true)])
        XCTAssertEqual(report.decode("virtio-balloon", queue: 4)?.summary, "balloon free-page-report 2 ranges 2 MiB")
        XCTAssertEqual(report.decode("virtio-balloon", queue: 2, features: [.version1, .balloonReporting])?.summary,
                       "balloon free-page-report 2 ranges 2 MiB")
        XCTAssertNil(report.decode("virtio-balloon", queue: 7))
    }
}
