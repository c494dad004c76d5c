import VQCore

/// The inspector's source for a real target: a live QEMU process (or the demo's simulated guest)
/// or a memory image, opened by VQCore's ``Target``. Queues come from ``QueueList`` (QMP, or a RAM
/// scan when there is no QMP), named and decoded as the commands do; indexes and events from one
/// ``RingWatcher`` over every queue.
public final class LiveSource: InspectorSource {
    public let target: Target
    public let summary: TargetSummary
    /// One queue of the list and what the source keeps for it.
    private struct Queue {
        var queue: Virtqueue
        /// How its payloads are decoded (``QueueList/payloadRole(of:)``).
        let role: PayloadRole?
        /// Its position among the watcher's queues; `nil` when it is not followed (its size is
        /// wrong, or its IOVAs cannot be translated).
        var watcherIndex: Int?
        /// When QMP was last asked for its packed-ring positions.
        var hintTime: Double?
    }

    private var queues: [Queue] = []
    /// Each queue's position in ``queues``, by its identity.
    private var positions: [QueueID: Int] = [:]
    /// The list the queues came from (for each device's memory, ``Target/ringMemory(for:in:)``).
    private var list = QueueList(source: .qmp, devices: [])
    private var watcher: RingWatcher?
    /// The payloads of the watcher's events, chains seen in flight kept until they are used.
    private var payloads = RingEventPayloads()
    /// Queues the watcher follows, by their position in `queues`.
    private var watched: [Int] = []
    /// Each queue's indexes at the last poll (unknown for the queues not followed).
    private var indexes: [RingIndexes] = []
    private let clock: () -> Double
    /// Starts QEMU's events for the discovered queues (the eBPF probes): a session, and the line
    /// that says which mode is in use and why.
    public typealias ProbeStarter = ([Virtqueue]) -> (session: ProbeSession?, mode: String)
    private let probeStarter: ProbeStarter?
    private var probes: ProbeSession?
    /// While the probes run: which queues a poll reads (by the watcher's positions).
    private var probedReads: ProbedQueueReads?
    /// The probes' count of dropped events, as last asked (a system call): asked again after a
    /// poll whose events could have followed a full ring buffer.
    private var probesDropped: UInt64 = 0
    public private(set) var eventsMode: String?

    /// Wraps an opened target; `title` replaces the target's own title in the header.
    public init(target: Target, title: String? = nil, clock: @escaping () -> Double = MonotonicClock.now, probes: ProbeStarter? = nil) {
        self.probeStarter = probes
        self.target = target
        self.clock = clock
        // Then each liveness question is one `poll` (reading /proc/PID/stat walks every thread of
        // the process); where pidfds are refused, the process is asked as before.
        processDescriptor = target.process.flatMap { try? Sys.openProcess($0.pid).get() }
        let ram = target.memory.map.slots.filter { $0.kind == .ram }.reduce(UInt64(0)) { $0 + $1.size }
        summary = TargetSummary(title: title ?? target.title, slotSource: target.source.rawValue, ramBytes: ram,
                                canPause: target.process != nil && target.qmp != nil, isLive: target.process != nil,
                                qmpRoute: target.qmp == nil ? "none" : (target.qmp?.libvirtDomain != nil ? "libvirt" : "socket"),
                                iommu: target.iommu.map { "behind \($0.kind.qemuName)" })
    }

    /// The memory `queue`'s addresses are read through: its device's view through the IOMMU when
    /// they are IOVAs; throws when they cannot be translated (nothing is then read).
    public func memory(for queue: Virtqueue) throws(MemoryError) -> GuestMemory {
        do throws(IOMMUTranslationError) { return try target.ringMemory(for: queue, in: list).memory } catch {
            throw .untranslated(error)
        }
    }

    public var slotMap: SlotMap { target.memory.map }

    public func discoverQueues() throws(TargetError) -> [Virtqueue] {
        let list: QueueList
        do { list = try QueueList.load(target) } catch {
            switch error {
            case .target(let error): throw error
            case .scan(.processGone(let pid)): throw .noSuchProcess(pid: pid)
            case .scan(.permissionDenied(let pid)): throw .permissionDenied(pid: pid, what: "the memory")
            case .scan: throw .noSlotMap(error.description)
            }
        }
        self.list = list
        queues = list.queues.map { Queue(queue: $0, role: list.payloadRole(of: $0)) }
        positions = Dictionary(queues.enumerated().map { ($1.queue.id, $0) }, uniquingKeysWith: { first, _ in first })
        // A queue whose IOVAs cannot be translated is shown, with why, but not followed.
        var memories: [GuestMemory] = []
        watched = []
        indexes = []
        for i in queues.indices {
            guard queues[i].queue.location.sizeProblem == nil, let memory = try? memory(for: queues[i].queue) else { continue }
            memories.append(memory)
            queues[i].watcherIndex = watched.count
            watched.append(i)
        }
        watcher = try RingWatcher(memories: memories.isEmpty ? [target.memory] : memories, queues: watched.map { queues[$0].queue.location },
                                  deviceStates: watched.map { queues[$0].queue.deviceState })
        // The new watcher's queues start unknown to the payloads' bookkeeping too.
        payloads = RingEventPayloads()
        _ = try? watcher?.poll()
        if let probeStarter {
            probes = nil  // the old session's probes are detached first
            let started = probeStarter(queues.map(\.queue))
            probes = started.session
            eventsMode = started.mode
        }
        probesDropped = probes?.source.dropped ?? 0
        // Scan-found rings have no known back-end: read every poll, as vhost ones.
        probedReads = probes == nil ? nil
            : ProbedQueueReads(served: watched.map { queues[$0].queue.backend == .qemu && queues[$0].queue.origin != .scan })
        return queues.map(\.queue)
    }

    public func poll() throws(MemoryError) -> PollResult { try poll(everyQueue: false) }

    /// QEMU's events are polled first: with them, the rings read are those of queues QEMU did
    /// something to, those it does not serve, and every queue once a second (``ProbedQueueReads``);
    /// `everyQueue` reads them all.
    public func poll(everyQueue: Bool) throws(MemoryError) -> PollResult {
        guard let watcher else { return PollResult(indexes: Array(repeating: RingIndexes(available: nil, used: nil), count: queues.count), events: []) }
        // QEMU's own events; a session that fails ends, and the inspector polls on, saying why.
        var qemu: [ProbeSession.Named] = []
        if let session = probes {
            do throws(ProbeSourceError) { qemu = try session.poll() } catch {
                probes = nil
                probedReads = nil
                eventsMode = "poll (the eBPF probes stopped: \(error))"
            }
        }
        var only: [Bool]?
        if let session = probes, var reads = probedReads {
            // The queues read in place: a copy of each event's queue would be a copy of its Virtqueue.
            let events = queues.withUnsafeBufferPointer { queues in
                qemu.compactMap { named -> ProbedQueueReads.Event? in
                    guard let q = named.queue else { return ProbedQueueReads.Event(queue: nil) }
                    // A queue the watcher does not follow is not read anyway.
                    guard queues.indices.contains(q), let k = queues[q].watcherIndex else { return nil }
                    return ProbedQueueReads.Event(queue: k, flushed: named.event.kind == .flush ? Int(named.event.count ?? 0) : 0)
                }
            }
            if qemu.count >= ProbeRecordDecoder.fewestRecordsFillingRing / 4 { probesDropped = session.source.dropped }
            only = reads.queuesToRead(now: clock(), events: events, dropped: probesDropped)
            if everyQueue { only = nil }
            probedReads = reads
        }
        let events = try watcher.poll(only: only)
        if probedReads != nil {
            var completions: [Int: Int] = [:]
            for event in events { if case .used = event.kind { completions[event.queue, default: 0] += 1 } }
            probedReads?.record(completions: completions)
        }
        // The devices' IOMMU mappings are walked again for the snapshots after this poll.
        target.refreshRings()
        // The last poll's array, written again in place (a new one each poll costs a look-up of
        // its generic type in Swift's runtime, more than filling it).
        if indexes.count != queues.count { indexes = Array(repeating: RingIndexes(available: nil, used: nil), count: queues.count) }
        for (k, i) in watched.enumerated() { indexes[i] = watcher.indexes(of: k) }
        var packed = [PackedPositions?](repeating: nil, count: queues.count)
        for (k, i) in watched.enumerated() {
            packed[i] = watcher.packedPositions(of: k).map { PackedPositions(driver: $0.driver, deviceUsed: $0.deviceUsed) }
        }
        // In the order they can have happened, which the payloads' bookkeeping needs.
        let ordered = RingWatcher.inRingOrder(events, queues: watcher.queues)
        let decoded = payloads.decode(ordered, watcher: watcher, roles: watched.map { queues[$0].role }, read: only)
        return PollResult(indexes: indexes, events: ordered.map { event in
            var event = event
            event.queue = watched[event.queue]
            return event
        }, packed: packed, payloads: decoded, qemuEvents: qemu)
    }

    public func snapshot(_ queue: Virtqueue) throws(MemoryError) -> RingSnapshot {
        let state = queue.location.layout == .packed ? freshDeviceState(queue) : nil
        // QMP's answer is up to a second old: the ring read now wins where they disagree.
        return try target.readRing(queue, in: list, unmapped: \.namesUnmappedIOVA) { ring throws(MemoryError) in
            try RingSnapshot.read(memory: ring.memory, location: queue.location, hints: state)
        }
    }

    /// A packed ring's positions live in the device: ask QMP for them, at most once a second per
    /// queue (an image or a target without QMP has none, and the decoder infers them).
    private func freshDeviceState(_ queue: Virtqueue) -> DeviceQueueState? {
        guard let qmp = target.qmp, let i = positions[queue.id] else { return nil }
        let now = clock()
        if let last = queues[i].hintTime, now - last < 1 { return queues[i].queue.deviceState }
        queues[i].hintTime = now
        if let state = try? QMPQueueStatus.deviceState(client: qmp, queue: queue) {
            queues[i].queue.deviceState = state
        }
        return queues[i].queue.deviceState
    }

    public func read(at gpa: GuestPhysicalAddress, count: Int) throws(MemoryError) -> [UInt8] {
        try target.memory.bytes(at: gpa, count: count)
    }

    public func payload(of chain: Chain, queue: Virtqueue, completedLength: UInt32?) -> DevicePayload? {
        guard let i = positions[queue.id], let role = queues[i].role else { return nil }
        guard let memory = try? memory(for: queue) else { return nil }
        return role.decode(chain, memory: memory, completedLength: completedLength)
    }

    public func read(at address: GuestPhysicalAddress, count: Int, queue: Virtqueue) throws(MemoryError) -> [UInt8] {
        try memory(for: queue).bytes(at: address, count: count)
    }

    public func slotMap(for queue: Virtqueue) -> SlotMap { (try? memory(for: queue))?.map ?? slotMap }

    public func runState() -> VMRunState? {
        guard target.process != nil, let qmp = target.qmp, let status = try? qmp.execute("query-status"),
              case .bool(let running)? = status["running"] else { return nil }
        return running ? .running : .paused
    }

    public func pause() throws(TargetError) {
        try command(.stop)
    }

    public func resume() throws(TargetError) {
        try command(.cont)
    }

    private func command(_ request: QMPClient.UserRequest) throws(TargetError) {
        guard target.process != nil, let qmp = target.qmp else {
            throw .noQMP("pausing the VM needs QMP (\(target.notes.first ?? "no QMP connection"))")
        }
        do { try qmp.userRequested(request) } catch { throw .noQMP("\(request.rawValue): \(error)") }
    }

    /// Whether the process lives, asked of the kernel at most every ``aliveInterval`` (a read that
    /// finds it gone says so at once, through `processGone`).
    public func isAlive() -> Bool {
        guard let process = target.process else { return true }
        let now = clock()
        if let last = aliveCheck, now - last.time < Self.aliveInterval { return last.alive }
        let alive = processDescriptor.map { !Sys.processEnded($0) } ?? process.isAlive
        aliveCheck = (now, alive)
        return alive
    }

    /// Seconds between two questions to the kernel of whether the process lives.
    static let aliveInterval = 0.5
    private var aliveCheck: (time: Double, alive: Bool)?
    /// The target's pidfd (``Sys/openProcess(_:)``); nil without a process or where it was refused.
    private let processDescriptor: Int32?

    deinit {
        if let fd = processDescriptor { Sys.close(fd) }
    }
}
