/// A probe event as a `watch --json` line's fields and as text, after the time and the queue.
public enum ProbeEventFormat {
    /// The event's own fields: `event`, `ns` (CLOCK_MONOTONIC), `source` ("bpf"), then what the kind
    /// carries (head, len, count, buffers, the kick's path, the interrupt's path).
    public static func fields(_ e: ProbeEvent) -> [(String, JSON)] {
        var f: [(String, JSON)] = [("event", .string(e.kind.rawValue)), ("ns", .uint(e.nanoseconds)), ("source", .string("bpf")),
                                   ("thread", .uint(UInt64(e.thread)))]
        switch e.kind {
        case .kick:
            if case .hostNotifier = e.subject { f.append(("via", .string("ioeventfd"))) } else { f.append(("via", .string("notify"))) }
        case .pop:
            f += [("head", .uint(UInt64(e.head ?? 0))), ("out", .uint(UInt64(e.outCount))), ("in", .uint(UInt64(e.inCount))),
                  ("buffers", .array(e.segments.map(segment))), ("bytes", .string(hexPrefix(e.segments.first { !$0.writable }?.bytes ?? [])))]
        case .fill:
            f += [("head", .uint(UInt64(e.head ?? 0))), ("len", .uint(UInt64(e.count ?? 0))), ("position", .uint(UInt64(e.position ?? 0))),
                  ("written", .array(e.segments.map(segment)))]
            if let last = e.segments.last, let status = last.bytes.last { f.append(("last_byte", .uint(UInt64(status)))) }
        case .flush:
            f.append(("count", .uint(UInt64(e.count ?? 0))))
        case .interrupt, .suppressed:
            f.append(("irqfd", .bool(e.throughIrqfd)))
        }
        return f
    }

    /// The event for people: `pop head 17 out 1 in 2`.
    public static func text(_ e: ProbeEvent) -> String {
        switch e.kind {
        case .kick:
            if case .hostNotifier = e.subject { return "kick (ioeventfd)" }
            return "kick"
        case .pop: return "pop   head \(e.head ?? 0) out \(e.outCount) in \(e.inCount)"
        case .fill: return "fill  head \(e.head ?? 0) len \(e.count ?? 0)"
        case .flush: return "flush \(e.count ?? 0)"
        case .interrupt: return e.throughIrqfd ? "interrupt (irqfd)" : "interrupt"
        case .suppressed: return "suppressed interrupt"
        }
    }

    private static func segment(_ s: ProbeEvent.Segment) -> JSON {
        .object([("addr", .string(Hex.string(s.address))), ("len", .uint(UInt64(s.length))), ("writable", .bool(s.writable)),
                 ("copied", .uint(UInt64(s.bytes.count)))])
    }

    /// Up to 32 bytes as hex digits (a blk request's header, a frame's start).
    static func hexPrefix(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        for b in bytes.prefix(32) { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return s
    }
}
