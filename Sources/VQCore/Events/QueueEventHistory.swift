/// What QEMU did to one queue, as the eBPF probes told it, kept for ``EventDiagnosis``: chains
/// popped and not completed yet (by head, with when), the last kick, pop, flush and interrupt
/// decision, and how many of each kind. Bounded: at most one entry per head of the ring.
public struct QueueEventHistory: Sendable, Hashable {
    /// Heads QEMU popped and has not filled yet, with the pop's time (ns, CLOCK_MONOTONIC).
    public private(set) var held: [UInt32: UInt64] = [:]
    public private(set) var lastKick: UInt64?
    public private(set) var lastPop: UInt64?
    public private(set) var lastFlush: UInt64?
    /// The last virtio_notify's outcome (interrupt or suppressed), with its time.
    public private(set) var lastNotify: (kind: ProbeEvent.Kind, at: UInt64)? {
        get { lastNotifyKind.map { ($0, lastNotifyAt) } }
        set { lastNotifyKind = newValue?.kind; lastNotifyAt = newValue?.at ?? 0 }
    }
    private var lastNotifyKind: ProbeEvent.Kind?
    private var lastNotifyAt: UInt64 = 0
    /// Completions flushed since QEMU last decided about an interrupt.
    public private(set) var unsignalled: UInt32 = 0
    /// When the first unsignalled completion was flushed.
    public private(set) var unsignalledSince: UInt64?
    /// Events per kind.
    public private(set) var counts: [ProbeEvent.Kind: Int] = [:]
    /// The first event's time: what the history covers.
    public private(set) var since: UInt64?

    public init() {}

    public mutating func record(_ e: ProbeEvent) {
        counts[e.kind, default: 0] += 1
        if since == nil { since = e.nanoseconds }
        switch e.kind {
        case .kick: lastKick = e.nanoseconds
        case .pop:
            lastPop = e.nanoseconds
            if let head = e.head, held.count < 65536 { held[head] = e.nanoseconds }
        case .fill:
            if let head = e.head { held[head] = nil }
        case .flush:
            lastFlush = e.nanoseconds
            if let n = e.count, n > 0 {
                if unsignalled == 0 { unsignalledSince = e.nanoseconds }
                unsignalled &+= n
            }
        case .interrupt, .suppressed:
            lastNotify = (e.kind, e.nanoseconds)
            unsignalled = 0
            unsignalledSince = nil
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.held == b.held && a.lastKick == b.lastKick && a.lastPop == b.lastPop && a.lastFlush == b.lastFlush
            && a.lastNotifyKind == b.lastNotifyKind && a.lastNotifyAt == b.lastNotifyAt && a.unsignalled == b.unsignalled
            && a.unsignalledSince == b.unsignalledSince && a.counts == b.counts && a.since == b.since
    }

    public func hash(into h: inout Hasher) {
        h.combine(held)
        h.combine(lastKick)
        h.combine(unsignalled)
    }
}
