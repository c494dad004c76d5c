/// `vqscope diagnose` without the printing: samples every queue's ring over a span and judges each
/// one (``QueueHealthTracker``), or judges one instant of an image.
///
/// A live target is sampled every ``sampleInterval`` until the span ends (or ``SessionControl``
/// says stop), then once more with QEMU's view of each queue (its indexes, and whether it marked
/// the device broken). A ring that cannot be read makes its queue unreadable, with why; only the
/// process ending throws.
public final class DiagnoseSession {
    /// One queue's outcome: a diagnosis, or why its ring could not be read.
    public struct Outcome: Sendable {
        public var diagnosis: QueueDiagnosis?
        /// Why the ring could not be read.
        public var error: String?
        /// `gpa` or `iova` (``DiagnosedQueue/addressing(in:)``).
        public var addressing = "gpa"

        /// An outcome not yet known.
        public init() {}
    }

    /// Seconds between samples.
    public static let sampleInterval = 0.1

    public let target: Target
    public let queues: [DiagnosedQueue]
    /// Each queue's outcome, by position in ``queues``.
    public private(set) var outcomes: [Outcome]
    /// Samples taken (1 for an instant).
    public private(set) var samples = 0
    /// Whether the target changes (a process), or is one instant (an image).
    public let live: Bool
    private var trackers: [QueueHealthTracker]
    /// Called before each sample (QEMU's events drained into their histories, `diagnose --events`).
    public var beforeSample: (() -> Void)?
    /// Each queue's ring facts at the final sample, for the event rules (``EventDiagnosis``).
    public private(set) var finalFacts: [EventDiagnosis.RingFacts?]
    private let control: SessionControl

    /// A diagnosis of `queues` of `target` with a stall `threshold` in seconds. `remembered` gives
    /// what an earlier run saw of a queue (its chains' first sightings), when it is kept.
    public init(target: Target, queues: [DiagnosedQueue], threshold: Double, live: Bool? = nil,
                remembered: (Virtqueue) -> QueueHealthTracker.Memory? = { _ in nil }, control: SessionControl) {
        self.target = target
        self.queues = queues
        self.live = live ?? (target.process != nil)
        self.control = control
        outcomes = queues.map { q in
            var o = Outcome()
            o.addressing = q.addressing(in: target)
            return o
        }
        finalFacts = Array(repeating: nil, count: queues.count)
        trackers = queues.map { q in
            QueueHealthTracker(queue: q.queue, threshold: threshold, role: q.role, memory: remembered(q.queue) ?? .init())
        }
    }

    /// What each readable queue's tracker has seen, to be remembered for the next run.
    public var memories: [(queue: Virtqueue, memory: QueueHealthTracker.Memory)] {
        queues.indices.filter { outcomes[$0].error == nil }.map { (queues[$0].queue, trackers[$0].memory) }
    }

    /// Samples for `seconds` (a live target), or judges the one instant (an image). Throws only
    /// when the process ended.
    public func run(seconds: Double) throws(MemoryError) {
        guard live else {
            judgeInstant()
            return
        }
        let begin = control.now()
        while true {
            try sample(final: false)
            let elapsed = control.now() - begin
            if elapsed >= seconds || control.shouldStop() { break }
            control.sleep(min(Self.sampleInterval, seconds - elapsed))
        }
        try sample(final: true)
    }

    /// One instant: the ring's shape only.
    func judgeInstant() {
        for (i, q) in queues.enumerated() {
            do throws(MemoryError) {
                let snapshot = try q.snapshot(in: target)
                outcomes[i].diagnosis = QueueHealthTracker.judgeInstant(snapshot, queue: q.queue, role: q.role)
            } catch {
                outcomes[i].error = "\(error)"
            }
        }
        samples = 1
    }

    /// One sample of every queue still readable; the final one asks QEMU for its view first.
    public func sample(final: Bool) throws(MemoryError) {
        beforeSample?()
        var broken: [String: Bool] = [:]
        // The devices' IOMMU mappings, walked again once a sample.
        target.refreshRings()
        for (i, q) in queues.enumerated() where outcomes[i].error == nil {
            var state: DeviceQueueState?
            var deviceBroken = false
            if final, let qmp = target.qmp {
                state = try? QMPQueueStatus.deviceState(client: qmp, queue: q.queue)
                if broken[q.queue.path] == nil { broken[q.queue.path] = (try? QMPQueueStatus.isBroken(client: qmp, path: q.queue.path)) ?? false }
                deviceBroken = broken[q.queue.path] ?? false
            }
            do throws(MemoryError) {
                let snapshot = try q.snapshot(in: target, hints: state)
                outcomes[i].diagnosis = trackers[i].observe(snapshot, deviceState: state, deviceBroken: deviceBroken, at: control.now())
                if final { finalFacts[i] = EventDiagnosis.RingFacts(snapshot: snapshot, deviceState: state) }
            } catch {
                if case .processGone = error { throw error }
                outcomes[i].error = "\(error)"
            }
        }
        samples += 1
    }
}
