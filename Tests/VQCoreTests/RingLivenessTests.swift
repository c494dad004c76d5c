import VQCore
import XCTest

private func gpa(_ value: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(value) }

/// A scanned ring of `n` entries at `desc`: in Linux's layout, or with the used ring on the next
/// 4 KiB boundary (legacy, SeaBIOS).
private func ring(_ desc: UInt64, n: UInt16 = 256, linux: Bool, avail: UInt16, used: UInt16, guess: String? = "virtio-blk") -> ScannedRing {
    let a = desc + 16 * UInt64(n)
    let u = linux ? (a + 6 + 2 * UInt64(n) + 63) & ~63 : (a + 6 + 2 * UInt64(n) + 4095) & ~4095
    let location = VirtqueueLocation(layout: .split, size: n, descriptors: gpa(desc), driverArea: gpa(a), deviceArea: gpa(u))
    return ScannedRing(location: location, availIndex: avail, usedIndex: used, deviceGuess: guess, score: 15, reasons: [])
}

final class RingLivenessTests: XCTestCase {
    /// 256 MiB of RAM at 0, as a pc guest's low RAM.
    private let map = try! SlotMap(slots: [MemorySlot(guest: gpa(0), size: 256 << 20, host: 0x7f00_0000_0000, name: "pc.ram")])

    func testEachRuleInOrder() {
        let rings = [
            ring(0x100000, linux: false, avail: 5, used: 5),  // moves: live though in no Linux layout
            ring(0xffdd000, linux: false, avail: 7, used: 7),  // SeaBIOS's, in the reserved top
            ring(0x200000, linux: false, avail: 9, used: 9),  // replaced by the Linux ring below
            ring(0x300000, linux: true, avail: 100, used: 100),  // idle, Linux's layout
            ring(0x400000, linux: false, avail: 12, used: 10, guess: "virtio-net-rx"),  // buffers in flight
            ring(0x500000, n: 64, linux: false, avail: 3, used: 3, guess: nil),  // idle, unmoved, no known driver
            ring(0x600000, n: 64, linux: false, avail: 3, used: 3, guess: "virtio-rng"),  // not read again
        ]
        let later: [RingIndexes?] = [RingIndexes(available: 6, used: 6), RingIndexes(available: 7, used: 7),
                                     RingIndexes(available: 9, used: 9), RingIndexes(available: 100, used: 100),
                                     RingIndexes(available: 12, used: 10), RingIndexes(available: 3, used: 3), nil]
        let judged = RingLiveness.judge(rings, later: later, window: 0.15, map: map)
        XCTAssertEqual(judged.map(\.stale), [false, true, true, false, false, true, nil])
        let reasons = judged.map { $0.liveness ?? "" }
        XCTAssertEqual(reasons[0], "indexes moved in 150 ms (avail 5→6, used 5→6)")
        XCTAssertTrue(reasons[1].hasPrefix("in the firmware's reserved top of RAM (0xffc0000-0xfffffff)"), reasons[1])
        XCTAssertTrue(reasons[2].hasPrefix("replaced"), reasons[2])
        XCTAssertEqual(reasons[3], "idle, laid out as the running Linux driver does")
        XCTAssertEqual(reasons[4], "2 buffers in flight")
        XCTAssertEqual(reasons[5], "idle and unmoved in 150 ms, in no layout of the running driver")
        XCTAssertEqual(reasons[6], "idle, its indexes could not be read again")

        let ranked = RingLiveness.rankLiveFirst(judged).map(\.location.descriptors.rawValue)
        XCTAssertEqual(ranked, [0x100000, 0x300000, 0x400000, 0x600000, 0xffdd000, 0x200000, 0x500000])
    }

    /// A moving ring in the firmware's area is live: motion outranks place.
    func testMotionOutranksTheFirmwareArea() {
        let judged = RingLiveness.judge([ring(0xfffb000, linux: false, avail: 1, used: 1)],
                                        later: [RingIndexes(available: 2, used: 1)], window: 0.1, map: map)
        XCTAssertEqual(judged.first?.stale, false)
    }

    /// Stale rings get names of their own; live rings keep theirs and their indexes.
    func testStaleRingsAreNamedApartInTheQueueList() {
        var stale = ring(0x100000, linux: false, avail: 7, used: 7)
        stale.stale = true
        var live = ring(0x300000, linux: true, avail: 9, used: 9)
        live.stale = false
        let list = QueueList.scanned([stale, live], note: nil)
        XCTAssertEqual(list.queues.map(\.label), ["virtio-blk:0", "stale-virtio-blk:0"])
        XCTAssertEqual(list.queues.first?.location.descriptors.rawValue, 0x300000)
        var unknown = ring(0x500000, linux: false, avail: 1, used: 1, guess: nil)
        unknown.stale = true
        XCTAssertEqual(unknown.deviceName, "stale-unknown")
    }
}
