/// Reads the buffers of one virtqueue while the guest uses them: what the driver wrote, as soon as
/// it makes a buffer available, and what the device wrote, as soon as it returns one; and never
/// passes on bytes that may be torn or stale.
///
/// A tap is fed, poll after poll, the ``RingEvent``s a ``RingWatcher`` reports for its queue
/// (with, for a packed ring, the descriptor ring that poll read) and answers with ``Output``s:
/// buffers made available (with the driver's bytes when the plan asks for them), buffers returned
/// (with the device's bytes, and the buffer as it was recorded when it was made available), and
/// the entries a lapped ring hid.
///
/// ## Why the bytes can be trusted
/// A buffer's memory belongs to one side at a time: the device's from when the driver makes it
/// available until the device returns it, then the driver's, who may reuse it, but only for a
/// buffer it makes available again. So after reading the bytes the tap reads the ring again and
/// keeps them only when:
/// - the buffer's entry is still in place: (split) the avail ring still names the head at that
///   entry, no later entry names it again, and its descriptors in the table are unchanged; (packed)
///   every slot of the chain still has its address and the AVAIL bit of its lap; for a returned
///   buffer, the used entry still holds the same id and length and no later one returns the id;
/// - no buffer made available since (in the same poll, or seen in the ring read after the bytes)
///   lies over the memory that was read: the driver has not reused it.
///
/// The driver's bytes of a buffer the device had already returned when they were read (a fast
/// device: most tx frames and block requests) could in principle have been rewritten in place for
/// a new buffer that the driver had not yet made available: those are held until the next poll and
/// kept only if no buffer made available by then lies over them either. Whatever fails is dropped
/// and reported (``MissReason/reused``), never passed on.
///
/// The buffers a device returns are looked up in a book of the chains recorded when they were made
/// available (``prime(at:)`` records those in flight when the tap starts), because by the time the
/// device returns a buffer the driver may already have pointed its descriptors elsewhere. Work per
/// poll is bounded by the queue size and the plan's byte limits.
public final class QueueTap {
    /// What to read of each buffer.
    public struct Plan: Sendable, Hashable {
        /// What to read of the bytes the device wrote.
        public enum DeviceBytes: Sendable, Hashable {
            case none
            /// The bytes the device wrote (the used length), at most `limit`.
            case written(limit: Int)
            /// The last byte of the last device-writable buffer (virtio-blk's status).
            case lastByte
        }

        /// Device-readable bytes to read when a buffer is made available, from its start (0: none).
        public var driverBytes: Int
        /// What to read when a buffer is returned.
        public var deviceBytes: DeviceBytes

        public init(driverBytes: Int = 0, deviceBytes: DeviceBytes = .none) {
            self.driverBytes = driverBytes
            self.deviceBytes = deviceBytes
        }
    }

    /// Why bytes could not be passed on.
    public enum MissReason: String, Sendable, Hashable {
        /// The ring moved more than its size between two polls.
        case lapped
        /// The buffer was handed on (its entry overwritten, reused, made available again) before
        /// its bytes could be confirmed.
        case reused
        /// Its memory could not be read (an address outside guest RAM, a broken chain).
        case unreadable
        /// The device returned a buffer the tap never saw made available.
        case unknownBuffer = "unknown-buffer"
    }

    /// A buffer the driver made available, as recorded then.
    public struct Buffer: Sendable, Hashable {
        /// Head descriptor (split) or buffer ID (packed).
        public var id: UInt16
        /// The avail ring entry (split, free-running) or the first slot (packed).
        public var position: UInt16
        /// Packed rings: the wrap counter of the first slot's lap.
        public var wrap: Bool?
        public var chain: Chain
        /// When it was seen (the caller's clock).
        public var time: Double
        /// The first ``Plan/driverBytes`` device-readable bytes, when read and confirmed.
        public var driverBytes: [UInt8]?
        /// Why ``driverBytes`` is nil although the plan asked for them.
        public var missed: MissReason?
        /// Packed rings: the device had already overwritten the first slot with its used descriptor
        /// when the buffer was read, so the length the driver gave is lost; ``driverBytes`` then
        /// holds the first ``QueueTap/unknownLengthRead`` bytes at the buffer's address, and the
        /// reader must tell the length from the bytes (a frame's IP header).
        public var lengthUnknown = false
        /// The ring's own descriptors of the chain as read (split: head and NEXT links; packed:
        /// its slots), to tell later whether the driver rewrote them.
        var slots: [Descriptor] = []

        public init(id: UInt16, position: UInt16, wrap: Bool? = nil, chain: Chain, time: Double,
                    driverBytes: [UInt8]? = nil, missed: MissReason? = nil) {
            self.id = id
            self.position = position
            self.wrap = wrap
            self.chain = chain
            self.time = time
            self.driverBytes = driverBytes
            self.missed = missed
        }
    }

    /// A buffer the device returned.
    public struct Completion: Sendable, Hashable {
        /// The buffer as recorded when it was made available; nil when that was not seen.
        public var buffer: Buffer?
        /// The used ring entry (split, free-running) or the slot (packed).
        public var index: UInt16
        public var wrap: Bool?
        public var id: UInt32
        /// The bytes the device says it wrote.
        public var length: UInt32
        public var time: Double
        /// What the plan asked of the device's bytes, when read and confirmed.
        public var deviceBytes: [UInt8]?
        /// Why ``deviceBytes`` is nil although the plan asked for them.
        public var missed: MissReason?
    }

    /// What one event came to.
    public enum Output: Sendable, Hashable {
        case available(Buffer)
        case used(Completion)
        /// The ring moved more than its size between two polls: `count` entries (packed: at least
        /// that many slots) of the `avail` or `used` side went by unread.
        case lapped(ring: RingProblem.Ring, count: Int)
    }

    /// The memory buffers are read through; behind an IOMMU, the device's view, which the caller
    /// replaces after each walk of its tables (the guest maps buffers as it makes them available).
    public var memory: GuestMemory
    public let location: VirtqueueLocation
    public let plan: Plan
    /// Buffers made available and not yet returned, by id, oldest first (an id the driver made
    /// available again in the same poll it was returned has two).
    private var book: [UInt16: [Buffer]] = [:]
    /// Split rings: the avail index up to which the tap has seen entries.
    private var availSeen: UInt16 = 0
    /// Split rings: the used index up to which the tap has seen entries.
    private var usedSeen: UInt16 = 0
    /// Outputs kept back until the next poll (see "Why the bytes can be trusted"), with the memory
    /// their bytes came from.
    private var held: [(output: Output, ranges: [(GuestPhysicalAddress, Int)])] = []
    private var size: Int { Int(location.size) }
    /// Bytes read of a buffer whose length is lost (``Buffer/lengthUnknown``).
    public static let unknownLengthRead = 2048

    public init(memory: GuestMemory, location: VirtqueueLocation, plan: Plan) {
        self.memory = memory
        self.location = location
        self.plan = plan
    }

    /// Buffers made available and not yet returned, as far as the tap knows, oldest first.
    public var inFlight: [Buffer] {
        book.values.flatMap { $0 }.sorted { $0.time < $1.time || ($0.time == $1.time && $0.position < $1.position) }
    }

    /// Records the buffers in flight now (made available before the tap started), so that their
    /// return can be read. Their bytes are not read.
    public func prime(at time: Double) throws(MemoryError) {
        book.removeAll()
        switch try RingSnapshot.read(memory: memory, location: location) {
        case .split(let s):
            availSeen = s.avail.index
            usedSeen = s.used.index
            for f in s.inFlight {
                guard let chain = f.chain else { continue }
                record(Buffer(id: f.head, position: f.position, wrap: nil, chain: chain, time: time))
            }
        case .packed(let s):
            for a in s.available {
                record(Buffer(id: a.bufferID, position: a.slot, wrap: a.wrap, chain: a.chain, time: time))
            }
        }
    }

    private func record(_ b: Buffer) {
        var list = book[b.id] ?? []
        list.append(b)
        if list.count > 2 { list.removeFirst(list.count - 2) } // a return went by unseen
        book[b.id] = list
    }

    private func take(_ id: UInt32) -> Buffer? {
        guard id <= UInt32(UInt16.max), var list = book[UInt16(id)], !list.isEmpty else { return nil }
        let first = list.removeFirst()
        book[UInt16(id)] = list.isEmpty ? nil : list
        return first
    }

    /// Reads what `events` (this queue's, in order, from one poll) made available and returned.
    /// `packedRing` is the descriptor ring that poll read (packed rings). Call it after every poll,
    /// with or without events: outputs held back at the last poll are settled here, and come first.
    public func process(_ events: [RingEvent], packedRing: [Descriptor]? = nil, at time: Double) -> [Output] {
        guard size > 0, !events.isEmpty || !held.isEmpty else { return [] }
        let table: [Descriptor]?
        switch location.layout {
        case .split:
            let wantsTable = events.contains { if case .available = $0.kind { return true }; return false }
            table = wantsTable ? try? readTable() : nil
        case .packed:
            table = packedRing
        }

        var outputs: [Output] = []
        var reads: [(output: Int, ranges: [(GuestPhysicalAddress, Int)])] = []
        // Chains made available in this poll, with the output index they came at.
        var posted: [(at: Int, position: UInt16, chain: Chain)] = []
        for event in events {
            switch event.kind {
            case .available(let id):
                if location.layout == .split { availSeen = event.index &+ 1 }
                guard let table, table.count == size else {
                    outputs.append(.available(Buffer(id: id, position: event.index, wrap: event.wrap, chain: Chain(head: id),
                                                     time: time, missed: .unreadable)))
                    continue
                }
                let chain = location.layout == .split
                    ? Chain.split(head: id, table: table, memory: memory)
                    : Chain.packed(head: event.index, ring: table, memory: memory)
                var buffer = Buffer(id: id, position: event.index, wrap: event.wrap, chain: chain, time: time)
                if location.layout == .split { buffer.slots = Self.splitSlots(head: id, table: table) }
                else { buffer.slots = (0..<max(chain.ringDescriptors, 1)).map { table[(Int(event.index) + $0) % size] } }
                // Packed: a buffer made available and used between two polls, whose first slot the
                // device overwrote with its used descriptor (ID, length written, flags): only the
                // address is left, the length the driver gave is gone.
                if location.layout == .packed, let wrap = event.wrap, table[Int(event.index) % size].isUsed(wrap: wrap),
                   chain.elements.count == 1, chain.elements[0].indirectTable == nil {
                    buffer.lengthUnknown = true
                }
                if plan.driverBytes > 0 {
                    if buffer.lengthUnknown {
                        reads.append((outputs.count, [(chain.elements[0].address, min(plan.driverBytes, Self.unknownLengthRead))]))
                    } else if chain.isClean {
                        reads.append((outputs.count, chain.ranges(writable: false, limit: plan.driverBytes)))
                    } else {
                        buffer.missed = .unreadable
                    }
                }
                record(buffer)
                posted.append((outputs.count, event.index, chain))
                outputs.append(.available(buffer))
            case .used(let id, let length):
                if location.layout == .split { usedSeen = event.index &+ 1 }
                let buffer = take(id)
                var completion = Completion(buffer: buffer, index: event.index, wrap: event.wrap, id: id, length: length, time: time)
                if plan.deviceBytes != .none {
                    if let buffer, buffer.chain.isClean || buffer.lengthUnknown {
                        let ranges: [(GuestPhysicalAddress, Int)]
                        switch plan.deviceBytes {
                        case .none: ranges = []
                        case .written(let limit) where buffer.lengthUnknown:
                            // Made available and used between two polls: the address is all that is left.
                            ranges = [(buffer.chain.elements[0].address, min(Int(length), limit))]
                        case .written(let limit): ranges = buffer.chain.ranges(writable: true, limit: min(Int(length), limit))
                        case .lastByte:
                            if let last = buffer.chain.elements.last(where: \.isWritable), last.length > 0 {
                                ranges = [(GuestPhysicalAddress(last.address.rawValue &+ UInt64(last.length - 1)), 1)]
                            } else { ranges = [] }
                        }
                        reads.append((outputs.count, ranges))
                    } else {
                        completion.missed = buffer == nil ? .unknownBuffer : .unreadable
                    }
                }
                outputs.append(.used(completion))
            case .lapped(let ring, let missed):
                outputs.append(.lapped(ring: ring, count: missed))
            }
        }

        // Read every planned range in one batch; when that fails, each output on its own.
        var data = reads.map { r in [UInt8](repeating: 0, count: r.ranges.reduce(0) { $0 + $1.1 }) }
        var failed = Set<Int>()
        if !reads.isEmpty, !readAll(reads.map(\.ranges), into: &data) {
            for k in reads.indices {
                var one = [data[k]]
                if readAll([reads[k].ranges], into: &one) { data[k] = one[0] } else { failed.insert(k) }
            }
        }

        // Nothing was read and nothing is held: there is nothing to confirm.
        guard !reads.isEmpty || !held.isEmpty else { return outputs }
        // Then the ring again, and what was made available after the poll.
        let fresh = try? readFresh()
        let later = fresh.map { newChains(fresh: $0, polled: table) } ?? []

        // Outputs held at the last poll: kept unless a buffer made available since lies over them.
        let result = settleHeld(readable: fresh != nil, since: posted.map(\.chain) + later)

        // This poll's reads.
        var holdFrom: Int?
        var recheck = Set<Int>()
        for (k, read) in reads.enumerated() {
            let at = read.output
            guard !failed.contains(k), let fresh else { mark(&outputs[at], missed: .unreadable); continue }
            // Made available after this output over the memory read. A split poll lists its avail
            // entries before its used ones, so for a returned buffer every other one counts.
            var own: UInt16?
            if case .used(let c) = outputs[at] { own = c.buffer?.position }
            let reusedSince = posted.contains { p in
                let after = own == nil || location.layout == .packed ? p.at > at : p.position != own
                return after && Self.overlaps(read.ranges, p.chain)
            } || later.contains { Self.overlaps(read.ranges, $0) }
            switch outputs[at] {
            case .available(var b):
                if !reusedSince, confirmAvailable(b, fresh: fresh) {
                    b.driverBytes = data[k]
                    // Returned before the bytes were read: hold until the next poll.
                    if returned(b, after: at, in: outputs, fresh: fresh) {
                        holdFrom = min(holdFrom ?? at, at)
                        recheck.insert(at)
                    }
                } else {
                    b.missed = .reused
                }
                outputs[at] = .available(b)
                update(b)
                // Returned in the same poll: the completion carries the buffer as read.
                for j in (at + 1)..<outputs.count {
                    guard case .used(var c) = outputs[j], c.id == UInt32(b.id), c.buffer?.position == b.position else { continue }
                    c.buffer = b
                    outputs[j] = .used(c)
                    break
                }
            case .used(var c):
                if !reusedSince, confirmUsed(c, fresh: fresh) { c.deviceBytes = data[k] } else { c.missed = .reused }
                outputs[at] = .used(c)
            case .lapped:
                break
            }
        }
        if let holdFrom {
            let rangesAt = Dictionary(reads.map { ($0.output, $0.ranges) }, uniquingKeysWith: { a, _ in a })
            // Held in order; only the returned buffers' bytes are checked again.
            held = outputs[holdFrom...].enumerated().map { (i, o) in (o, recheck.contains(holdFrom + i) ? rangesAt[holdFrom + i] ?? [] : []) }
            outputs.removeSubrange(holdFrom...)
        }
        return result + outputs
    }

    /// Settles the outputs held back at the last poll against the ring as it is now (the end of a
    /// capture: there is no next poll).
    public func finish(at time: Double) -> [Output] {
        guard !held.isEmpty else { return [] }
        let fresh = try? readFresh()
        let later = fresh.map { newChains(fresh: $0, polled: nil) } ?? []
        return settleHeld(readable: fresh != nil, since: later)
    }

    /// The outputs held at the last poll, each kept unless the ring could not be read again or a
    /// buffer made available `since` lies over its bytes; a completion held with a dropped buffer
    /// carries the buffer as dropped.
    private func settleHeld(readable: Bool, since chains: [Chain]) -> [Output] {
        var result: [Output] = []
        var dropped: [Buffer] = []
        for h in held {
            var output = h.output
            if !readable { mark(&output, missed: .unreadable) }
            else if chains.contains(where: { Self.overlaps(h.ranges, $0) }) { drop(&output) }
            switch output {
            case .available(let b) where b.missed != nil:
                dropped.append(b)
            case .used(var c):
                if let b = c.buffer, let gone = dropped.first(where: { $0.id == b.id && $0.position == b.position && $0.wrap == b.wrap && $0.time == b.time }) {
                    c.buffer = gone
                    output = .used(c)
                }
            default:
                break
            }
            result.append(output)
        }
        held.removeAll()
        return result
    }

    /// Keeps the book's copy of a buffer in step with what was read of it.
    private func update(_ b: Buffer) {
        guard var list = book[b.id], let i = list.lastIndex(where: { $0.position == b.position && $0.time == b.time }) else { return }
        list[i] = b
        book[b.id] = list
    }

    /// Whether the device had returned buffer `b` (output `at`) by the time its bytes were read:
    /// a later event of this poll returns it, or the ring read after the bytes does.
    private func returned(_ b: Buffer, after at: Int, in outputs: [Output], fresh: Fresh) -> Bool {
        for o in outputs[(at + 1)...] {
            if case .used(let c) = o, c.id == UInt32(b.id), c.buffer?.position == b.position, c.buffer?.wrap == b.wrap { return true }
        }
        switch location.layout {
        case .split:
            let count = min(Int(fresh.usedIndex &- usedSeen), size)
            return (0..<count).contains { fresh.usedRing[Int(usedSeen &+ UInt16($0)) % size].id == UInt32(b.id) }
        case .packed:
            guard let wrap = b.wrap else { return true }
            return fresh.table[Int(b.position) % size].isUsed(wrap: wrap)
        }
    }

    private func drop(_ output: inout Output) {
        switch output {
        case .available(var b) where b.driverBytes != nil: b.driverBytes = nil; b.missed = .reused; output = .available(b)
        case .used(var c) where c.deviceBytes != nil: c.deviceBytes = nil; c.missed = .reused; output = .used(c)
        default: break
        }
    }

    /// The memory of buffers made available after the poll read the ring: (split) avail entries
    /// past the ones the tap has seen; (packed) slots that changed since the poll and read as
    /// available.
    private func newChains(fresh: Fresh, polled: [Descriptor]?) -> [Chain] {
        switch location.layout {
        case .split:
            let count = min(Int(fresh.availIndex &- availSeen), size)
            return (0..<count).map { k in
                Chain.split(head: fresh.availRing[Int(availSeen &+ UInt16(k)) % size], table: fresh.table, memory: memory)
            }
        case .packed:
            guard fresh.table.count == size else { return [] }
            return fresh.table.indices.compactMap { i in
                let d = fresh.table[i]
                guard d.looksAvailable, polled.map({ i < $0.count && $0[i] != d }) ?? true else { return nil }
                return Chain(head: UInt16(i), elements: [Chain.Element(index: UInt16(i), address: d.address, length: d.length,
                                                                       isWritable: d.isWriteOnly)])
            }
        }
    }

    /// The table descriptors of a split chain (head, then NEXT links), at most the queue size.
    static func splitSlots(head: UInt16, table: [Descriptor]) -> [Descriptor] {
        var result: [Descriptor] = []
        var i = Int(head)
        while i < table.count, result.count < table.count {
            result.append(table[i])
            guard table[i].hasNext, !table[i].isIndirect else { break }
            i = Int(table[i].next)
        }
        return result
    }

    // MARK: - Reading

    private func readTable() throws(MemoryError) -> [Descriptor] {
        Descriptor.decode(try memory.bytes(at: location.descriptors, count: Descriptor.byteCount * size), layout: location.layout)
    }

    /// The ring as it is after the bytes were read.
    private struct Fresh {
        var table: [Descriptor]
        var availIndex: UInt16 = 0
        var availRing: [UInt16] = []
        var usedIndex: UInt16 = 0
        var usedRing: [(id: UInt32, length: UInt32)] = []
    }

    private func readFresh() throws(MemoryError) -> Fresh {
        let n = size
        switch location.layout {
        case .packed:
            return Fresh(table: try readTable())
        case .split:
            let layout = SplitRingLayout(size: n)
            var table = [UInt8](repeating: 0, count: layout.descriptorTableBytes)
            var avail = [UInt8](repeating: 0, count: layout.availEntriesBytes)
            var used = [UInt8](repeating: 0, count: layout.usedEntriesBytes)
            try rethrowing(MemoryError.self) {
                try table.withUnsafeMutableBytes { t in
                    try avail.withUnsafeMutableBytes { a in
                        try used.withUnsafeMutableBytes { u in
                            try memory.read([(location.driverArea, a), (location.deviceArea, u), (location.descriptors, t)])
                        }
                    }
                }
            }
            let av = ByteView(avail), uv = ByteView(used)
            return Fresh(table: Descriptor.decode(table, layout: .split),
                         availIndex: av.u16(SplitRingLayout.indexOffset), availRing: (0..<n).map { av.u16(layout.availEntryOffset($0)) },
                         usedIndex: uv.u16(SplitRingLayout.indexOffset),
                         usedRing: (0..<n).map { (uv.u32(layout.usedEntryOffset($0)), uv.u32(layout.usedEntryOffset($0) + 4)) })
        }
    }

    /// Fills `data[k]` from `ranges[k]` for every k in one batch; false when any range fails.
    private func readAll(_ ranges: [[(GuestPhysicalAddress, Int)]], into data: inout [[UInt8]]) -> Bool {
        var pointers: [UnsafeMutableRawBufferPointer] = []
        defer { for p in pointers { p.deallocate() } }
        var requests: [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] = []
        for rs in ranges {
            let total = rs.reduce(0) { $0 + $1.1 }
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 8)
            pointers.append(p)
            var offset = 0
            for (gpa, count) in rs where count > 0 {
                requests.append((gpa, UnsafeMutableRawBufferPointer(rebasing: p[offset..<offset + count])))
                offset += count
            }
        }
        do { try memory.read(requests) } catch { return false }
        for k in ranges.indices { data[k] = Array(UnsafeRawBufferPointer(rebasing: pointers[k][0..<data[k].count])) }
        return true
    }

    /// Whether any of `ranges` overlaps a buffer of `chain`.
    static func overlaps(_ ranges: [(GuestPhysicalAddress, Int)], _ chain: Chain) -> Bool {
        ranges.contains { r in
            chain.elements.contains { e in
                let a = r.0.rawValue, b = e.address.rawValue
                return a < b &+ UInt64(e.length) && b < a &+ UInt64(r.1)
            }
        }
    }

    private func mark(_ output: inout Output, missed reason: MissReason) {
        switch output {
        case .available(var b): b.driverBytes = nil; b.missed = reason; output = .available(b)
        case .used(var c): c.deviceBytes = nil; c.missed = reason; output = .used(c)
        case .lapped: break
        }
    }

    // MARK: - Confirming

    /// The buffer is still the driver's offer at its place, with the same descriptors.
    private func confirmAvailable(_ b: Buffer, fresh: Fresh) -> Bool {
        switch location.layout {
        case .split:
            let ahead = Int(fresh.availIndex &- b.position)
            guard ahead >= 1, ahead < size, fresh.availRing[Int(b.position) % size] == b.id else { return false }
            for k in 1..<ahead where fresh.availRing[Int(b.position &+ UInt16(k)) % size] == b.id { return false }
            return Self.splitSlots(head: b.id, table: fresh.table) == b.slots
        case .packed:
            guard let wrap = b.wrap, fresh.table.count == size else { return false }
            // Every slot of the chain still in its lap (the driver has not written it again), and
            // still pointing where it did (QEMU leaves a used descriptor's address alone).
            let start = Int(b.position)
            for (k, old) in b.slots.enumerated() {
                let d = fresh.table[(start + k) % size]
                let lap = start + k >= size ? !wrap : wrap
                guard d.availBit == lap, d.address == old.address else { return false }
            }
            return true
        }
    }

    /// The returned buffer's entry is still in place, and the device has not returned it again.
    private func confirmUsed(_ c: Completion, fresh: Fresh) -> Bool {
        guard c.buffer != nil else { return false }
        switch location.layout {
        case .split:
            let ahead = Int(fresh.usedIndex &- c.index)
            guard ahead >= 1, ahead < size else { return false }
            let entry = fresh.usedRing[Int(c.index) % size]
            guard entry.id == c.id, entry.length == c.length else { return false }
            for k in 1..<ahead where fresh.usedRing[Int(c.index &+ UInt16(k)) % size].id == c.id { return false }
            return true
        case .packed:
            guard let wrap = c.wrap, fresh.table.count == size else { return false }
            let d = fresh.table[Int(c.index) % size]
            // Still the used descriptor, or made available again (over other memory: checked by the caller).
            return d.isUsed(wrap: wrap) ? UInt32(d.id) == c.id : d.availBit != wrap
        }
    }
}

