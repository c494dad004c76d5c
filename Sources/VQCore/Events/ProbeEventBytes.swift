/// The bytes a probe copied of one chain, joined in chain order as far as they run without a gap:
/// a pop's device-readable buffers (what the driver gave, e.g. a tx frame with its virtio-net
/// header) or a fill's device-written ones (the first `len` bytes the device wrote, e.g. a received
/// frame). The probes copy up to a bound (docs/events.md: 1600 bytes of a chain's first and last
/// buffer, 128 of those between, 4096 an event; of a chain of more than 8 buffers the first seven
/// and the last), so ``bytes`` may stop short of ``length``: the rest is not known, and nothing
/// stands in for it.
public struct ProbeEventBytes: Sendable, Hashable {
    /// The chain's bytes from its first on, as far as the probe copied them without a gap.
    public var bytes: [UInt8]
    /// How many bytes they are the start of: a pop's readable buffers' lengths summed (nil when
    /// the probe did not describe every buffer), a fill's `len`.
    public var length: Int?

    public init(bytes: [UInt8], length: Int?) {
        self.bytes = bytes
        self.length = length
    }

    /// Whether the probe copied fewer bytes than the chain holds (or how many it holds is unknown).
    public var isTruncated: Bool { length.map { bytes.count < $0 } ?? true }

    /// The readable bytes of a pop, or the written bytes of a fill (`writable`); nil for other kinds.
    public init?(_ e: ProbeEvent) {
        switch e.kind {
        case .pop: self.init(segments: e.segments.filter { !$0.writable }, count: Int(e.outCount), written: nil)
        case .fill: self.init(segments: e.segments.filter(\.writable), count: Int(e.inCount), written: Int(e.count ?? 0))
        default: return nil
        }
    }

    /// `segments` of a chain that has `count` buffers of that direction; `written`: the bytes the
    /// device wrote into them (a fill), nil for what the driver gave (a pop: every buffer whole).
    init(segments: [ProbeEvent.Segment], count: Int, written: Int?) {
        let every = segments.count >= count
        // Of a chain longer than the probe describes, the last described buffer is the chain's
        // last: after a gap, so left out.
        let joined = every ? segments[...] : segments.dropLast()
        var bytes: [UInt8] = []
        var remaining = written ?? Int.max
        for s in joined where remaining > 0 {
            let expected = min(Int(s.length), remaining)
            bytes += s.bytes.prefix(expected)
            remaining -= expected
            if s.bytes.count < expected { break }
        }
        let length: Int? = written ?? (every ? segments.reduce(0) { $0 + Int($1.length) } : nil)
        self.init(bytes: bytes, length: length)
    }
}
