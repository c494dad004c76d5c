import VQCore

/// What the inspector's header says about its target.
public struct TargetSummary: Hashable, Sendable {
    /// `pid 1234 (vm1, kvm, 256 MiB)`, `image dump.elf`, `demo (simulated guest, pid 99)`.
    public var title: String
    /// Where the slot map came from (`qmp`, `kvm`, `maps`, `elf`, `raw`).
    public var slotSource: String
    /// Guest RAM in bytes (the slot map's RAM total).
    public var ramBytes: UInt64
    /// Whether the VM can be paused and continued (a live target with QMP).
    public var canPause: Bool
    /// Whether the target is a live process (an image never changes).
    public var isLive: Bool
    /// How QEMU's QMP is reached: `socket`, `libvirt` (its monitor pass-through) or `none`.
    public var qmpRoute: String
    /// The machine's IOMMU when it has one, and what that means for its devices' rings:
    /// `intel-iommu: rings at IOVAs, read through its tables`, or why they cannot be read.
    public var iommu: String?

    public init(title: String, slotSource: String, ramBytes: UInt64, canPause: Bool, isLive: Bool, qmpRoute: String = "socket",
                iommu: String? = nil) {
        self.qmpRoute = qmpRoute
        self.iommu = iommu
        self.title = title
        self.slotSource = slotSource
        self.ramBytes = ramBytes
        self.canPause = canPause
        self.isLive = isLive
    }
}

/// Whether the VM runs, as QMP's `query-status` says.
public enum VMRunState: Hashable, Sendable {
    case running
    case paused
}

/// What one cheap poll found: each queue's indexes (split rings; `nil` fields for packed rings) and
/// the ring events since the previous poll. `RingEvent.queue` indexes the list
/// ``InspectorSource/discoverQueues()`` returned.
public struct PollResult: Hashable, Sendable {
    public var indexes: [RingIndexes]
    public var events: [RingEvent]
    /// Each packed queue's positions as the poll followed them (`nil` for split queues and packed
    /// ones not followed yet; may be empty when the source follows none).
    public var packed: [PackedPositions?]
    /// What each event's chain carries, aligned with `events` (``RingEventPayloads``: nil where its
    /// bytes may no longer be its own); empty when the source decodes none.
    public var payloads: [DevicePayload?]
    /// What QEMU itself did since the last poll (the eBPF probes), by queue index; empty when
    /// events are polled.
    public var qemuEvents: [ProbeSession.Named]

    public init(indexes: [RingIndexes], events: [RingEvent], packed: [PackedPositions?] = [], payloads: [DevicePayload?] = [],
                qemuEvents: [ProbeSession.Named] = []) {
        self.indexes = indexes
        self.events = events
        self.packed = packed
        self.payloads = payloads
        self.qemuEvents = qemuEvents
    }
}

/// Where the driver and the device are in a packed ring: the driver's next avail slot and the
/// device's next used slot, each with its wrap counter.
public struct PackedPositions: Hashable, Sendable {
    /// The slot the driver makes available next.
    public var driver: PackedRing.Position
    /// The slot the device writes its next used descriptor to.
    public var deviceUsed: PackedRing.Position

    /// Positions from their parts.
    public init(driver: PackedRing.Position, deviceUsed: PackedRing.Position) {
        self.driver = driver
        self.deviceUsed = deviceUsed
    }

    /// Slots from the device's used position to the driver's, `size` when a whole lap apart.
    public func inFlightSlots(size: UInt16) -> Int {
        let n = Int(size), d = Int(driver.index), u = Int(deviceUsed.index)
        guard n > 0 else { return 0 }
        if d == u { return driver.wrap == deviceUsed.wrap ? 0 : n }
        return (d - u + n) % n
    }

    /// `12w1`: a position as the queue list shows it.
    public static func text(_ p: PackedRing.Position) -> String { "\(p.index)w\(p.wrap ? 1 : 0)" }
}

/// Everything the inspector reads, behind one small protocol: a live QEMU process (or the demo's
/// simulated guest) in the program, hand-built rings in memory in tests. Never writes to the guest;
/// `pause` and `resume` are only called on the user's explicit key.
public protocol InspectorSource: AnyObject {
    var summary: TargetSummary { get }
    var slotMap: SlotMap { get }
    /// The queues to show (through QMP, or found by a RAM scan). Called at start and when the user
    /// asks to look again; after it, `poll` follows these queues.
    func discoverQueues() throws(TargetError) -> [Virtqueue]
    /// The indexes of every discovered queue and the events since the last poll; cheap enough to
    /// call a hundred times a second.
    func poll() throws(MemoryError) -> PollResult
    /// ``poll()``, reading every queue where the source could leave some unread this time (while
    /// stepping, the watched queue's every move counts).
    func poll(everyQueue: Bool) throws(MemoryError) -> PollResult
    /// A consistent snapshot of one queue (bounded retries; marked torn otherwise).
    func snapshot(_ queue: Virtqueue) throws(MemoryError) -> RingSnapshot
    /// Guest memory, through the slot map.
    func read(at gpa: GuestPhysicalAddress, count: Int) throws(MemoryError) -> [UInt8]
    /// Memory at one of `queue`'s addresses (its buffers, its indirect tables): through the
    /// device's IOMMU view when its addresses are IOVAs.
    func read(at address: GuestPhysicalAddress, count: Int, queue: Virtqueue) throws(MemoryError) -> [UInt8]
    /// The map `queue`'s addresses are checked against (the device's IOVA view behind an IOMMU).
    func slotMap(for queue: Virtqueue) -> SlotMap
    /// The memory `queue`'s addresses are read through: guest memory, or the device's view through
    /// its IOMMU when its addresses are IOVAs; throws when they cannot be translated. What VQCore's
    /// decoders read chains and tables through in one batch.
    func memory(for queue: Virtqueue) throws(MemoryError) -> GuestMemory
    /// Decodes what a chain carries for its device (blk request, net header and frame...).
    func payload(of chain: Chain, queue: Virtqueue, completedLength: UInt32?) -> DevicePayload?
    /// The VM's run state, or `nil` when it cannot be known (no QMP, an image).
    func runState() -> VMRunState?
    /// Pauses the VM (QMP `stop`).
    func pause() throws(TargetError)
    /// Continues the VM (QMP `cont`).
    func resume() throws(TargetError)
    /// Whether the target still exists (a process may exit under the inspector).
    func isAlive() -> Bool
    /// Where QEMU's events come from (`bpf (...)`, `poll (why)`), nil when not said.
    var eventsMode: String? { get }
}

extension InspectorSource {
    public var eventsMode: String? { nil }

    /// Sources that read every queue at each poll.
    public func poll(everyQueue: Bool) throws(MemoryError) -> PollResult { try poll() }
}

extension InspectorSource {
    /// Sources whose queues all use guest-physical addresses read every queue through guest memory.
    public func read(at address: GuestPhysicalAddress, count: Int, queue: Virtqueue) throws(MemoryError) -> [UInt8] {
        try read(at: address, count: count)
    }

    /// The slot map, for sources whose queues all use guest-physical addresses.
    public func slotMap(for queue: Virtqueue) -> SlotMap { slotMap }
}
