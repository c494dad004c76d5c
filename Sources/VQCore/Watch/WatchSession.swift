/// `vqscope watch` without the printing: follows queues by polling (``RingWatcher``) and judges
/// their health from what the polls see (``QueueHealthMonitor``), reading a whole ring only when a
/// queue may be stalling. Each ``poll()`` answers what happened since the last one, in the order it
/// can have happened, then the stalls that started or ended.
public final class WatchSession {
    /// What a poll saw happen on one queue.
    public enum Happening: Sendable, Hashable {
        /// A ring event: a chain made available or returned, or a ring lapped.
        case ring(RingEvent)
        /// A stall started or ended.
        case health(StallDetector.Change)
    }

    /// One happening with its queue and when it was seen.
    public struct Report: Sendable, Hashable {
        /// The queue, as given to the session.
        public var queue: Virtqueue
        /// Its position among the session's queues.
        public var position: Int
        public var happening: Happening
        /// What a ring event's chain carries, as `dump` decodes it, where the bytes read are still
        /// that event's own (``RingEventPayloads``); nil otherwise and for stalls.
        public var payload: DevicePayload?
        /// Monotonic seconds since the session started.
        public var elapsed: Double
        /// Wall-clock seconds since the epoch.
        public var wall: Double
    }

    public let target: Target
    public let list: QueueList
    /// The queues watched.
    public var queues: [Virtqueue] { judged.map(\.queue) }
    private let judged: [DiagnosedQueue]
    private let watcher: RingWatcher
    private var health: [QueueHealthMonitor]
    /// How each queue's chains are decoded (nil: not at all), and the decoder of events' payloads.
    private let roles: [PayloadRole?]
    private var payloads = RingEventPayloads()
    private let control: SessionControl
    /// Monotonic seconds at the start.
    public let start: Double

    /// Watches `queues` of `list`, each read through its memory in `memories` (the view its device
    /// reaches by DMA), judging a stall after `threshold` seconds without progress. Throws when a
    /// ring cannot be followed (its size).
    public init(target: Target, list: QueueList, queues: [Virtqueue], memories: [GuestMemory], threshold: Double,
                control: SessionControl) throws(TargetError) {
        self.target = target
        self.list = list
        self.control = control
        watcher = try RingWatcher(memories: memories, queues: queues.map(\.location), deviceStates: queues.map(\.deviceState))
        start = control.now()
        let devices = Dictionary(list.devices.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        judged = queues.map { q in
            DiagnosedQueue(queue: q, role: list.source == .qmp ? devices[q.path].map { QueueRole(device: $0, queue: q) }
                                                                  ?? QueueRole(deviceName: q.device, index: q.index)
                                                               : QueueRole(guess: q.device),
                           list: list)
        }
        roles = queues.map { list.payloadRole(of: $0) }
        health = judged.map { QueueHealthMonitor(queue: $0.queue, role: $0.role, threshold: threshold, at: 0) }
    }

    /// One poll: the ring events since the last poll (queue by queue, each queue's in the order they
    /// can have happened), then the stalls that started or ended. Throws when the rings cannot be
    /// read (the process ended, or its memory is gone).
    public func poll() throws(MemoryError) -> [Report] {
        let events = RingWatcher.inRingOrder(try watcher.poll(), queues: watcher.queues)
        let wall = control.wallNow()
        let elapsed = control.now() - start
        let current = watcher.current
        for (k, indexes) in current.enumerated() where k < health.count { health[k].update(indexes, at: elapsed) }
        var reports: [Report] = []
        reports.reserveCapacity(events.count)
        // What each event's chain carries (none where the ring moved on).
        let decoded = payloads.decode(events, watcher: watcher, roles: roles)
        for (event, payload) in zip(events, decoded) {
            reports.append(Report(queue: judged[event.queue].queue, position: event.queue, happening: .ring(event),
                                  payload: payload, elapsed: control.now() - start, wall: wall))
            health[event.queue].record(event.kind, at: elapsed)
        }
        // The devices' IOMMU mappings are walked again before the snapshots of this poll.
        if health.indices.contains(where: { health[$0].wantsSnapshot(at: elapsed) }) { target.refreshRings() }
        for k in health.indices where health[k].wantsSnapshot(at: elapsed) {
            guard let change = try judge(k, at: control.now() - start) else { continue }
            reports.append(Report(queue: judged[k].queue, position: k, happening: .health(change),
                                  payload: nil, elapsed: control.now() - start, wall: control.wallNow()))
        }
        return reports
    }

    /// Polls every `interval` seconds until `emit` says enough (it returns false), `seconds` have
    /// passed, or the control says stop. Throws as ``poll()`` does.
    public func run(interval: Double, seconds: Double?, emit: ([Report]) -> Bool) throws(MemoryError) {
        while !control.shouldStop() {
            guard emit(try poll()) else { return }
            if let seconds, control.now() - start >= seconds { return }
            control.sleep(interval)
        }
    }

    /// Reads a snapshot of queue `k` (with QEMU's view of it when there is QMP) for its health
    /// monitor; answers when a stall starts or ends. A ring that cannot be read is left for the
    /// next poll; only the process ending throws.
    private func judge(_ k: Int, at now: Double) throws(MemoryError) -> StallDetector.Change? {
        let q = judged[k]
        var state: DeviceQueueState?
        if let qmp = target.qmp, target.process != nil {
            state = try? QMPQueueStatus.deviceState(client: qmp, queue: q.queue)
        }
        let snapshot: RingSnapshot
        do throws(MemoryError) {
            snapshot = try q.snapshot(in: target, hints: state)
        } catch {
            if case .processGone = error { throw error }
            return nil
        }
        return health[k].observe(snapshot, deviceState: state, at: now)
    }
}
