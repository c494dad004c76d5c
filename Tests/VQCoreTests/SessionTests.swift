@testable import VQCore
import XCTest

/// The watch, diagnose and capture engines over a split virtio-blk queue in memory that the test
/// drives as a guest would, with a clock the test moves and a stop condition of its own.
final class SessionTests: XCTestCase {
    private let ram = TapGuestRAM()
    private var ring: SplitTestRing!
    /// Monotonic seconds as the sessions see them; `sleep` moves it on.
    private var time = 100.0
    private var stopAfterSleeps: Int?
    private var sleeps = 0

    override func setUpWithError() throws {
        ring = SplitTestRing(ram: ram)
    }

    private var control: SessionControl {
        SessionControl(now: { [unowned self] in time }, wallNow: { [unowned self] in 1_700_000_000 + time },
                       sleep: { [unowned self] in time += $0; sleeps += 1 },
                       shouldStop: { [unowned self] in stopAfterSleeps.map { sleeps >= $0 } ?? false })
    }

    /// A target over the test's RAM (no process: a live process is what `live` says).
    private func target() throws -> Target {
        Target(process: nil, imagePath: nil, memory: try ram.memory(), source: .maps, notes: [], qmp: nil)
    }

    /// One virtio-blk device with the test's ring as queue 0, as QMP would list it.
    private func list() -> QueueList {
        let q = Virtqueue(device: "virtio-blk", path: "/machine/peripheral/blk0/virtio-backend", index: 0, location: ring.location)
        return QueueList(source: .qmp, devices: [VirtioDevice(name: "virtio-blk", path: q.path, deviceID: VirtioDeviceType.block.rawValue,
                                                              features: [.version1], queues: [q])])
    }

    /// A virtio-blk read of sector `sector` at `head`: header, 512 device-writable bytes, status.
    private func request(head: Int, base: UInt64, sector: UInt64) {
        ram.put(withUnsafeBytes(of: UInt32(0).littleEndian, Array.init) + [0, 0, 0, 0] + withUnsafeBytes(of: sector.littleEndian, Array.init), base)
        ram.put(UInt8(0xFF), base + 0x2000)
        ring.describe(head, base, 16, [.next], next: UInt16(head + 1))
        ring.describe(head + 1, base + 0x1000, 512, [.next, .write], next: UInt16(head + 2))
        ring.describe(head + 2, base + 0x2000, 1, [.write])
    }

    // MARK: - Watch

    func testWatchReportsEventsInRingOrderThenAStallAndItsRecovery() throws {
        let list = list()
        let session = try WatchSession(target: try target(), list: list, queues: list.queues, memories: [try ram.memory()],
                                       threshold: 0.5, control: control)
        XCTAssertEqual(try session.poll(), [], "the first poll records where the ring is")

        request(head: 0, base: 0x10000, sector: 7)
        ring.post(0)
        time += 0.01
        let posted = try session.poll()
        XCTAssertEqual(posted.map(\.happening), [.ring(RingEvent(queue: 0, kind: .available(head: 0), index: 0))])
        XCTAssertEqual(posted.first?.queue.label, "virtio-blk:0")
        XCTAssertEqual(posted.first?.elapsed ?? 0, 0.01, accuracy: 1e-9)
        XCTAssertEqual(posted.first?.wall ?? 0, 1_700_000_000 + time, accuracy: 1e-6)

        // Nothing moves for longer than the threshold: a stall, once.
        var stalls: [WatchSession.Report] = []
        for _ in 0..<20 {
            time += 0.1
            stalls += try session.poll().filter { if case .health(.stalled) = $0.happening { return true } else { return false } }
        }
        XCTAssertEqual(stalls.count, 1)
        XCTAssertEqual(stalls.first?.queue.label, "virtio-blk:0")

        // The device completes it: the used event, then the recovery.
        ram.put(UInt8(0), 0x12000)
        ring.use(0, length: 513)
        time += 0.1
        let after = try session.poll()
        XCTAssertEqual(after.first?.happening, .ring(RingEvent(queue: 0, kind: .used(id: 0, length: 513), index: 0)))
        XCTAssertTrue(after.contains { if case .health(.recovered) = $0.happening { return true } else { return false } }, "\(after)")
    }

    func testWatchRunStopsWhenEmitSaysEnoughOrTheControlSaysStop() throws {
        let list = list()
        let session = try WatchSession(target: try target(), list: list, queues: list.queues, memories: [try ram.memory()],
                                       threshold: 10, control: control)
        request(head: 0, base: 0x10000, sector: 1)
        var polls = 0
        try session.run(interval: 0.001, seconds: nil) { reports in
            polls += 1
            if polls == 2 { ring.post(0) }
            return reports.isEmpty
        }
        XCTAssertEqual(polls, 3, "the poll after the post saw it and emit said enough")

        stopAfterSleeps = sleeps + 4
        polls = 0
        try session.run(interval: 0.001, seconds: nil) { _ in polls += 1; return true }
        XCTAssertEqual(polls, 4, "stopped by the control after four sleeps")

        stopAfterSleeps = nil
        polls = 0
        try session.run(interval: 0.25, seconds: session.start + 1 - time + 1) { _ in polls += 1; return true }
        XCTAssertGreaterThan(polls, 1)
        XCTAssertLessThan(polls, 20)
    }

    // MARK: - Diagnose

    func testDiagnoseSamplesALiveTargetOverTheSpanAndJudgesAStall() throws {
        request(head: 0, base: 0x10000, sector: 3)
        ring.post(0)
        let list = list()
        let session = DiagnoseSession(target: try target(), queues: DiagnosedQueue.all(in: list), threshold: 0.5, live: true,
                                      control: control)
        try session.run(seconds: 1)
        // Every 100 ms over a second (11 or 12, as the sums of tenths round), then the final sample.
        XCTAssertTrue((12...13).contains(session.samples), "\(session.samples) samples")
        XCTAssertEqual(time, 101, accuracy: 1e-9, "slept exactly the span")
        XCTAssertEqual(session.outcomes.first?.diagnosis?.health, .stalled)
        XCTAssertEqual(session.outcomes.first?.addressing, "gpa")
        XCTAssertEqual(session.memories.count, 1)
    }

    func testDiagnoseOfAnInstantJudgesTheRingsShapeOnce() throws {
        request(head: 0, base: 0x10000, sector: 3)
        ring.post(0)
        let list = list()
        let session = DiagnoseSession(target: try target(), queues: DiagnosedQueue.all(in: list), threshold: 0.5, control: control)
        XCTAssertFalse(session.live)
        try session.run(seconds: 5)
        XCTAssertEqual(session.samples, 1)
        XCTAssertEqual(sleeps, 0)
        XCTAssertEqual(session.outcomes.first?.diagnosis?.health, .busy, "an image's requests in flight are busy")
    }

    func testDiagnoseStopsSamplingEarlyWhenTheControlSaysStop() throws {
        stopAfterSleeps = 2
        let list = list()
        let session = DiagnoseSession(target: try target(), queues: DiagnosedQueue.all(in: list), threshold: 0.5, live: true,
                                      control: control)
        try session.run(seconds: 60)
        XCTAssertEqual(session.samples, 4, "three samples, then the final one")
        XCTAssertEqual(session.outcomes.first?.diagnosis?.health, .idle)
    }

    // MARK: - Capture

    func testCaptureTracesABlockRequestFromSubmissionToCompletionThenStopsAtTheCount() throws {
        let list = list()
        let session = CaptureSession(target: try target(), list: list, kind: .block, devices: list.devices, snapLength: 65535)
        XCTAssertTrue(session.hasQueues)
        XCTAssertEqual(session.notCaptured, [])
        try session.start(at: 10)

        request(head: 0, base: 0x10000, sector: 42)
        request(head: 3, base: 0x20000, sector: 43)
        ring.post(0)
        ring.post(3)
        var records: [CaptureSession.Record] = []
        XCTAssertTrue(try session.poll(at: 11) { records.append($0); return true })
        XCTAssertTrue(records.isEmpty, "submitted, not completed")
        XCTAssertEqual(session.pendingRequests().map(\.request.request.sector), [42, 43])

        ram.put(UInt8(0), 0x12000)
        ring.use(0, length: 513)
        ram.put(UInt8(0), 0x22000)
        ring.use(3, length: 513)
        // The caller wants one: the second completion is not handed over.
        XCTAssertFalse(try session.poll(at: 12) { records.append($0); return false })
        XCTAssertEqual(records.count, 1)
        guard case .request(let device, let queue, let r)? = records.first else { return XCTFail("\(records)") }
        XCTAssertEqual(device, 0)
        XCTAssertEqual(queue.label, "virtio-blk:0")
        XCTAssertEqual(r.request.sector, 42)
        XCTAssertEqual(r.submitted, 11)
        XCTAssertEqual(r.completed, 12)
        XCTAssertEqual(session.missed, 0)
    }

    func testCaptureOfAQueueThatCannotBeFollowedSaysWhy() throws {
        let bad = Virtqueue(device: "virtio-blk", path: "/b", index: 0,
                            location: VirtqueueLocation(layout: .split, size: 12, descriptors: GuestPhysicalAddress(0x1000),
                                                        driverArea: GuestPhysicalAddress(0x1100), deviceArea: GuestPhysicalAddress(0x1200)))
        let device = VirtioDevice(name: "virtio-blk", path: "/b", deviceID: VirtioDeviceType.block.rawValue, features: [.version1], queues: [bad])
        let session = CaptureSession(target: try target(), list: QueueList(source: .qmp, devices: [device]), kind: .block,
                                     devices: [device], snapLength: 65535)
        XCTAssertFalse(session.hasQueues)
        XCTAssertEqual(session.notCaptured, ["virtio-blk:0 has size 12, not a power of two as a split ring's must be: not captured"])
        XCTAssertThrowsError(try session.start(at: 0))
    }
}
