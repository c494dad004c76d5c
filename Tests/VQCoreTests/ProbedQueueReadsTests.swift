import VQCore
import XCTest

/// ``ProbedQueueReads``: which queues a poll reads while QEMU's probes report what QEMU does.
final class ProbedQueueReadsTests: XCTestCase {
    private typealias Event = ProbedQueueReads.Event

    func testQuietQueuesQEMUServesAreReadOncePerInterval() {
        // Queue 0 and 1: QEMU's; queue 2: a vhost back-end's.
        var reads = ProbedQueueReads(served: [true, true, false])
        XCTAssertNil(reads.queuesToRead(now: 10, events: [], dropped: 0), "the first poll reads everything")
        XCTAssertEqual(reads.queuesToRead(now: 10.1, events: [], dropped: 0), [false, false, true])
        XCTAssertEqual(reads.queuesToRead(now: 10.2, events: [Event(queue: 1)], dropped: 0), [false, true, true])
        XCTAssertEqual(reads.queuesToRead(now: 10.3, events: [], dropped: 0), [false, true, true],
                       "a queue with events is read in the next poll too: its probe fires before QEMU writes the ring")
        XCTAssertEqual(reads.queuesToRead(now: 10.4, events: [], dropped: 0), [false, false, true])
        XCTAssertNil(reads.queuesToRead(now: 10 + ProbedQueueReads.quietInterval, events: [], dropped: 0), "once an interval: everything")
        XCTAssertEqual(reads.queuesToRead(now: 11.1, events: [], dropped: 0), [false, false, true])
    }

    func testAnUnnamedEventOrDroppedEventsReadEverything() {
        var reads = ProbedQueueReads(served: [true, true])
        _ = reads.queuesToRead(now: 0, events: [], dropped: 0)
        XCTAssertNil(reads.queuesToRead(now: 0.1, events: [Event(queue: nil)], dropped: 0))
        XCTAssertEqual(reads.queuesToRead(now: 0.2, events: [], dropped: 0), [false, false])
        XCTAssertNil(reads.queuesToRead(now: 0.3, events: [], dropped: 3), "the probes lost events")
        XCTAssertEqual(reads.queuesToRead(now: 0.4, events: [], dropped: 3), [false, false])
    }

    func testCompletionsTheProbesDidNotReportEndTheSkipping() {
        var reads = ProbedQueueReads(served: [true, true])
        _ = reads.queuesToRead(now: 0, events: [], dropped: 0)
        reads.record(completions: [0: 50])  // the first poll: completions from before the probes, not counted
        _ = reads.queuesToRead(now: 0.1, events: [Event(queue: 0, flushed: 2)], dropped: 0)
        reads.record(completions: [0: 1])
        // The second completion's flush was reported before its ring write: seen by the next poll.
        _ = reads.queuesToRead(now: 0.2, events: [], dropped: 0)
        reads.record(completions: [0: 1])
        _ = reads.queuesToRead(now: 0.3, events: [Event(queue: 0, flushed: 1)], dropped: 0)
        reads.record(completions: [0: 2])  // one of them flushed where the probes did not see it
        XCTAssertTrue(reads.trusted)
        XCTAssertNil(reads.queuesToRead(now: 0.4, events: [], dropped: 0))
        XCTAssertFalse(reads.trusted)
        XCTAssertNil(reads.queuesToRead(now: 0.5, events: [], dropped: 0), "from then on every poll reads everything")
    }

    func testAFlushRacingTheRingReadIsNotAMismatch() {
        var reads = ProbedQueueReads(served: [true])
        _ = reads.queuesToRead(now: 0, events: [], dropped: 0)
        reads.record(completions: [:])
        // Read because it is due (the interval), the ring shows a completion whose flush the probes
        // report only at the next poll.
        XCTAssertNil(reads.queuesToRead(now: 1.5, events: [], dropped: 0))
        reads.record(completions: [0: 1])
        _ = reads.queuesToRead(now: 1.6, events: [Event(queue: 0, flushed: 1)], dropped: 0)
        XCTAssertTrue(reads.trusted)
    }
}
