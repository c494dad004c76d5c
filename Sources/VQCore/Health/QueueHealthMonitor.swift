/// Keeps one queue's health up to date at little cost: a ``QueueHealthTracker`` fed with the
/// snapshots that are read anyway (the inspector's selected queue, every frame) and, for the other
/// queues, a snapshot only when the cheap polls say one is worth it.
///
/// The polls give a split ring's indexes (``update(_:at:)``) and a packed ring's events
/// (``record(_:at:)``). ``wantsSnapshot(at:)`` asks for one only when the queue has something
/// pending and the device has not moved for half the threshold (then about every quarter threshold
/// while it could still turn into a stall, every threshold once stalled or broken, never again
/// while it is only waiting and nothing moves), once when a troubled queue moves (to see it
/// recover), and for packed rings, which have no indexes to look at, at most every
/// ``packedInterval``. Most polls and frames read nothing extra.
///
/// A split ring's first snapshot starts the tracker from what the polls saw (since when the used
/// index has had its value, and since when the chains in flight have at least been available), so
/// that a queue first looked at half a threshold into a stall is not judged as freshly seen.
public struct QueueHealthMonitor: Sendable {
    /// Seconds between two snapshots of a packed ring taken for its health alone.
    public static let packedInterval = 0.3

    /// The queue.
    public let queue: Virtqueue
    /// The tracker, with what it has seen.
    public private(set) var tracker: QueueHealthTracker
    /// The latest diagnosis, if a snapshot was observed.
    public private(set) var diagnosis: QueueDiagnosis?
    /// When the latest snapshot was observed.
    public private(set) var lastObserved: Double?
    /// Whether the queue is in a stall, and since when.
    public private(set) var stalls = StallDetector()
    /// When the monitor started.
    public let started: Double
    /// `avail.idx` and `used.idx` at the last poll (split rings).
    public private(set) var availIndex: UInt16?
    public private(set) var usedIndex: UInt16?
    /// When the driver's side (`avail.idx`, available events) and the device's (`used.idx`, used
    /// events) were last seen to move; the start until they do.
    public private(set) var driverMovedAt: Double
    public private(set) var deviceMovedAt: Double
    /// Whether either side moved since the latest snapshot was observed.
    public private(set) var movedSinceObserved = false
    /// Whether the driver made something available since the latest snapshot was observed.
    private var driverMovedSinceObserved = false

    /// A monitor of `queue` judged as `role` with a stall `threshold` (seconds), started at `now`.
    public init(queue: Virtqueue, role: QueueRole, threshold: Double = QueueHealthTracker.defaultThreshold, at now: Double) {
        self.queue = queue
        tracker = QueueHealthTracker(queue: queue, threshold: threshold, role: role)
        started = now
        driverMovedAt = now
        deviceMovedAt = now
    }

    /// The stall threshold, in seconds.
    public var threshold: Double { tracker.threshold }

    /// Slots in flight by a packed ring's followed positions.
    public private(set) var packedInFlight: Int?

    /// Chains in flight by the polled indexes (split rings), or slots by the followed positions (packed).
    public var inFlight: Int? {
        guard let availIndex, let usedIndex else { return packedInFlight }
        return Int(availIndex &- usedIndex)
    }

    /// Records the slots in flight between a packed ring's followed positions (its movements come
    /// as events, ``record(_:at:)``).
    public mutating func updatePacked(inFlight: Int) {
        packedInFlight = inFlight
    }

    /// Whether judgements are still provisional: the queue has been watched less than the threshold
    /// (ages are lower bounds; a stall cannot show yet).
    public func isProvisional(at now: Double) -> Bool { now - started < threshold }

    /// Records the indexes one poll read (split rings; a packed ring's are `nil` and ignored).
    public mutating func update(_ indexes: RingIndexes, at now: Double) {
        if let a = indexes.available, a != availIndex {
            if availIndex != nil { driverMoved(at: now) }
            availIndex = a
        }
        if let u = indexes.used, u != usedIndex {
            if usedIndex != nil { deviceMoved(at: now) }
            usedIndex = u
        }
    }

    /// Records a ring event of this queue.
    public mutating func record(_ kind: RingEvent.Kind, at now: Double) {
        switch kind {
        case .available: driverMoved(at: now)
        case .used: deviceMoved(at: now)
        case .lapped(let ring, _): ring == .used ? deviceMoved(at: now) : driverMoved(at: now)
        }
    }

    private mutating func driverMoved(at now: Double) {
        driverMovedAt = now
        driverMovedSinceObserved = true
        movedSinceObserved = true
    }

    private mutating func deviceMoved(at now: Double) {
        deviceMovedAt = now
        movedSinceObserved = true
    }

    /// Whether a snapshot of the queue is worth reading at `now` for its health alone.
    public func wantsSnapshot(at now: Double) -> Bool {
        let packed = queue.location.layout == .packed
        if packed, let last = lastObserved, now - last < Self.packedInterval { return false }
        if movedSinceObserved, diagnosis?.health.isTrouble == true { return true }
        let pending = packed ? (diagnosis.map { $0.inFlight > 0 } ?? true) || driverMovedSinceObserved : (inFlight ?? 0) > 0
        guard pending, now - deviceMovedAt >= threshold / 2 else { return false }
        guard let d = diagnosis, let last = lastObserved, !movedSinceObserved else { return true }
        switch d.health {
        case .waiting, .idle, .starved: return false
        case .busy: return now - last >= threshold / 4
        case .stalled, .broken: return now - last >= threshold
        }
    }

    /// Judges a snapshot of the queue read at `now`; answers when it starts or ends a stall.
    public mutating func observe(_ snapshot: RingSnapshot, deviceState: DeviceQueueState? = nil,
                                 at now: Double) -> StallDetector.Change? {
        if tracker.memory.firstObserved == nil, case .split = snapshot, let availIndex, let usedIndex {
            tracker = QueueHealthTracker(queue: queue, threshold: tracker.threshold, role: tracker.role,
                                         memory: seed(snapshot, avail: availIndex, used: usedIndex))
        }
        let d = tracker.observe(snapshot, deviceState: deviceState, at: now)
        diagnosis = d
        lastObserved = now
        movedSinceObserved = false
        driverMovedSinceObserved = false
        return stalls.update(d, at: now)
    }

    /// A split ring's tracker memory from the polls: the used index unmoved since the device last
    /// moved, and every chain the polled `avail.idx` covers available since the driver last moved.
    private func seed(_ snapshot: RingSnapshot, avail: UInt16, used: UInt16) -> QueueHealthTracker.Memory {
        var chains: [RingSnapshot.InFlightChain.Identity: Double] = [:]
        for chain in snapshot.inFlight {
            let behind = Int(avail &- chain.identity.position)
            if behind >= 1, behind <= Int(snapshot.size) { chains[chain.identity] = driverMovedAt }
        }
        return QueueHealthTracker.Memory(firstObserved: started, deviceProgress: used, deviceProgressSince: deviceMovedAt,
                                         chainsSince: chains)
    }
}
