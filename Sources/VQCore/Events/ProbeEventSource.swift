/// Where events from QEMU itself come from: vqscope's eBPF probes (the VQProbes target implements
/// it with libbpf) or, in tests, recorded events. Read-only: a source only observes QEMU.
public protocol ProbeEventSource: AnyObject {
    /// The events recorded since the last call, waiting up to `timeoutMilliseconds` for the first.
    func poll(timeoutMilliseconds: Int32) throws(ProbeSourceError) -> [ProbeEvent]
    /// Events the probes could not record (their ring buffer was full): lost, so said.
    var dropped: UInt64 { get }
}

/// The probes could not be loaded or read: one line saying why.
public struct ProbeSourceError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Which of QEMU's functions are probed: a command attaches only what it uses (each probe costs
/// QEMU a trap per call).
public struct ProbeGroups: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `kick`: virtio_queue_notify, virtio_queue_host_notifier_read.
    public static let kick = ProbeGroups(rawValue: 1)
    /// `pop`: virtqueue_pop.
    public static let pop = ProbeGroups(rawValue: 2)
    /// `fill`, `flush`: virtqueue_fill, virtqueue_flush.
    public static let complete = ProbeGroups(rawValue: 4)
    /// `interrupt`, `suppressed`: virtio_notify(_irqfd) and what raises an interrupt within them.
    public static let interrupt = ProbeGroups(rawValue: 8)
    public static let all: ProbeGroups = [.kick, .pop, .complete, .interrupt]
    /// What `capture` uses: chains taken and completed (kicks too, so a queue is named early).
    public static let capture: ProbeGroups = [.kick, .pop, .complete]
}
