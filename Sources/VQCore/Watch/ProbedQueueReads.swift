/// Which queues a poll must read while QEMU's eBPF probes report what QEMU does to its rings.
///
/// A ring that QEMU's own device model serves moves its used side only in `virtqueue_flush`, which
/// the probes see. Its driver can make chains available unseen, but no more than the descriptors
/// free at the last read (a ring never holds more chains than it has descriptors), so the ring
/// cannot lap before QEMU completes something, which the probes report. Such a queue with no probe
/// event since it was last read is left unread by a poll, except once every ``quietInterval``, so
/// that chains its driver made available without a kick show within it. A queue the probes named
/// is read in that poll and the next (a probe fires as QEMU's function starts, before it writes
/// the ring).
///
/// Read by every poll: queues a vhost back-end serves (QEMU does not see their rings move), every
/// queue in a poll after an event the probes could not name or after the probes dropped events,
/// and every queue for good once a queue's used side moved by more completions than the probes
/// reported flushed for it: a QEMU built so that some completions escape the probes (an inlined
/// `virtqueue_flush`) is read as if there were no probes. The completions a poll's rings show are
/// held against the flushes reported up to the next poll (a flush that starts after the probes
/// were polled can write the ring before it is read), and counted from the second poll (the first
/// may see completions made before the probes were attached).
public struct ProbedQueueReads: Sendable {
    /// Seconds between two reads of a queue the probes reported nothing of.
    public static let quietInterval = 1.0

    /// Per queue: whether QEMU's device model serves it (the probes see its completions).
    public let served: [Bool]
    /// Whether the probes have seen every completion so far (see the check above).
    public private(set) var trusted = true
    private var lastFullRead: Double?
    /// Queues named by the last poll's probe events: read again by this one.
    private var namedBefore: [Bool]
    private var flushed: [Int]
    private var completed: [Int]
    private var polls = 0
    private var droppedBefore: UInt64 = 0

    /// For queues of which `served` says whether QEMU's device model serves each.
    public init(served: [Bool]) {
        self.served = served
        namedBefore = Array(repeating: false, count: served.count)
        flushed = Array(repeating: 0, count: served.count)
        completed = Array(repeating: 0, count: served.count)
    }

    /// One probe event as this bookkeeping needs it: its queue (nil: not named) and, for a flush,
    /// the completions it published.
    public struct Event: Sendable {
        public var queue: Int?
        public var flushed: Int
        public init(queue: Int?, flushed: Int = 0) {
            self.queue = queue
            self.flushed = flushed
        }
    }

    /// The queues this poll reads (a flag per queue), nil for every queue, given the probe events
    /// polled just before the rings and the probes' count of dropped events. Call once a poll.
    public mutating func queuesToRead(now: Double, events: [Event], dropped: UInt64) -> [Bool]? {
        polls += 1
        var named = Array(repeating: false, count: served.count)
        var unnamed = false
        for e in events {
            guard let q = e.queue, q >= 0, q < served.count else { unnamed = true; continue }
            named[q] = true
            flushed[q] += e.flushed
        }
        for q in served.indices where served[q] && completed[q] > flushed[q] { trusted = false }
        defer { namedBefore = named; droppedBefore = dropped }
        if !trusted || unnamed || dropped != droppedBefore || lastFullRead.map({ now - $0 >= Self.quietInterval || now < $0 }) ?? true {
            lastFullRead = now
            return nil
        }
        return served.indices.map { !served[$0] || named[$0] || namedBefore[$0] }
    }

    /// After the poll: the completions its rings showed per queue (`used` ring events), checked
    /// against the flushes at the next poll.
    public mutating func record(completions: [Int: Int]) {
        guard polls > 1 else { return }
        for (q, n) in completions where q >= 0 && q < served.count { completed[q] += n }
    }
}
