/// How a virtqueue is doing, judged from its ring over a sampling window (and from QEMU's own view
/// of it where QMP is there): the answer to "why is it stuck?". ``QueueHealthTracker`` judges it;
/// ``QueueDiagnosis`` carries it with the evidence.
public enum QueueHealth: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Nothing in flight, and nothing used lately.
    case idle
    /// Requests in flight and completing (or completed lately).
    case busy
    /// Only buffers the driver posted for the device to fill when data comes (net rx, console
    /// input): normal, however long it lasts.
    case waiting
    /// Requests in flight and the device's used index has not moved for the threshold: the oldest
    /// request has waited at least that long.
    case stalled
    /// A queue whose buffers the device fills (net rx, rng, console input, balloon stats) with none
    /// posted: nothing can arrive until the driver posts one.
    case starved
    /// The ring itself is wrong (indexes out of range, an index that jumped by more than the ring
    /// size, chains that loop...), or QEMU marked the device broken.
    case broken

    /// Whether this is something to look into: stalled, starved or broken.
    public var isTrouble: Bool { self == .stalled || self == .starved || self == .broken }

    /// The raw value: `idle`, `busy`...
    public var description: String { rawValue }
}
