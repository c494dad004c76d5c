import VQCore
@testable import VQTUI
import XCTest

/// The poll rate follows the rings' pace: faster when a ring moves a good part of itself between
/// two polls, slower when nothing moves, fastest while stepping.
final class PollIntervalTests: InspectorTestCase {
    func events(_ count: Int, queue: Int = 0) -> [RingEvent] {
        (0..<count).map { RingEvent(queue: queue, kind: .used(id: 0, length: 0), index: UInt16($0)) }
    }

    func testQuietRingsSlowPollingDownToItsFloor() {
        for _ in 0..<40 { inspector.adaptPollInterval(to: []) }
        XCTAssertEqual(inspector.pollInterval, Inspector.slowestPollInterval)
    }

    func testABusyRingSpeedsPollingUp() throws {
        let size = Int(try XCTUnwrap(inspector.queues.first).location.size)
        for _ in 0..<40 { inspector.adaptPollInterval(to: []) }
        // More than an eighth of the ring in one poll: twice as often, down to the fastest.
        inspector.adaptPollInterval(to: events(size / 4))
        XCTAssertEqual(inspector.pollInterval, Inspector.slowestPollInterval / 2, accuracy: 1e-9)
        for _ in 0..<10 { inspector.adaptPollInterval(to: events(size / 4)) }
        XCTAssertEqual(inspector.pollInterval, Inspector.fastestPollInterval)
        // A steady moderate pace (a tenth to an eighth of the ring a poll) keeps the interval where it is.
        let kept = inspector.pollInterval
        inspector.adaptPollInterval(to: events(max(1, size / 8)))
        XCTAssertEqual(inspector.pollInterval, kept)
    }

    /// A ring that moves by less than a tenth of itself a poll lets polling slow down (a
    /// quarter slower still sees it move by less than an eighth), so a small ring that moves now
    /// and then does not hold the fastest rate.
    func testARingMovingLessThanATenthLetsPollingSlowDown() throws {
        // The busy ring's pace is measured against its size: a 256-entry ring, so that a
        // thirty-second of it is 8 entries.
        XCTAssertFalse(inspector.queues.isEmpty)
        inspector.queues[0].location.size = 256
        let size = 256
        for _ in 0..<10 { inspector.adaptPollInterval(to: events(size / 4)) }
        XCTAssertEqual(inspector.pollInterval, Inspector.fastestPollInterval)
        inspector.adaptPollInterval(to: events(size / 32))
        XCTAssertEqual(inspector.pollInterval, Inspector.fastestPollInterval * 1.25, accuracy: 1e-9)
        for _ in 0..<40 { inspector.adaptPollInterval(to: events(size / 32)) }
        XCTAssertEqual(inspector.pollInterval, Inspector.slowestPollInterval)
    }

    func testSteppingPollsAtTheFastestRate() {
        for _ in 0..<40 { inspector.adaptPollInterval(to: []) }
        source.state = .running
        press(.character("s"))
        XCTAssertEqual(inspector.pollInterval, Inspector.fastestPollInterval)
    }
}

/// One batch of more than an eighth of a ring (Linux's virtio-net refilling 33 receive buffers of
/// 256 at once) does not speed polling up; the same share two polls in a row, or a quarter in one, does.
final class PollIntervalBatchTests: InspectorTestCase {
    func moves(_ count: Int) -> [RingEvent] {
        (0..<count).map { RingEvent(queue: 0, kind: .available(head: UInt16($0)), index: UInt16($0)) }
    }

    func testABatchAloneKeepsTheIntervalAndAPaceHalvesIt() throws {
        XCTAssertFalse(inspector.queues.isEmpty)
        inspector.queues[0].location.size = 256
        for _ in 0..<40 { inspector.adaptPollInterval(to: []) }
        let slowest = Inspector.slowestPollInterval
        XCTAssertEqual(inspector.pollInterval, slowest)
        inspector.adaptPollInterval(to: moves(33))
        XCTAssertEqual(inspector.pollInterval, slowest, "one batch of 33 of 256")
        inspector.adaptPollInterval(to: moves(3))
        inspector.adaptPollInterval(to: moves(33))
        XCTAssertEqual(inspector.pollInterval, slowest, "batches with a quiet poll between them")
        inspector.adaptPollInterval(to: moves(33))
        XCTAssertEqual(inspector.pollInterval, slowest / 2, accuracy: 1e-9, "more than an eighth two polls in a row")
        for _ in 0..<40 { inspector.adaptPollInterval(to: []) }
        inspector.adaptPollInterval(to: moves(64))
        XCTAssertEqual(inspector.pollInterval, slowest / 2, accuracy: 1e-9, "a quarter in one poll")
    }
}
