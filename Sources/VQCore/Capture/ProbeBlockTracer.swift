/// Block requests from QEMU's own events (the eBPF probes): a request starts when QEMU pops it
/// (its 16-byte header copied in the probe) and ends when QEMU fills it (the status byte the
/// device wrote). Nothing is missed that QEMU saw, unless the probes' ring buffer overflowed
/// (``ProbeEventSource/dropped``). Pure: fed named events, unit-tested.
public struct ProbeBlockTracer: Sendable {
    private struct Key: Hashable { var queue: Int; var head: UInt32 }
    private struct Popped { var request: BlockRequest?; var at: Double; var complete: Bool }
    private var popped: [Key: Popped] = [:]
    /// Pops whose header the probe could not copy (counted, not guessed).
    public private(set) var unreadable = 0
    /// Fills of a head not seen popped (popped before the trace began).
    public private(set) var untimed = 0

    public init() {}

    /// The requests these events complete, in order. `wall` turns an event's ns timestamp
    /// (CLOCK_MONOTONIC) into the time written (seconds).
    public mutating func requests(from events: [ProbeSession.Named], queues: Set<Int>, wall: (UInt64) -> Double) -> [TracedBlockRequest] {
        var done: [TracedBlockRequest] = []
        for n in events {
            guard let q = n.queue, queues.contains(q), let head = n.event.head else { continue }
            let key = Key(queue: q, head: head)
            switch n.event.kind {
            case .pop:
                popped[key] = Popped(request: Self.request(n.event), at: wall(n.event.nanoseconds),
                                     complete: n.event.segments.count == Int(n.event.outCount + n.event.inCount))
                if popped[key]?.request == nil { unreadable += 1 }
            case .fill:
                guard let p = popped.removeValue(forKey: key) else { untimed += 1; continue }
                guard var request = p.request else { continue }
                // The status byte: the last byte of the chain's last writable buffer (always described).
                request.status = n.event.segments.last(where: \.writable)?.bytes.last
                // A chain longer than the probe describes: a read's data is what the device wrote
                // but the status byte; a write's is known only from the buffers described.
                if !p.complete, request.type == 0, let written = n.event.count, written >= 1 { request.dataLength = UInt64(written) - 1 }
                done.append(TracedBlockRequest(queueIndex: q, id: head, request: request, submitted: p.at, completed: wall(n.event.nanoseconds)))
            default: continue
            }
        }
        return done
    }

    /// Requests popped and not completed, oldest first (at the end of a trace).
    public func pending(queueIndex: (Int) -> Int) -> [TracedBlockRequest] {
        popped.sorted { ($0.value.at, $0.key.head) < ($1.value.at, $1.key.head) }.compactMap { key, p in
            p.request.map { TracedBlockRequest(queueIndex: queueIndex(key.queue), id: key.head, request: $0, submitted: p.at, completed: nil) }
        }
    }

    /// A request from a pop: the header from the first device-readable buffer's copied bytes,
    /// data everything between the header and the status byte.
    static func request(_ e: ProbeEvent) -> BlockRequest? {
        guard let first = e.segments.first(where: { !$0.writable }), first.bytes.count >= 16 else { return nil }
        let total = e.segments.reduce(UInt64(0)) { $0 + UInt64($1.length) }
        return BlockRequest(header: Array(first.bytes.prefix(16)), dataLength: total >= 17 ? total - 17 : 0, status: nil)
    }
}
