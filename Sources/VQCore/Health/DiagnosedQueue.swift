/// A queue whose health is judged: the queue, what it carries, and the list it came from.
public struct DiagnosedQueue: Sendable {
    public let queue: Virtqueue
    public let role: QueueRole
    /// The list the queue came from (what ``Target/ringMemory(for:in:)`` needs).
    public var list: QueueList?

    /// A queue to judge as `role`; `list` is where it came from (nil: read through guest memory).
    public init(queue: Virtqueue, role: QueueRole, list: QueueList? = nil) {
        self.queue = queue
        self.role = role
        self.list = list
    }

    /// Every queue of `list`, each with the role its device gives it (QMP) or the scan's guess.
    public static func all(in list: QueueList) -> [DiagnosedQueue] {
        list.devices.flatMap { device in
            device.queues.map { q in
                DiagnosedQueue(queue: q, role: list.source == .qmp ? QueueRole(device: device, queue: q) : QueueRole(guess: device.name),
                               list: list)
            }
        }
    }

    /// `gpa` or `iova`: what the queue's addresses are (`unknown` for a scan's ring on a machine
    /// whose IOMMU translates DMA).
    public func addressing(in target: Target) -> String {
        guard let list else { return "gpa" }
        if let ring = try? target.ringMemory(for: queue, in: list) { return ring.addressing.name }
        guard target.addressing(of: queue, in: list).isIOVA else { return "gpa" }
        return list.source == .scan ? "unknown" : "iova"
    }

    /// A snapshot of the ring read through the memory its device reaches it by (its view through
    /// the IOMMU when its addresses are IOVAs, walked again when the read names an IOVA the walk had
    /// not seen mapped). Throws the one line that says why IOVAs cannot be translated
    /// (`MemoryError.untranslated`): such a queue is unreadable, never broken.
    public func snapshot(in target: Target, hints: DeviceQueueState? = nil) throws(MemoryError) -> RingSnapshot {
        guard let list else { return try snapshot(memory: target.memory, hints: hints) }
        return try target.readRing(queue, in: list, unmapped: \.namesUnmappedIOVA) { ring throws(MemoryError) in
            try snapshot(memory: ring.memory, hints: hints)
        }
    }

    /// A consistent snapshot of the queue's ring; QEMU's indexes, when given, are a packed ring's
    /// position hints.
    public func snapshot(memory: GuestMemory, hints: DeviceQueueState? = nil) throws(MemoryError) -> RingSnapshot {
        try RingSnapshot.read(memory: memory, location: queue.location, hints: hints)
    }
}
