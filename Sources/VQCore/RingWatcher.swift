/// One thing that happened on a ring between two polls.
public struct RingEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// The driver made a chain available: avail ring entry `index` holds `head`.
        case available(head: UInt16)
        /// The device returned a chain: used ring entry `index` holds `id` and the bytes it wrote.
        case used(id: UInt32, length: UInt32)
        /// The ring moved by more than its size between two polls: `missed` entries were
        /// overwritten before they could be read.
        case lapped(ring: String, missed: Int)
    }

    /// The queue, by its index in the watcher's list.
    public var queue: Int
    public var kind: Kind
    /// The free-running ring index of the entry (avail or used).
    public var index: UInt16
}

/// Follows split rings by polling: each poll reads every watched queue's `avail.idx` and `used.idx`
/// in one batched read, then the new ring entries of the queues that moved in a second one.
/// Nothing is missed unless a ring moves by more than its size between two polls, and that is
/// reported (`.lapped`) rather than hidden: entries are re-checked against the index after they are
/// read, since the driver may reuse a slot once it has moved a full ring further.
public final class RingWatcher {
    public let memory: GuestMemory
    public let queues: [VirtqueueLocation]
    private var lastAvail: [UInt16?]
    private var lastUsed: [UInt16?]

    /// Watches `queues` (split rings; others are refused).
    public init(memory: GuestMemory, queues: [VirtqueueLocation]) throws(TargetError) {
        guard queues.allSatisfy({ $0.layout == .split && $0.size > 0 }) else {
            throw .usage("watch follows split rings; packed rings are shown by `vqscope dump`")
        }
        self.memory = memory
        self.queues = queues
        lastAvail = Array(repeating: nil, count: queues.count)
        lastUsed = Array(repeating: nil, count: queues.count)
    }

    /// Reads the indexes of every queue in one batch: (avail.idx, used.idx) per queue.
    public func readIndexes() throws(MemoryError) -> [(UInt16, UInt16)] {
        var raw = [UInt16](repeating: 0, count: queues.count * 2)
        try rethrowing(MemoryError.self) {
            try raw.withUnsafeMutableBytes { bytes in
                var ranges: [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] = []
                ranges.reserveCapacity(queues.count * 2)
                for (i, q) in queues.enumerated() {
                    ranges.append((GuestPhysicalAddress(q.driverArea.rawValue &+ 2), UnsafeMutableRawBufferPointer(rebasing: bytes[i * 4..<i * 4 + 2])))
                    ranges.append((GuestPhysicalAddress(q.deviceArea.rawValue &+ 2), UnsafeMutableRawBufferPointer(rebasing: bytes[i * 4 + 2..<i * 4 + 4])))
                }
                try memory.read(ranges)
            }
        }
        return (0..<queues.count).map { (UInt16(littleEndian: raw[$0 * 2]), UInt16(littleEndian: raw[$0 * 2 + 1])) }
    }

    /// One poll: the events since the previous one (the first poll only records where the rings are).
    public func poll() throws(MemoryError) -> [RingEvent] {
        let now = try readIndexes()
        // Entries to read: (queue, isUsed, from, count).
        var spans: [(queue: Int, used: Bool, from: UInt16, count: Int)] = []
        var events: [RingEvent] = []
        for (i, (avail, used)) in now.enumerated() {
            let size = Int(queues[i].size)
            if let last = lastAvail[i], avail != last {
                let moved = Int(avail &- last)
                if moved > size { events.append(RingEvent(queue: i, kind: .lapped(ring: "avail", missed: moved - size), index: last)) }
                let count = min(moved, size)
                spans.append((i, false, avail &- UInt16(count), count))
            }
            if let last = lastUsed[i], used != last {
                let moved = Int(used &- last)
                if moved > size { events.append(RingEvent(queue: i, kind: .lapped(ring: "used", missed: moved - size), index: last)) }
                let count = min(moved, size)
                spans.append((i, true, used &- UInt16(count), count))
            }
            lastAvail[i] = avail
            lastUsed[i] = used
        }
        guard !spans.isEmpty else { return events }

        // One batch for every new entry, into one buffer; ring slots wrap, so a span may be two ranges.
        var offsets: [Int] = []
        var total = 0
        for span in spans {
            offsets.append(total)
            total += span.count * (span.used ? 8 : 2)
        }
        var buffer = [UInt8](repeating: 0, count: total)
        try rethrowing(MemoryError.self) {
            try buffer.withUnsafeMutableBytes { bytes in
                var ranges: [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] = []
                for (s, span) in spans.enumerated() {
                    let q = queues[span.queue]
                    let entry = span.used ? 8 : 2
                    let base = span.used ? q.deviceArea.rawValue &+ 4 : q.driverArea.rawValue &+ 4
                    var slot = Int(span.from) % Int(q.size)
                    var done = 0
                    while done < span.count {
                        let n = min(span.count - done, Int(q.size) - slot)
                        let start = offsets[s] + done * entry
                        ranges.append((GuestPhysicalAddress(base &+ UInt64(slot * entry)),
                                       UnsafeMutableRawBufferPointer(rebasing: bytes[start..<start + n * entry])))
                        done += n
                        slot = 0
                    }
                }
                try memory.read(ranges)
            }
        }
        let view = ByteView(buffer)

        // Entries read after the driver moved a full ring further may have been reused.
        let after = try readIndexes()
        for (s, span) in spans.enumerated() {
            let current = span.used ? after[span.queue].1 : after[span.queue].0
            let size = Int(queues[span.queue].size)
            for k in 0..<span.count {
                let index = span.from &+ UInt16(k)
                if Int(current &- index) > size {
                    events.append(RingEvent(queue: span.queue, kind: .lapped(ring: span.used ? "used" : "avail", missed: 1), index: index))
                    continue
                }
                if span.used {
                    let at = offsets[s] + k * 8
                    events.append(RingEvent(queue: span.queue, kind: .used(id: view.u32(at), length: view.u32(at + 4)), index: index))
                } else {
                    events.append(RingEvent(queue: span.queue, kind: .available(head: view.u16(offsets[s] + k * 2)), index: index))
                }
            }
        }
        return events
    }
}
