import VQCore
import XCTest

/// The lost-kick, lost-interrupt and device-holding rules on recorded event sequences.
final class EventDiagnosisTests: XCTestCase {
    static let vq: ProbeEvent.Subject = .virtQueue(0x1000)
    static let ms: UInt64 = 1_000_000

    func event(_ kind: ProbeEvent.Kind, at ms: UInt64, head: UInt32? = nil, count: UInt32? = nil) -> ProbeEvent {
        ProbeEvent(nanoseconds: ms * Self.ms, kind: kind, thread: 1, subject: Self.vq, head: head, count: count, outCount: 1, inCount: 2)
    }

    func history(_ events: [ProbeEvent]) -> QueueEventHistory {
        var h = QueueEventHistory()
        for e in events { h.record(e) }
        return h
    }

    let quiet = EventDiagnosis.RingFacts(unfetched: 0, kickRequested: true)

    func testAHealthyExchangeFindsNothing() {
        let h = history([event(.kick, at: 0), event(.pop, at: 1, head: 3), event(.fill, at: 2, head: 3, count: 513),
                         event(.flush, at: 2, count: 1), event(.interrupt, at: 3)])
        XCTAssertEqual(EventDiagnosis.judge(h, facts: quiet, now: 5000 * Self.ms, observedSince: 0, threshold: 1), [])
    }

    func testDeviceHoldingNamesTheHeadsOldestFirst() {
        let h = history([event(.kick, at: 0), event(.pop, at: 1, head: 3), event(.pop, at: 2, head: 9), event(.pop, at: 3, head: 4),
                         event(.fill, at: 900, head: 4, count: 1), event(.flush, at: 900, count: 1), event(.interrupt, at: 901)])
        let findings = EventDiagnosis.judge(h, facts: quiet, now: 2001 * Self.ms, observedSince: 0, threshold: 1)
        guard case .deviceHolding(let chains) = findings.first else { return XCTFail("\(findings)") }
        XCTAssertEqual(chains.map(\.head), [3, 9])
        XCTAssertEqual(chains.map(\.since), [1 * Self.ms, 2 * Self.ms])
        XCTAssertEqual(chains[0].age, 2.0, accuracy: 1e-9)
        XCTAssertEqual(findings.count, 1)
        XCTAssertEqual(findings[0].code, "device_holding")
        XCTAssertEqual(findings[0].message, "QEMU popped 2 chains and has not completed them: the device holds head 3 (2000 ms), head 9 (1999 ms)")
        // Younger than the threshold: nothing yet.
        XCTAssertEqual(EventDiagnosis.judge(h, facts: quiet, now: 500 * Self.ms, observedSince: 0, threshold: 1), [])
    }

    func testLostKick() {
        // Buffers available and unfetched, the device asked for a kick, the last kick long ago.
        let h = history([event(.kick, at: 0), event(.pop, at: 1, head: 0), event(.fill, at: 2, head: 0, count: 1),
                         event(.flush, at: 2, count: 1), event(.interrupt, at: 2)])
        let facts = EventDiagnosis.RingFacts(unfetched: 2, kickRequested: true)
        XCTAssertEqual(EventDiagnosis.judge(h, facts: facts, now: 3002 * Self.ms, observedSince: 0, threshold: 1), [.lostKick(available: 2, waited: 3.001)], "since the last pop")
        // The device said not to kick (it is polling): no lost kick.
        XCTAssertEqual(EventDiagnosis.judge(h, facts: .init(unfetched: 2, kickRequested: false), now: 3002 * Self.ms, observedSince: 0, threshold: 1), [])
        // A kick came recently: the device is about to fetch them.
        var kicked = h
        kicked.record(event(.kick, at: 2900))
        XCTAssertEqual(EventDiagnosis.judge(kicked, facts: facts, now: 3002 * Self.ms, observedSince: 0, threshold: 1), [])
        // Not observed long enough to say.
        XCTAssertEqual(EventDiagnosis.judge(QueueEventHistory(), facts: facts, now: 3002 * Self.ms, observedSince: 2500 * Self.ms, threshold: 1), [])
        // Unknown without QMP: no claim.
        XCTAssertEqual(EventDiagnosis.judge(h, facts: .init(unfetched: nil, kickRequested: true), now: 3002 * Self.ms, observedSince: 0, threshold: 1), [])
        XCTAssertEqual(EventDiagnosis.Finding.lostKick(available: 2, waited: 3).message,
                       "lost kick: 2 buffers available for 3000 ms, the device asked to be kicked, and no kick came")
    }

    func testLostInterrupt() {
        // Completions flushed and no virtio_notify decision after them.
        let h = history([event(.kick, at: 0), event(.pop, at: 1, head: 0), event(.fill, at: 2, head: 0, count: 1),
                         event(.flush, at: 2, count: 1), event(.interrupt, at: 3),
                         event(.kick, at: 10), event(.pop, at: 11, head: 1), event(.fill, at: 12, head: 1, count: 1), event(.flush, at: 12, count: 1)])
        XCTAssertEqual(EventDiagnosis.judge(h, facts: quiet, now: 2012 * Self.ms, observedSince: 0, threshold: 1), [.lostInterrupt(completions: 1, waited: 2.0)])
        // Suppressed is a decision: not lost.
        var decided = h
        decided.record(event(.suppressed, at: 13))
        XCTAssertEqual(EventDiagnosis.judge(decided, facts: quiet, now: 2012 * Self.ms, observedSince: 0, threshold: 1), [])
        // The guest refuses interrupts: nothing was owed.
        XCTAssertEqual(EventDiagnosis.judge(h, facts: .init(unfetched: 0, kickRequested: true, interruptsRefused: true), now: 2012 * Self.ms, observedSince: 0, threshold: 1), [])
        XCTAssertEqual(h.counts[.flush], 2)
        XCTAssertTrue(h.held.isEmpty)
    }

    func testKickOwedWithEventIndex() {
        // The device stopped at 10 and asked to be kicked when the index passes 10.
        XCTAssertTrue(EventDiagnosis.kickOwed(availEvent: 10, availIndex: 12, lastAvail: 10))
        XCTAssertFalse(EventDiagnosis.kickOwed(availEvent: 20, availIndex: 12, lastAvail: 10), "asked for a kick only later")
        XCTAssertTrue(EventDiagnosis.kickOwed(availEvent: 0xffff, availIndex: 1, lastAvail: 0xfffe), "across the wrap")
        XCTAssertFalse(EventDiagnosis.kickOwed(availEvent: 5, availIndex: 10, lastAvail: 10), "nothing new")
    }
}

/// Block requests traced from QEMU's pops and fills.
final class ProbeBlockTracerTests: XCTestCase {
    func named(_ kind: ProbeEvent.Kind, at ns: UInt64, head: UInt32, queue: Int? = 0, segments: [ProbeEvent.Segment], out: UInt32 = 1, into: UInt32 = 2, count: UInt32? = nil) -> ProbeSession.Named {
        ProbeSession.Named(event: ProbeEvent(nanoseconds: ns, kind: kind, thread: 1, subject: .virtQueue(0x10), head: head, count: count,
                                             outCount: out, inCount: into, segments: segments), queue: queue)
    }

    /// A read of 8 sectors at sector 0x1234: header (type 0), 4096 data bytes, status.
    var readPop: [ProbeEvent.Segment] {
        [.init(address: 0x1000, length: 16, writable: false, bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0x34, 0x12, 0, 0, 0, 0, 0, 0]),
         .init(address: 0x2000, length: 4096, writable: true, bytes: []), .init(address: 0x3000, length: 1, writable: true, bytes: [])]
    }

    func testPopThenFillIsOneRequest() {
        var t = ProbeBlockTracer()
        let fill: [ProbeEvent.Segment] = [.init(address: 0x2000, length: 4096, writable: true, bytes: [1, 2]), .init(address: 0x3000, length: 1, writable: true, bytes: [0])]
        let events = [named(.pop, at: 1_000_000_000, head: 5, segments: readPop), named(.kick, at: 1_000_000_500, head: 0, segments: []),
                      named(.fill, at: 1_000_250_000, head: 5, segments: fill, count: 4097)]
        let done = t.requests(from: events, queues: [0], wall: { Double($0) / 1e9 })
        XCTAssertEqual(done.count, 1)
        XCTAssertEqual(done[0].id, 5)
        XCTAssertEqual(done[0].request.typeName, "read")
        XCTAssertEqual(done[0].request.sector, 0x1234)
        XCTAssertEqual(done[0].request.dataLength, 4096)
        XCTAssertEqual(done[0].request.status, 0)
        XCTAssertEqual(done[0].latency ?? 0, 0.00025, accuracy: 1e-9)
        XCTAssertTrue(t.pending(queueIndex: { $0 }).isEmpty)
    }

    func testUnmatchedAndUnwatchedAndPending() {
        var t = ProbeBlockTracer()
        // A fill of a head popped before the trace: untimed, not emitted.
        XCTAssertTrue(t.requests(from: [named(.fill, at: 5, head: 9, segments: [], count: 1)], queues: [0], wall: { Double($0) }).isEmpty)
        XCTAssertEqual(t.untimed, 1)
        // Another queue's events are not this trace's.
        XCTAssertTrue(t.requests(from: [named(.pop, at: 6, head: 1, queue: 3, segments: readPop)], queues: [0], wall: { Double($0) }).isEmpty)
        // A pop whose header was not copied: counted, not guessed.
        _ = t.requests(from: [named(.pop, at: 7, head: 2, segments: [.init(address: 1, length: 16, writable: false, bytes: [0, 0])])], queues: [0], wall: { Double($0) })
        XCTAssertEqual(t.unreadable, 1)
        // Popped, not completed: pending at the end.
        _ = t.requests(from: [named(.pop, at: 8, head: 3, segments: readPop)], queues: [0], wall: { Double($0) })
        XCTAssertEqual(t.pending(queueIndex: { $0 }).map(\.id), [3])
    }

    func testLongReadTakesItsLengthFromWhatTheDeviceWrote() {
        var t = ProbeBlockTracer()
        // 20 buffers: the probe describes 8 (the first seven and the last).
        let pop = named(.pop, at: 1, head: 0, segments: readPop, out: 1, into: 19)
        let fill = named(.fill, at: 2, head: 0, segments: [.init(address: 0x3000, length: 1, writable: true, bytes: [0])], into: 19, count: 18 * 4096 + 1)
        let done = t.requests(from: [pop, fill], queues: [0], wall: { Double($0) })
        XCTAssertEqual(done.first?.request.dataLength, 18 * 4096)
        XCTAssertEqual(done.first?.request.status, 0)
    }
}
