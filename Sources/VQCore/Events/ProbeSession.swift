/// Events from QEMU itself for a set of watched queues: a ``ProbeEventSource`` (the eBPF probes)
/// whose events are named by queue through a ``VirtQueueMap`` built from those queues' rings, and
/// checked on the way: a pop or completion whose head or buffer counts cannot belong to its ring
/// means the probes read QEMU's element wrongly, and ends the session with a
/// ``ProbeSourceError`` instead of a confident wrong answer.
public final class ProbeSession {
    /// An event and the index of its queue in the session's queues (nil: a queue not watched, or
    /// not told apart yet: a kick before anything else of its queue was seen).
    public struct Named: Sendable, Hashable {
        public var event: ProbeEvent
        public var queue: Int?
        public init(event: ProbeEvent, queue: Int?) {
            self.event = event
            self.queue = queue
        }
    }

    public let source: ProbeEventSource
    public let map: VirtQueueMap
    /// Events whose queue could not be named.
    public private(set) var unnamed = 0

    public init(source: ProbeEventSource, rings: [VirtQueueMap.Ring], read: @escaping (UInt64, Int) -> [UInt8]?) {
        self.source = source
        self.map = VirtQueueMap(rings: rings, read: read)
    }

    /// The events since the last call, named, in the order the probes recorded them.
    public func poll(timeoutMilliseconds: Int32 = 0) throws(ProbeSourceError) -> [Named] {
        let events = try source.poll(timeoutMilliseconds: timeoutMilliseconds)
        var named: [Named] = []
        named.reserveCapacity(events.count)
        for e in events {
            let queue: Int?
            do throws(VirtQueueMapError) { queue = try map.ring(for: e.subject) } catch { throw ProbeSourceError("\(error)") }
            if let queue { try Self.check(e, ring: map.rings[queue]) } else { unnamed += 1 }
            named.append(Named(event: e, queue: queue))
        }
        return named
    }

    /// Refuses an event that cannot belong to its ring: a head past the ring's size, more buffers
    /// than it has descriptors (indirect tables aside: a chain through one may hold more, up to
    /// the 1024 QEMU allows).
    public static func check(_ e: ProbeEvent, ring: VirtQueueMap.Ring) throws(ProbeSourceError) {
        guard e.kind == .pop || e.kind == .fill, let head = e.head else { return }
        if head >= UInt32(ring.size) {
            throw ProbeSourceError("QEMU's \(e.kind) of a queue of size \(ring.size) gave head \(head): the probes do not read QEMU's VirtQueueElement as this QEMU lays it out")
        }
        let buffers = UInt64(e.outCount) + UInt64(e.inCount)
        if buffers == 0 || buffers > 1024 {
            throw ProbeSourceError("QEMU's \(e.kind) gave a chain of \(buffers) buffers: the probes do not read QEMU's VirtQueueElement as this QEMU lays it out")
        }
    }
}
