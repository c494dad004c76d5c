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
