/// A virtqueue's health with the evidence behind it: what is in flight and for how long, how far
/// the device got, what QEMU says it fetched, whether the next notifications fire, and the
/// reasons in words. Made by ``QueueHealthTracker``.
public struct QueueDiagnosis: Sendable, Hashable {
    /// The oldest chain in flight.
    public struct OldestChain: Sendable, Hashable {
        /// Its head: a descriptor index (split) or the ring slot of its first descriptor (packed).
        public var head: UInt16
        /// Its buffer ID (packed rings).
        public var bufferID: UInt16?
        /// Seconds since it was first seen in flight (a lower bound: it may be older); `nil` for a
        /// judgement from one instant.
        public var age: Double?
        /// Whether it is a request (else a buffer posted for the device to fill).
        public var isRequest: Bool

        /// An oldest chain from its parts.
        public init(head: UInt16, bufferID: UInt16? = nil, age: Double?, isRequest: Bool) {
            self.head = head
            self.bufferID = bufferID
            self.age = age
            self.isRequest = isRequest
        }
    }

    /// The judgement.
    public var health: QueueHealth
    /// What the queue carries.
    public var role: QueueRole
    /// Chains in flight: `avail.idx - used.idx` (split; may exceed the size when the indexes
    /// jumped) or the available chains (packed).
    public var inFlight: Int
    /// Of those, requests the device must act on (the rest are buffers posted for it to fill).
    public var requests: Int
    /// The oldest request in flight, else the oldest chain in flight.
    public var oldest: OldestChain?
    /// Seconds the device's used index (packed: used position) has not moved; a lower bound, since
    /// the first observation; `nil` for one instant.
    public var usedUnmovedFor: Double?
    /// Buffers (packed: ring slots) the device used within the last threshold.
    public var recentlyUsed: Int
    /// How many of the chains in flight QEMU says it has fetched (`last_avail_idx`); `nil` without
    /// QEMU's view, or when it and the ring disagree (the queue moved between the two reads).
    public var deviceFetched: Int?
    /// QEMU's count of buffers it fetched and has not returned (`inuse`), when known.
    public var deviceInUse: Int?
    /// Whether the next kick and the next interrupt will fire.
    public var notifications: NotificationState
    /// The problems that make the queue broken (seen in two reads in a row on a live ring).
    public var problems: [RingProblem]
    /// Why, in words, the most important first.
    public var reasons: [String]
    /// Seconds the tracker has watched the queue (0 for one instant).
    public var observedFor: Double
    /// The driver's progress: `avail.idx` (split) or its position `index | wrap << 15` (packed).
    public var driverProgress: UInt16
    /// The device's progress: `used.idx` (split) or its used position `index | wrap << 15` (packed).
    public var deviceProgress: UInt16

    /// A diagnosis from its parts.
    public init(health: QueueHealth, role: QueueRole, inFlight: Int, requests: Int, oldest: OldestChain?,
                usedUnmovedFor: Double?, recentlyUsed: Int, deviceFetched: Int?, deviceInUse: Int?,
                notifications: NotificationState, problems: [RingProblem], reasons: [String], observedFor: Double,
                driverProgress: UInt16, deviceProgress: UInt16) {
        self.health = health
        self.role = role
        self.inFlight = inFlight
        self.requests = requests
        self.oldest = oldest
        self.usedUnmovedFor = usedUnmovedFor
        self.recentlyUsed = recentlyUsed
        self.deviceFetched = deviceFetched
        self.deviceInUse = deviceInUse
        self.notifications = notifications
        self.problems = problems
        self.reasons = reasons
        self.observedFor = observedFor
        self.driverProgress = driverProgress
        self.deviceProgress = deviceProgress
    }

    /// The reasons as one line.
    public var summary: String { reasons.joined(separator: "; ") }
}
