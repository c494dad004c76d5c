import VQCore

/// One row of the queue list as the last frame captured it.
struct QueueRow: Hashable, Sendable {
    var label: String
    var layout: RingLayout
    /// Who serves the queue: `qemu`, `vhost-user`, `vhost-kernel`, or `?` for a ring a scan found.
    var backend: String
    var size: UInt16
    /// `avail.idx` (split rings).
    var avail: UInt16?
    /// `used.idx` (split rings).
    var used: UInt16?
    /// The driver's next avail slot and the device's next used slot (packed rings).
    var packed: PackedPositions? = nil
    /// Chains in flight, from the indexes (split) or the last snapshot (packed, selected queue).
    var inFlight: Int?
    /// Completions per second.
    var rate: Double
    /// Completions in each of the last 30 seconds, oldest first.
    var activity: [Int]
    /// The queue's health, when known.
    var health: HealthBadge? = nil
    /// Whether `avail` / `used` differ from the frame before.
    var availChanged = false
    var usedChanged = false
    /// Whether the row has its rate, activity and health (only rows on or near the screen do).
    var detailed = true
}

/// A chain the device has returned, read back from the used ring: history. Its descriptors may
/// since have been reused, and its indirect table freed (Linux frees them on completion).
struct CompletedChain: Hashable, Sendable {
    /// Free-running used-ring position.
    var position: UInt16
    /// The used element's id (head descriptor index).
    var id: UInt32
    /// Bytes the device wrote.
    var length: UInt32
    /// The chain as the descriptors read now; `nil` when `id` is outside the table.
    var chain: Chain?
}

/// The parts of a ring a frame marks as changed.
enum RingField: Hashable, Sendable {
    case availFlags, availIndex, usedEvent, usedFlags, usedIndex, availEvent
    case driverPosition, devicePosition, driverEvent, deviceEvent
}

/// The selected queue as the last frame read it.
struct RingFrame: Sendable {
    /// The queue, by its index in the discovered list.
    var queue: Int
    /// Tells one read of the ring (with its history and payloads) from another: a still ring kept
    /// from the frame before keeps its revision, so the view built from it is kept too.
    var revision = 0
    /// Inspector seconds when its history and payloads were read.
    var readAt: Double = 0
    var snapshot: RingSnapshot?
    /// Why the snapshot could not be read.
    var error: String?
    /// Recently completed chains, newest first (split rings).
    var history: [CompletedChain] = []
    /// Decoded payloads of the chains shown.
    var payloads: [ChainID: DevicePayload] = [:]
    /// Which in-flight chain holds each descriptor of the queue's own table (split: descriptor index;
    /// packed: ring slot).
    var owners: [UInt16: ChainID] = [:]
    /// Descriptors (or ring slots) that differ from the frame before.
    var changedDescriptors: Set<Int> = []
    /// Available-ring slots whose entry differs from the frame before.
    var changedAvailSlots: Set<Int> = []
    /// Used-ring slots whose entry differs from the frame before.
    var changedUsedSlots: Set<Int> = []
    /// Header fields that differ from the frame before.
    var changedFields: Set<RingField> = []
    /// In-flight chains the frame before did not have.
    var newChains: Set<ChainID> = []

    /// The chain `id` names, and the length the device wrote for a completed one.
    func chain(_ id: ChainID) -> (chain: Chain, completedLength: UInt32?)? {
        switch (id, snapshot) {
        case (.live(let at), .split(let s)?):
            return s.inFlight.first { $0.position == at }?.chain.map { ($0, nil) }
        case (.live(let at), .packed(let p)?):
            return p.available.first { $0.slot == at }.map { ($0.chain, nil) }
        case (.history(let at), _):
            return history.first { $0.position == at }.flatMap { h in h.chain.map { ($0, h.length) } }
        case (_, nil):
            return nil
        }
    }

    /// Whether anything is marked changed.
    var hasChanges: Bool {
        !changedDescriptors.isEmpty || !changedAvailSlots.isEmpty || !changedUsedSlots.isEmpty || !changedFields.isEmpty || !newChains.isEmpty
    }

    /// Unmarks everything (a ring that did not move since the frame before), as a new revision.
    mutating func clearChanges(revision: Int) {
        changedDescriptors = []
        changedAvailSlots = []
        changedUsedSlots = []
        changedFields = []
        newChains = []
        self.revision = revision
    }

    /// Marks what changed since `previous` (a frame of the same queue).
    mutating func compare(with previous: RingFrame) {
        guard previous.queue == queue, let old = previous.snapshot, let new = snapshot else { return }
        newChains = Self.liveChains(new).subtracting(Self.liveChains(old))
        switch (old, new) {
        case (.split(let a), .split(let b)):
            changedDescriptors = Self.differences(a.descriptors, b.descriptors)
            changedAvailSlots = Self.differences(a.avail.ring, b.avail.ring)
            changedUsedSlots = Self.differences(a.used.ring, b.used.ring)
            var fields: Set<RingField> = []
            if a.avail.flags != b.avail.flags { fields.insert(.availFlags) }
            if a.avail.index != b.avail.index { fields.insert(.availIndex) }
            if a.avail.usedEvent != b.avail.usedEvent { fields.insert(.usedEvent) }
            if a.used.flags != b.used.flags { fields.insert(.usedFlags) }
            if a.used.index != b.used.index { fields.insert(.usedIndex) }
            if a.used.availEvent != b.used.availEvent { fields.insert(.availEvent) }
            changedFields = fields
        case (.packed(let a), .packed(let b)):
            changedDescriptors = Self.differences(a.descriptors, b.descriptors)
            var fields: Set<RingField> = []
            if a.driver != b.driver { fields.insert(.driverPosition) }
            if a.deviceUsed != b.deviceUsed || a.deviceAvail != b.deviceAvail { fields.insert(.devicePosition) }
            if a.driverEvent != b.driverEvent { fields.insert(.driverEvent) }
            if a.deviceEvent != b.deviceEvent { fields.insert(.deviceEvent) }
            changedFields = fields
        default:
            break
        }
    }

    /// The in-flight chains of a snapshot, by id.
    static func liveChains(_ snapshot: RingSnapshot) -> Set<ChainID> {
        switch snapshot {
        case .split(let s): return Set(s.inFlight.map { .live($0.position) })
        case .packed(let p): return Set(p.available.map { .live($0.slot) })
        }
    }

    /// Indexes where two arrays differ (all of the longer one's extra entries).
    static func differences<T: Equatable>(_ a: [T], _ b: [T]) -> Set<Int> {
        var result: Set<Int> = []
        for i in 0..<max(a.count, b.count) where i >= a.count || i >= b.count || a[i] != b[i] { result.insert(i) }
        return result
    }
}

/// An indirect table followed into, as the last frame read it.
struct TableFrame: Hashable, Sendable {
    var ref: IndirectTableRef
    var descriptors: [Descriptor] = []
    var error: String?
    var changed: Set<Int> = []
}

/// The hexdump pane's bytes, as the last frame read them.
struct HexFrame: Sendable {
    var target: BufferRef
    /// Bytes into the buffer of `bytes[0]`.
    var offset: Int
    var bytes: [UInt8] = []
    var error: String?
    /// Offsets into the buffer whose byte differs from the frame before.
    var changed: Set<Int> = []
}

/// Everything a frame shows that comes from the target: captured by ``Inspector/refresh(now:)``,
/// drawn by ``Inspector/render(into:now:)``. Frozen, it stays as it was.
struct FrameData: Sendable {
    var queues: [QueueRow] = []
    var ring: RingFrame?
    var table: TableFrame?
    var hex: HexFrame?
    /// The log shows entries with a sequence below this.
    var eventLimit = 0
    /// Inspector seconds when the frame was captured.
    var time: Double = 0

    /// Whether the views would show the same as from `other`: the same read of the same ring, the
    /// same indirect table (the queue rows, the hexdump's bytes and the times are not in views).
    func sameContent(as other: FrameData) -> Bool {
        ring?.queue == other.ring?.queue && ring?.revision == other.ring?.revision && (ring == nil) == (other.ring == nil)
            && table == other.table
    }
}

extension Virtqueue {
    /// Who serves the queue, for the queue list: ``VirtioBackend``'s name, `?` for a ring a scan found.
    var backendName: String { origin == .scan ? "?" : backend.rawValue }
}
