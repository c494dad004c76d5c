/// Decodes a split virtqueue (virtio 1.2, 2.7) from guest memory: the descriptor table, the
/// available ring, the used ring, and the chains in flight between them.
///
/// Nothing is assumed about how the three areas sit relative to each other (Linux puts the used ring
/// right after the available ring rounded up to 64 bytes, SeaBIOS and legacy devices on a later page
/// boundary): each is read at the address the ``VirtqueueLocation`` gives.
public enum SplitRing {
    /// The available ring (driver area), written by the driver.
    public struct AvailableRing: Sendable, Hashable {
        /// `flags`: bit 0 is VIRTQ_AVAIL_F_NO_INTERRUPT.
        public var flags: UInt16
        /// `idx`: free-running count of heads the driver has made available.
        public var index: UInt16
        /// `ring`: all `size` entries, each a head descriptor index.
        public var ring: [UInt16]
        /// `used_event`, present when VIRTIO_F_EVENT_IDX was negotiated.
        public var usedEvent: UInt16?

        /// An available ring from its fields.
        public init(flags: UInt16, index: UInt16, ring: [UInt16], usedEvent: UInt16? = nil) {
            self.flags = flags
            self.index = index
            self.ring = ring
            self.usedEvent = usedEvent
        }

        /// Whether the driver asks for no used-buffer interrupts (VIRTQ_AVAIL_F_NO_INTERRUPT).
        public var noInterrupt: Bool { flags & 1 != 0 }
    }

    /// One entry of the used ring.
    public struct UsedElement: Sendable, Hashable {
        /// Head descriptor index of the chain the device returned.
        public var id: UInt32
        /// Bytes the device wrote into the chain's writable buffers.
        public var length: UInt32

        /// A used element from its fields.
        public init(id: UInt32, length: UInt32) {
            self.id = id
            self.length = length
        }
    }

    /// The used ring (device area), written by the device.
    public struct UsedRing: Sendable, Hashable {
        /// `flags`: bit 0 is VIRTQ_USED_F_NO_NOTIFY.
        public var flags: UInt16
        /// `idx`: free-running count of chains the device has returned.
        public var index: UInt16
        /// `ring`: all `size` entries.
        public var ring: [UsedElement]
        /// `avail_event`, present when VIRTIO_F_EVENT_IDX was negotiated.
        public var availEvent: UInt16?

        /// A used ring from its fields.
        public init(flags: UInt16, index: UInt16, ring: [UsedElement], availEvent: UInt16? = nil) {
            self.flags = flags
            self.index = index
            self.ring = ring
            self.availEvent = availEvent
        }

        /// Whether the device asks for no available-buffer notifications (VIRTQ_USED_F_NO_NOTIFY).
        public var noNotify: Bool { flags & 1 != 0 }
    }

    /// A chain the driver made available that the used index has not yet accounted for.
    public struct InFlight: Sendable, Hashable {
        /// Free-running available-ring position of the entry (`ring[position % size]`).
        public var position: UInt16
        /// The head descriptor index in that entry.
        public var head: UInt16
        /// The decoded chain; `nil` when the head is outside the descriptor table
        /// (a `ring_entry_out_of_range` problem of the snapshot).
        public var chain: Chain?

        /// An in-flight entry from its parts.
        public init(position: UInt16, head: UInt16, chain: Chain?) {
            self.position = position
            self.head = head
            self.chain = chain
        }
    }

    /// Everything read from one split ring.
    ///
    /// **What `consistent` guarantees.** `consistent == true` means `avail.idx` and `used.idx` each
    /// read the same value at the start of the read, in the middle (within the areas) and at the very
    /// end (after the indirect tables, when there were any). Both indexes only move forward (and cannot wrap 65536 times in
    /// the microseconds a read takes), so neither moved while anything was read. Hence:
    /// - ``inFlight`` lists exactly the available-ring entries in positions `used.idx ..< avail.idx`
    ///   as the driver published them (it writes an entry before publishing `idx`, and does not
    ///   rewrite entries of that window), and no chain was returned or added during the read;
    /// - the descriptors and indirect tables of those chains are as the driver wrote them, provided it
    ///   follows the spec (it must not change a chain between making it available and getting it back).
    ///
    /// It does **not** guarantee: the contents of descriptors outside in-flight chains (the driver may
    /// be filling free ones), `flags` and event fields, used entries beyond `used.idx`, nor the data
    /// in the buffers. It says nothing about the device's private progress (QEMU's `last_avail_idx`).
    /// And the window `used.idx ..< avail.idx` is exact only for devices that complete in order: a
    /// device completing out of order (virtio-blk) may have returned a chain of the window while an
    /// older chain, outside it, is still in flight; the number in flight is right either way.
    ///
    /// `consistent == false` (with a `torn` problem) means no attempt had both indexes still; the
    /// snapshot is the last attempt's, decoded as well as it can be.
    public struct Snapshot: Sendable, Hashable {
        /// Where the ring was read.
        public var location: VirtqueueLocation
        /// All `size` entries of the descriptor table.
        public var descriptors: [Descriptor]
        /// The available ring.
        public var avail: AvailableRing
        /// The used ring.
        public var used: UsedRing
        /// Entries `used.idx ..< avail.idx` (at most `size`, the most recent when the indexes jump),
        /// oldest first, each with its decoded chain.
        public var inFlight: [InFlight]
        /// Problems of the rings themselves (chain problems are in each chain; see ``allProblems``).
        public var problems: [RingProblem]
        /// Whether both indexes held still during the whole read; see the type's documentation.
        public var consistent: Bool
        /// How many times the rings were read (1 when the first read was consistent).
        public var attempts: Int

        /// A snapshot from its parts.
        public init(location: VirtqueueLocation, descriptors: [Descriptor], avail: AvailableRing, used: UsedRing,
                    inFlight: [InFlight], problems: [RingProblem], consistent: Bool, attempts: Int) {
            self.location = location
            self.descriptors = descriptors
            self.avail = avail
            self.used = used
            self.inFlight = inFlight
            self.problems = problems
            self.consistent = consistent
            self.attempts = attempts
        }

        /// The ring problems followed by every in-flight chain's problems.
        public var allProblems: [RingProblem] {
            problems + inFlight.flatMap { $0.chain?.problems ?? [] }
        }

        /// `avail.idx - used.idx` (mod 2^16): how many chains the indexes say are in flight.
        public var pendingCount: Int { Int(avail.index &- used.index) }
    }

    /// Reads and decodes the split ring at `location`.
    ///
    /// Reads: one batched read per attempt of `avail.idx`, `used.idx`, the descriptor table
    /// (16 × size bytes), the available ring (6 + 2 × size), the used ring (6 + 8 × size), then both
    /// indexes again; once both indexes held still, and only if in-flight chains need indirect tables,
    /// one more batched read of those tables followed by both indexes again. An attempt where an index moved is retried, up
    /// to `maxAttempts` times (at least once). Throws only when the ring areas themselves cannot be
    /// read (not guest RAM, or the backing read fails); everything wrong inside them is a problem.
    ///
    /// The location's `layout` is not looked at: the areas are read as a split ring.
    public static func snapshot(memory: GuestMemory, location: VirtqueueLocation, maxAttempts: Int = 8,
                                limits: ChainLimits = ChainLimits()) throws(MemoryError) -> Snapshot {
        let size = location.size
        let n = Int(size)
        var sizeProblems: [RingProblem] = []
        if n == 0 || n > 32768 || n & (n - 1) != 0 { sizeProblems.append(.invalidSize(size: size)) }
        guard n > 0 else {
            return Snapshot(location: location, descriptors: [], avail: AvailableRing(flags: 0, index: 0, ring: []),
                            used: UsedRing(flags: 0, index: 0, ring: []), inFlight: [], problems: sizeProblems,
                            consistent: true, attempts: 0)
        }
        let eventIndex = location.features.contains(.eventIndex)
        let layout = SplitRingLayout(size: n)
        let descBytes = layout.descriptorTableBytes, availBytes = layout.availBytes, usedBytes = layout.usedBytes
        // Storage: [before: 4][desc][avail][used][after: 4][final: 4]
        let descOffset = 4, availOffset = descOffset + descBytes, usedOffset = availOffset + availBytes
        let afterOffset = usedOffset + usedBytes, finalOffset = afterOffset + 4
        var storage = [UInt8](repeating: 0, count: finalOffset + 4)
        let availIdxAddress = GuestPhysicalAddress(location.driverArea.rawValue &+ UInt64(SplitRingLayout.indexOffset))
        let usedIdxAddress = GuestPhysicalAddress(location.deviceArea.rawValue &+ UInt64(SplitRingLayout.indexOffset))
        let tries = max(1, maxAttempts)

        return try rethrowing(MemoryError.self) {
            try storage.withUnsafeMutableBytes { raw -> Snapshot in
                func part(_ offset: Int, _ count: Int) -> UnsafeMutableRawBufferPointer {
                    UnsafeMutableRawBufferPointer(rebasing: raw[offset..<offset + count])
                }
                func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
                func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
                func indexPair(_ offset: Int) -> [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] {
                    [(availIdxAddress, part(offset, 2)), (usedIdxAddress, part(offset + 2, 2))]
                }

                var attempt = 0
                while true {
                    attempt += 1
                    try memory.read(indexPair(0) + [
                        (location.descriptors, part(descOffset, descBytes)),
                        (location.driverArea, part(availOffset, availBytes)),
                        (location.deviceArea, part(usedOffset, usedBytes)),
                    ] + indexPair(afterOffset))

                    let availIndex = u16(availOffset + SplitRingLayout.indexOffset), usedIndex = u16(usedOffset + SplitRingLayout.indexOffset)
                    let still = u16(0) == availIndex && u16(afterOffset) == availIndex
                        && u16(2) == usedIndex && u16(afterOffset + 2) == usedIndex
                    if !still && attempt < tries { continue }

                    let descriptors = Descriptor.decode(UnsafeRawBufferPointer(part(descOffset, descBytes)), layout: .split)
                    let avail = AvailableRing(
                        flags: u16(availOffset), index: availIndex,
                        ring: (0..<n).map { u16(availOffset + layout.availEntryOffset($0)) },
                        usedEvent: eventIndex ? u16(availOffset + layout.usedEventOffset) : nil)
                    let used = UsedRing(
                        flags: u16(usedOffset), index: usedIndex,
                        ring: (0..<n).map {
                            UsedElement(id: u32(usedOffset + layout.usedEntryOffset($0)), length: u32(usedOffset + layout.usedEntryOffset($0) + 4))
                        },
                        availEvent: eventIndex ? u16(usedOffset + layout.availEventOffset) : nil)

                    // Which tables the in-flight chains need, then read them with both indexes after.
                    var collect = ChainWalker(layout: .split, table: descriptors, map: memory.map, limits: limits)
                    var decoded = decode(avail: avail, used: used, size: size, walker: &collect)
                    // The first batch already brackets everything when no table is needed.
                    var tables: [IndirectKey: IndirectTable] = [:]
                    var consistent = still
                    if !collect.wanted.isEmpty {
                        tables = try IndirectTableLoader.load(collect.wanted, layout: .split, memory: memory,
                                                              limits: limits, trailing: indexPair(finalOffset))
                        consistent = still && u16(finalOffset) == availIndex && u16(finalOffset + 2) == usedIndex
                    }
                    if !consistent && attempt < tries { continue }
                    if !collect.wanted.isEmpty {
                        var walker = ChainWalker(layout: .split, table: descriptors, map: memory.map, limits: limits, tables: tables)
                        decoded = decode(avail: avail, used: used, size: size, walker: &walker)
                    }
                    var problems = sizeProblems + decoded.problems
                    if !consistent { problems.append(.torn(attempts: attempt)) }
                    return Snapshot(location: location, descriptors: descriptors, avail: avail, used: used,
                                    inFlight: decoded.inFlight, problems: problems, consistent: consistent, attempts: attempt)
                }
            }
        }
    }

    /// Finds the in-flight window, checks ring entries, and walks each in-flight chain once.
    static func decode(avail: AvailableRing, used: UsedRing, size: UInt16, walker: inout ChainWalker)
        -> (inFlight: [InFlight], problems: [RingProblem]) {
        let n = Int(size)
        var problems: [RingProblem] = []
        let pending = avail.index &- used.index
        var count = Int(pending)
        if count > n {
            problems.append(.availIndexJump(availIndex: avail.index, usedIndex: used.index, size: size))
            count = n
        }
        for (slot, head) in avail.ring.enumerated() where Int(head) >= n {
            problems.append(.ringEntryOutOfRange(ring: .avail, position: UInt16(truncatingIfNeeded: slot), value: UInt32(head), size: size))
        }
        for (slot, element) in used.ring.enumerated() where element.id >= UInt32(n) {
            problems.append(.ringEntryOutOfRange(ring: .used, position: UInt16(truncatingIfNeeded: slot), value: element.id, size: size))
        }
        // The most recent `count` entries: used.idx ..< avail.idx unless the indexes jumped.
        let start = avail.index &- UInt16(truncatingIfNeeded: count)
        var firstPosition = [Int32](repeating: -1, count: n)
        var chains: [UInt16: Chain] = [:]
        var inFlight: [InFlight] = []
        inFlight.reserveCapacity(count)
        for k in 0..<count {
            let position = start &+ UInt16(truncatingIfNeeded: k)
            let head = avail.ring[Int(position) % n]
            guard Int(head) < n else {
                inFlight.append(InFlight(position: position, head: head, chain: nil))
                continue
            }
            if firstPosition[Int(head)] >= 0 {
                problems.append(.duplicateBuffer(id: head, first: UInt16(truncatingIfNeeded: firstPosition[Int(head)]), second: position))
            } else {
                firstPosition[Int(head)] = Int32(position)
                chains[head] = walker.split(head: head)
            }
            inFlight.append(InFlight(position: position, head: head, chain: chains[head]))
        }
        return (inFlight, problems)
    }
}
