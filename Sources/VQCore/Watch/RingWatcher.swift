/// One thing that happened on a ring between two polls.
public struct RingEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// The driver made a chain available. Split rings: avail ring entry `index` holds head
        /// descriptor `head`. Packed rings: the chain starting in slot `index` carries buffer ID `head`.
        case available(head: UInt16)
        /// The device returned a chain: the used ring entry (split) or used descriptor (packed) at
        /// `index` holds `id` (head descriptor or buffer ID) and the bytes it wrote.
        case used(id: UInt32, length: UInt32)
        /// The ring moved by more than its size between two polls: `missed` entries (split) or slots
        /// (packed, at least that many) were overwritten before they could be read. `ring` is
        /// `avail` (the driver's side) or `used` (the device's).
        case lapped(ring: RingProblem.Ring, missed: Int)
    }

    /// The queue, by its index in the watcher's list.
    public var queue: Int
    public var kind: Kind
    /// Split rings: the free-running ring index of the entry (avail or used). Packed rings: the slot.
    public var index: UInt16
    /// Packed rings: the wrap counter of the lap the slot belongs to; `nil` for split rings.
    public var wrap: Bool?

    /// An event from its parts.
    public init(queue: Int, kind: Kind, index: UInt16, wrap: Bool? = nil) {
        self.queue = queue
        self.kind = kind
        self.index = index
        self.wrap = wrap
    }
}

/// Follows virtqueues, split and packed, by polling.
///
/// Each poll reads, in one batch, every split queue's `avail.idx` and `used.idx` and every packed
/// queue's whole descriptor ring; then, in a second batch only when split indexes moved, the new
/// ring entries followed by the indexes again. The first poll only records where the rings are.
///
/// - **Split rings**: nothing is missed unless a ring moves by more than its size between two
///   polls, and that is reported (`.lapped`) rather than hidden: entries are re-checked against the
///   index read after them, since the driver may reuse a slot once it has moved a full ring further.
///   A poll reports a split ring's new avail entries, then its new used entries (what
///   ``QueueTap`` expects); ``inRingOrder(_:queues:)`` merges them in the order they can have
///   happened, for people (`watch`).
/// - **Packed rings** keep no indexes in memory: a ``PackedRingFollower`` per queue keeps the
///   driver's and the device's positions and wrap counters and each buffer's slot count (see it for
///   what can and cannot be seen). It starts from the ring as the first poll reads it (the device's
///   used position from QEMU's `used-idx` when given and further on than the ring shows); a first
///   read torn by the driver is retried on the next poll.
///
/// Work per poll is bounded by the queues' sizes, whatever the rings hold.
public final class RingWatcher {
    /// The memory of the first queue (all of them, unless ``memories`` differ).
    public var memory: GuestMemory { memories[0] }
    /// Each queue's memory: the memory its device reaches by DMA (its view through an IOMMU, or
    /// guest memory). All read through the same reader, in one batch.
    public let memories: [GuestMemory]
    public let queues: [VirtqueueLocation]

    /// What the watcher keeps of one queue between polls.
    private struct Followed {
        /// The latest `avail.idx` and `used.idx` (split rings); see ``current``.
        var indexes = RingIndexes(available: nil, used: nil)
        /// Split rings: the indexes the last poll's events end at (`nil` before the first poll).
        var lastAvail: UInt16?
        var lastUsed: UInt16?
        /// Packed rings: the positions and buffers followed.
        var follower: PackedRingFollower?
        /// Packed rings: the descriptor ring as the last poll read it.
        var packedRing: [Descriptor]?
        /// Packed rings: QEMU's used index, a starting hint for the follower.
        let usedHint: PackedRing.Hint?
    }

    /// One entry per queue of ``queues``.
    private var followed: [Followed]

    /// Each queue's latest `avail.idx` and `used.idx` (split rings), as of the last poll: the second
    /// read when entries were read, else the first. `nil` fields before the first poll and for packed
    /// rings, which keep no indexes (see ``packedPositions(of:)``).
    public var current: [RingIndexes] { followed.map(\.indexes) }

    /// Queue `queue`'s ``current`` indexes.
    public func indexes(of queue: Int) -> RingIndexes { followed[queue].indexes }

    /// Split queue `queue`'s `avail.idx` and `used.idx` as the last poll's events end at them (the first
    /// read of the poll: its entries were read up to there; ``current`` may be further on). A
    /// reader of the chains checks the ring against them afterwards: a `used.idx` still there means
    /// no chain in flight at the end of the poll has been completed since. `nil` fields before the
    /// first poll and for packed rings.
    public func eventIndexes(of queue: Int) -> RingIndexes {
        RingIndexes(available: followed[queue].lastAvail, used: followed[queue].lastUsed)
    }

    /// Packed rings: the descriptor ring as the last poll read it (the events of that poll were
    /// derived from it); `nil` for split rings and before the first poll.
    public var packedRings: [[Descriptor]?] { followed.map(\.packedRing) }

    /// Queue `queue`'s descriptor ring as the last poll read it (see ``packedRings``).
    public func packedRing(_ queue: Int) -> [Descriptor]? { followed[queue].packedRing }
    /// Whether every queue reads through the same map (no IOMMU views): one ``GuestMemory`` read.
    private let shared: Bool

    /// Reads `ranges`, each at an address of its queue's memory, in one batch.
    private func read(_ ranges: [(queue: Int, gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)]) throws(MemoryError) {
        if shared { return try memories[0].read(ranges.map { ($0.gpa, $0.buffer) }) }
        var requests: [MemoryReadRequest] = []
        requests.reserveCapacity(ranges.count)
        for range in ranges where range.buffer.count > 0 {
            var done = 0
            for piece in try memories[range.queue].map.pieces(from: range.gpa, count: range.buffer.count) {
                requests.append(MemoryReadRequest(address: piece.host,
                                                  buffer: UnsafeMutableRawBufferPointer(rebasing: range.buffer[done..<done + piece.count])))
                done += piece.count
            }
        }
        try rethrowing(MemoryError.self) { try requests.withUnsafeMutableBufferPointer { try memories[0].reader.read($0) } }
    }

    /// Watches `queues`, split and packed. `deviceStates`, when given (one per queue, QMP's view),
    /// lends packed queues the device's used index as a starting hint. Refuses queues of size 0 and split queues whose size is not a power of two (``VirtqueueLocation/sizeProblem``).
    public convenience init(memory: GuestMemory, queues: [VirtqueueLocation], deviceStates: [DeviceQueueState?] = []) throws(TargetError) {
        try self.init(memories: Array(repeating: memory, count: max(queues.count, 1)), queues: queues, deviceStates: deviceStates)
    }

    /// Watches `queues`, each read through its own memory in `memories` (one per queue, over one
    /// reader): a device's rings behind an IOMMU are read at its I/O virtual addresses.
    public init(memories: [GuestMemory], queues: [VirtqueueLocation], deviceStates: [DeviceQueueState?] = []) throws(TargetError) {
        guard !memories.isEmpty, memories.count >= queues.count else { throw .usage("one memory per watched queue") }
        if let bad = queues.firstIndex(where: { $0.sizeProblem != nil }) {
            throw .usage("queue \(bad) \(queues[bad].sizeProblem!)")
        }
        self.memories = memories
        shared = memories.dropFirst().allSatisfy { $0.map == memories[0].map }
        self.queues = queues
        followed = queues.enumerated().map { i, q in
            guard q.layout == .packed else { return Followed(usedHint: nil) }
            let hint = i < deviceStates.count ? deviceStates[i].map { PackedRing.Hint(index: $0.usedIndex) } : nil
            return Followed(follower: PackedRingFollower(queue: i, size: q.size), usedHint: hint)
        }
    }

    /// Packed queue `queue`'s driver and device next positions as the watcher follows them (`nil`
    /// for split rings and before a packed ring's first successful poll).
    public func packedPositions(of queue: Int) -> (driver: PackedRing.Position, deviceUsed: PackedRing.Position)? {
        guard let f = followed[queue].follower, let driver = f.driverPosition, let used = f.deviceUsedPosition else { return nil }
        return (driver, used)
    }

    /// Reads the indexes of every split queue in one batch: (avail.idx, used.idx) per queue; packed
    /// queues, which keep none, read as (0, 0).
    public func readIndexes() throws(MemoryError) -> [(UInt16, UInt16)] {
        var raw = [UInt8](repeating: 0, count: queues.count * 4)
        try rethrowing(MemoryError.self) {
            try raw.withUnsafeMutableBytes { bytes in
                try read(indexRanges(queues.indices.filter { queues[$0].layout == .split }, bytes, offset: { $0 * 4 }))
            }
        }
        let view = ByteView(raw)
        return queues.indices.map { (view.u16($0 * 4), view.u16($0 * 4 + 2)) }
    }

    /// The ranges of the two index words of each queue in `which`, into `bytes` at `offset(queue)`.
    private func indexRanges(_ which: [Int], _ bytes: UnsafeMutableRawBufferPointer, offset: (Int) -> Int)
        -> [(queue: Int, gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] {
        var ranges: [(queue: Int, gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] = []
        ranges.reserveCapacity(which.count * 2)
        for i in which {
            let q = queues[i], o = offset(i)
            let index = UInt64(SplitRingLayout.indexOffset)
            ranges.append((i, GuestPhysicalAddress(q.driverArea.rawValue &+ index), UnsafeMutableRawBufferPointer(rebasing: bytes[o..<o + 2])))
            ranges.append((i, GuestPhysicalAddress(q.deviceArea.rawValue &+ index), UnsafeMutableRawBufferPointer(rebasing: bytes[o + 2..<o + 4])))
        }
        return ranges
    }

    /// One poll: the events since the previous one, queue by queue (the first poll only records
    /// where the rings are). Throws when a ring cannot be read; the watcher's state is then unchanged.
    /// `only`, when given (a flag per queue), limits the poll to the queues flagged: the others are
    /// not read, and their next poll reports what happened since their last.
    public func poll(only wanted: [Bool]? = nil) throws(MemoryError) -> [RingEvent] {
        func wants(_ i: Int) -> Bool { wanted.map { i < $0.count && $0[i] } ?? true }
        // First batch: split indexes, then whole packed rings.
        let split = queues.indices.filter { queues[$0].layout == .split && wants($0) }
        let packed = queues.indices.filter { queues[$0].layout == .packed && wants($0) }
        var ringOffset = [Int](repeating: 0, count: queues.count)
        var total = queues.count * 4
        for i in packed {
            ringOffset[i] = total
            total += PackedRingLayout(queues[i]).descriptorRingBytes
        }
        var first = [UInt8](repeating: 0, count: total)
        try rethrowing(MemoryError.self) {
            try first.withUnsafeMutableBytes { bytes in
                var ranges = indexRanges(split, bytes, offset: { $0 * 4 })
                for i in packed {
                    let o = ringOffset[i]
                    ranges.append((i, queues[i].descriptors, UnsafeMutableRawBufferPointer(rebasing: bytes[o..<o + PackedRingLayout(queues[i]).descriptorRingBytes])))
                }
                try read(ranges)
            }
        }
        let view = ByteView(first)

        var perQueue = [[RingEvent]](repeating: [], count: queues.count)
        // Split rings: which new entries to read, (queue, isUsed, from, count).
        var spans: [(queue: Int, used: Bool, from: UInt16, count: Int)] = []
        var nextAvail = followed.map(\.lastAvail), nextUsed = followed.map(\.lastUsed)
        for i in split {
            let avail = view.u16(i * 4), used = view.u16(i * 4 + 2)
            let size = Int(queues[i].size)
            if let last = followed[i].lastAvail, avail != last {
                let moved = Int(avail &- last)
                if moved > size { perQueue[i].append(RingEvent(queue: i, kind: .lapped(ring: .avail, missed: moved - size), index: last)) }
                let count = min(moved, size)
                spans.append((i, false, avail &- UInt16(count), count))
            }
            if let last = followed[i].lastUsed, used != last {
                let moved = Int(used &- last)
                if moved > size { perQueue[i].append(RingEvent(queue: i, kind: .lapped(ring: .used, missed: moved - size), index: last)) }
                let count = min(moved, size)
                spans.append((i, true, used &- UInt16(count), count))
            }
            nextAvail[i] = avail
            nextUsed[i] = used
        }

        // Second batch: every new split entry into one buffer (ring slots wrap, so a span may be two
        // ranges), then the indexes of the queues that moved, read after the entries.
        var spanOffsets: [Int] = []
        var entryBytes = 0
        for span in spans {
            spanOffsets.append(entryBytes)
            entryBytes += span.count * (span.used ? SplitRingLayout.usedEntryBytes : SplitRingLayout.availEntryBytes)
        }
        // The queues that moved, once each: spans come queue by queue, in the order of `split`.
        var moved: [Int] = []
        for span in spans where moved.last != span.queue { moved.append(span.queue) }
        var afterOffset = [Int](repeating: 0, count: queues.count)
        for (k, i) in moved.enumerated() { afterOffset[i] = entryBytes + 4 * k }
        var second = [UInt8](repeating: 0, count: entryBytes + 4 * moved.count)
        if !spans.isEmpty {
            try rethrowing(MemoryError.self) {
                try second.withUnsafeMutableBytes { bytes in
                    var ranges: [(queue: Int, gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] = []
                    for (s, span) in spans.enumerated() {
                        let q = queues[span.queue]
                        let layout = SplitRingLayout(q)
                        let entry = span.used ? SplitRingLayout.usedEntryBytes : SplitRingLayout.availEntryBytes
                        let base = span.used ? q.deviceArea.rawValue &+ UInt64(layout.usedEntryOffset(0))
                                             : q.driverArea.rawValue &+ UInt64(layout.availEntryOffset(0))
                        var slot = Int(span.from) % Int(q.size)
                        var done = 0
                        while done < span.count {
                            let n = min(span.count - done, Int(q.size) - slot)
                            let start = spanOffsets[s] + done * entry
                            ranges.append((span.queue, GuestPhysicalAddress(base &+ UInt64(slot * entry)),
                                           UnsafeMutableRawBufferPointer(rebasing: bytes[start..<start + n * entry])))
                            done += n
                            slot = 0
                        }
                    }
                    ranges += indexRanges(moved, bytes, offset: { afterOffset[$0] })
                    try read(ranges)
                }
            }
        }
        let entries = ByteView(second)

        // Entries read after the driver moved a full ring further may have been reused.
        for (s, span) in spans.enumerated() {
            let latest = entries.u16(afterOffset[span.queue] + (span.used ? 2 : 0))
            let size = Int(queues[span.queue].size)
            for k in 0..<span.count {
                let index = span.from &+ UInt16(k)
                if Int(latest &- index) > size {
                    perQueue[span.queue].append(RingEvent(queue: span.queue, kind: .lapped(ring: span.used ? .used : .avail, missed: 1), index: index))
                    continue
                }
                if span.used {
                    let at = spanOffsets[s] + k * SplitRingLayout.usedEntryBytes
                    perQueue[span.queue].append(RingEvent(queue: span.queue, kind: .used(id: entries.u32(at), length: entries.u32(at + 4)), index: index))
                } else {
                    perQueue[span.queue].append(RingEvent(queue: span.queue, kind: .available(head: entries.u16(spanOffsets[s] + k * SplitRingLayout.availEntryBytes)), index: index))
                }
            }
        }

        // Nothing below can fail: commit.
        for i in split {
            followed[i].lastAvail = nextAvail[i]
            followed[i].lastUsed = nextUsed[i]
            followed[i].indexes = moved.contains(i)
                ? RingIndexes(available: entries.u16(afterOffset[i]), used: entries.u16(afterOffset[i] + 2))
                : RingIndexes(available: view.u16(i * 4), used: view.u16(i * 4 + 2))
        }
        for i in packed {
            let o = ringOffset[i], n = Int(queues[i].size)
            let ring = first.withUnsafeBytes { Descriptor.decode(UnsafeRawBufferPointer(rebasing: $0[o..<o + PackedRingLayout(size: n).descriptorRingBytes]), layout: .packed) }
            followed[i].packedRing = ring
            if followed[i].follower!.isStarted {
                perQueue[i] += followed[i].follower!.advance(ring)
            } else {
                followed[i].follower!.start(ring, location: queues[i], usedHint: followed[i].usedHint)
            }
        }
        return perQueue.flatMap { $0 }
    }

    /// One poll's events (as ``poll()`` returns them) with each split queue's in ring order
    /// (``inRingOrder(_:)``); packed queues' events are in ring order already.
    public static func inRingOrder(_ events: [RingEvent], queues: [VirtqueueLocation]) -> [RingEvent] {
        var result: [RingEvent] = []
        var start = 0
        while start < events.count {
            let q = events[start].queue
            var end = start
            while end < events.count && events[end].queue == q { end += 1 }
            let run = Array(events[start..<end])
            result += queues.indices.contains(q) && queues[q].layout == .split ? inRingOrder(run) : run
            start = end
        }
        return result
    }

    /// One poll's events of a split ring in the order they can have happened: `lapped` first, then
    /// the available and used entries merged by ring position. The device's used entry `u` (its
    /// u-th completion) needs the driver's avail entry `u` to exist, so it follows the available
    /// events up to that position; it precedes the later ones, since the poll cannot tell when
    /// between the two reads it happened and a completion of a chain made available earlier comes
    /// before the same head is made available again (a head is never in flight twice).
    public static func inRingOrder(_ events: [RingEvent]) -> [RingEvent] {
        var lapped: [RingEvent] = [], available: [RingEvent] = [], used: [RingEvent] = []
        for e in events {
            switch e.kind {
            case .lapped: lapped.append(e)
            case .available: available.append(e)
            case .used: used.append(e)
            }
        }
        var ordered = lapped
        var a = 0
        for u in used {
            // Avail entries at positions up to u's (free-running, compared within half the index space).
            while a < available.count, Int16(bitPattern: available[a].index &- u.index) <= 0 {
                ordered.append(available[a])
                a += 1
            }
            ordered.append(u)
        }
        return ordered + available[a...]
    }
}
