/// One descriptor chain (a buffer, in the spec's words): the head and the list of guest buffers it
/// names, in order, with indirect tables flattened in place, plus every problem found on the way.
///
/// Walking rules, shared by split and packed rings:
/// - NEXT is followed within the descriptor table (split: the `next` field; packed: the next ring slot,
///   wrapping at the end of the ring); INDIRECT descriptors are replaced by the entries of their table
///   (split tables link through `next` from entry 0; packed tables are read sequentially).
/// - The walk is bounded: a table entry is visited at most once (a second visit is a `loop`), a chain
///   of a split ring stops at a descriptor another in-flight chain already holds (`shared_descriptor`),
///   an indirect table is read once, in one piece, and at most ``ChainLimits/maxIndirectEntries``
///   entries of it.
/// - Nothing stops decoding except a broken link: unmapped buffers, huge or zero lengths, INDIRECT
///   with NEXT, buffers in the wrong order are recorded in ``problems`` and the walk goes on.
public struct Chain: Sendable, Hashable {
    /// One buffer of the chain.
    public struct Element: Sendable, Hashable {
        /// Index of the descriptor in its table: the ring's own table/ring, or the indirect table.
        public var index: UInt16
        /// The indirect table the descriptor came from, or `nil` for the ring's own table.
        public var indirectTable: GuestPhysicalAddress?
        /// Guest-physical address of the buffer.
        public var address: GuestPhysicalAddress
        /// Length of the buffer in bytes.
        public var length: UInt32
        /// Device-writable (WRITE set); otherwise device-readable.
        public var isWritable: Bool

        /// An element from its parts.
        public init(index: UInt16, indirectTable: GuestPhysicalAddress? = nil, address: GuestPhysicalAddress,
                    length: UInt32, isWritable: Bool) {
            self.index = index
            self.indirectTable = indirectTable
            self.address = address
            self.length = length
            self.isWritable = isWritable
        }

        /// Whether the descriptor came from an indirect table.
        public var isFromIndirectTable: Bool { indirectTable != nil }
        /// Where the descriptor sits.
        public var position: DescriptorPosition { DescriptorPosition(index: index, table: indirectTable) }
    }

    /// The head: a descriptor index (split) or the ring slot of the first descriptor (packed).
    public var head: UInt16
    /// The buffers, in chain order.
    public var elements: [Element]
    /// Problems found while walking, in the order found.
    public var problems: [RingProblem]
    /// Sum of the device-readable buffers' lengths.
    public var readableBytes: UInt64
    /// Sum of the device-writable buffers' lengths.
    public var writableBytes: UInt64
    /// Entries of the ring's own descriptor table (split) or ring slots (packed) the chain occupies.
    public var ringDescriptors: Int

    /// A chain from its parts.
    public init(head: UInt16, elements: [Element] = [], problems: [RingProblem] = [], readableBytes: UInt64 = 0,
                writableBytes: UInt64 = 0, ringDescriptors: Int = 0) {
        self.head = head
        self.elements = elements
        self.problems = problems
        self.readableBytes = readableBytes
        self.writableBytes = writableBytes
        self.ringDescriptors = ringDescriptors
    }

    /// Whether the walk found no problem.
    public var isClean: Bool { problems.isEmpty }

    /// Where the first `limit` bytes of the chain's device-readable (or device-writable) buffers
    /// are, in chain order: (address, count) pieces.
    public func ranges(writable: Bool, limit: Int) -> [(GuestPhysicalAddress, Int)] {
        var result: [(GuestPhysicalAddress, Int)] = []
        var total = 0
        for e in elements where e.isWritable == writable && total < limit {
            let n = min(Int(e.length), limit - total)
            if n > 0 { result.append((e.address, n)) }
            total += n
        }
        return result
    }
}

/// The bounds decoders keep to, so that a hostile or garbage ring costs bounded time and memory.
public struct ChainLimits: Sendable, Hashable {
    /// Most entries read from one indirect table; a larger table is flagged `indirect_too_large` and
    /// only this many of its entries are read. Default 1024: QEMU (VIRTQUEUE_MAX_SIZE) and vhost
    /// (UIO_MAXIOV) refuse longer tables. Clamped to 0...65536.
    public var maxIndirectEntries: Int
    /// Most bytes of indirect tables one decode reads in all; tables past the budget are flagged
    /// `indirect_unread`. Default 8 MiB.
    public var maxIndirectBytes: Int
    /// Buffer lengths at or above this are flagged `huge_length`. Default 2^31: a length with the top
    /// bit set is a negative number or garbage; real buffers (network packets, block segments, which
    /// Linux caps at a few MiB per request) are far smaller.
    public var hugeLength: UInt32

    /// Limits with the given values (the defaults suit every real driver).
    public init(maxIndirectEntries: Int = 1024, maxIndirectBytes: Int = 8 << 20, hugeLength: UInt32 = 0x8000_0000) {
        self.maxIndirectEntries = maxIndirectEntries
        self.maxIndirectBytes = maxIndirectBytes
        self.hugeLength = hugeLength
    }

    var entryCap: Int { min(max(maxIndirectEntries, 0), 65536) }
}

extension Chain {
    /// Walks the split-ring chain whose head is descriptor `head` of `table` (all the queue's
    /// descriptors), reading the indirect tables it needs from `memory` in one batched read.
    /// Addresses are checked against `memory.map`.
    public static func split(head: UInt16, table: [Descriptor], memory: GuestMemory,
                             limits: ChainLimits = ChainLimits()) -> Chain {
        walkReading(layout: .split, table: table, memory: memory, limits: limits) { $0.split(head: head) }
    }

    /// Walks the split-ring chains whose heads are `heads` in `table`, each on its own (chains may
    /// share descriptors: a head used again, a hostile ring), reading every indirect table they
    /// need from `memory` in one batched read. One chain per head, in order.
    public static func split(heads: [UInt16], table: [Descriptor], memory: GuestMemory,
                             limits: ChainLimits = ChainLimits()) -> [Chain] {
        var wanted: [IndirectKey] = []
        var seen = Set<IndirectKey>()
        for head in heads {
            var walker = ChainWalker(layout: .split, table: table, map: memory.map, limits: limits)
            _ = walker.split(head: head)
            for key in walker.wanted where seen.insert(key).inserted { wanted.append(key) }
        }
        let loaded = (try? IndirectTableLoader.load(wanted, layout: .split, memory: memory, limits: limits)) ?? [:]
        return heads.map { head in
            var walker = ChainWalker(layout: .split, table: table, map: memory.map, limits: limits, tables: loaded)
            return walker.split(head: head)
        }
    }

    /// Walks the split-ring chain whose head is descriptor `head` of `table`, without I/O: indirect
    /// tables come from `indirectTables` by address (a missing one is flagged `indirect_unread`).
    /// Addresses are checked against `map` when one is given.
    public static func split(head: UInt16, table: [Descriptor], indirectTables: [GuestPhysicalAddress: [Descriptor]] = [:],
                             map: SlotMap? = nil, limits: ChainLimits = ChainLimits()) -> Chain {
        walkSupplied(layout: .split, table: table, tables: indirectTables, map: map, limits: limits) { $0.split(head: head) }
    }

    /// Walks the packed-ring chain whose first descriptor is in slot `head` of `ring`, over at most
    /// `maxSlots` consecutive slots (default: the whole ring), reading the indirect tables it needs
    /// from `memory` in one batched read.
    public static func packed(head: UInt16, ring: [Descriptor], maxSlots: Int? = nil, memory: GuestMemory,
                              limits: ChainLimits = ChainLimits()) -> Chain {
        walkReading(layout: .packed, table: ring, memory: memory, limits: limits) {
            $0.packed(head: head, maxSlots: maxSlots ?? ring.count)
        }
    }

    /// Walks the packed-ring chain whose first descriptor is in slot `head` of `ring`, without I/O
    /// (indirect tables from `indirectTables` by address).
    public static func packed(head: UInt16, ring: [Descriptor], maxSlots: Int? = nil,
                              indirectTables: [GuestPhysicalAddress: [Descriptor]] = [:], map: SlotMap? = nil,
                              limits: ChainLimits = ChainLimits()) -> Chain {
        walkSupplied(layout: .packed, table: ring, tables: indirectTables, map: map, limits: limits) {
            $0.packed(head: head, maxSlots: maxSlots ?? ring.count)
        }
    }

    private static func walkReading(layout: RingLayout, table: [Descriptor], memory: GuestMemory, limits: ChainLimits,
                                    _ walk: (inout ChainWalker) -> Chain) -> Chain {
        var first = ChainWalker(layout: layout, table: table, map: memory.map, limits: limits)
        _ = walk(&first)
        let loaded = (try? IndirectTableLoader.load(first.wanted, layout: layout, memory: memory, limits: limits)) ?? [:]
        var second = ChainWalker(layout: layout, table: table, map: memory.map, limits: limits, tables: loaded)
        return walk(&second)
    }

    private static func walkSupplied(layout: RingLayout, table: [Descriptor], tables: [GuestPhysicalAddress: [Descriptor]],
                                     map: SlotMap?, limits: ChainLimits, _ walk: (inout ChainWalker) -> Chain) -> Chain {
        var first = ChainWalker(layout: layout, table: table, map: map, limits: limits)
        _ = walk(&first)
        var loaded: [IndirectKey: IndirectTable] = [:]
        for key in first.wanted {
            if let entries = tables[key.address], entries.count >= key.entries {
                loaded[key] = .loaded(Array(entries.prefix(key.entries)))
            } else {
                loaded[key] = .unread("the table was not supplied")
            }
        }
        var second = ChainWalker(layout: layout, table: table, map: map, limits: limits, tables: loaded)
        return walk(&second)
    }
}

// MARK: - Walking

/// An indirect table to read: its address and the number of entries wanted (already capped).
struct IndirectKey: Hashable {
    var address: GuestPhysicalAddress
    var entries: Int
}

/// What became of reading an indirect table.
enum IndirectTable {
    case loaded([Descriptor])
    case unmapped(GuestPhysicalAddress)
    case unread(String)
}

/// Walks chains of one ring. Run it twice: once without tables to learn which indirect tables the
/// chains need (``wanted``), then, after one batched read, with them. Chains walked by one walker
/// claim their descriptors, so chains sharing descriptors (a hostile ring) cost no more than the table.
struct ChainWalker {
    let layout: RingLayout
    let table: [Descriptor]
    let map: SlotMap?
    let limits: ChainLimits
    let tables: [IndirectKey: IndirectTable]
    private(set) var wanted: [IndirectKey] = []
    private var wantedSet: Set<IndirectKey> = []
    /// 0: free; otherwise the claiming chain's head + 1.
    private var claimedMain: [UInt32]
    private var claimedTables: [GuestPhysicalAddress: UInt16] = [:]

    init(layout: RingLayout, table: [Descriptor], map: SlotMap?, limits: ChainLimits, tables: [IndirectKey: IndirectTable] = [:]) {
        self.layout = layout
        self.table = table
        self.map = map
        self.limits = limits
        self.tables = tables
        self.claimedMain = layout == .split ? [UInt32](repeating: 0, count: table.count) : []
    }

    /// A chain being built.
    private struct Builder {
        var chain: Chain
        var sawWritable = false

        init(head: UInt16) { chain = Chain(head: head) }

        mutating func problem(_ problem: RingProblem) { chain.problems.append(problem) }

        mutating func add(_ d: Descriptor, at: DescriptorPosition, map: SlotMap?, limits: ChainLimits) {
            let head = chain.head
            if d.isWriteOnly {
                sawWritable = true
                chain.writableBytes &+= UInt64(d.length)
            } else {
                if sawWritable { problem(.readableAfterWritable(head: head, at: at)) }
                chain.readableBytes &+= UInt64(d.length)
            }
            chain.elements.append(Chain.Element(index: at.index, indirectTable: at.table, address: d.address,
                                                length: d.length, isWritable: d.isWriteOnly))
            if d.length == 0 {
                problem(.zeroLength(head: head, at: at))
            } else if d.length >= limits.hugeLength {
                problem(.hugeLength(head: head, at: at, length: d.length))
            }
            if let map, let bad = map.firstUnmapped(from: d.address, count: max(UInt64(d.length), 1)) {
                problem(ChainWalker.unmapped(head: head, at: at, address: d.address, length: d.length, firstUnmapped: bad, map: map))
            }
        }
    }

    /// The problem of an address not all in `map`: `iova_unmapped` when the map is a device's view
    /// through an IOMMU, `address_unmapped` otherwise.
    static func unmapped(head: UInt16, at: DescriptorPosition, address: GuestPhysicalAddress, length: UInt32,
                         firstUnmapped: GuestPhysicalAddress, map: SlotMap?) -> RingProblem {
        guard let map, map.isIOVA else {
            return .addressUnmapped(head: head, at: at, address: address, length: length, firstUnmapped: firstUnmapped)
        }
        let hole = map.holes.last { $0.contains(firstUnmapped) }
        return .iovaUnmapped(head: head, at: at, iova: address, length: length, firstUnmapped: firstUnmapped,
                             reason: hole?.name ?? "beyond the addresses its domain translates")
    }

    /// Walks the split-ring chain whose head is descriptor `head`.
    mutating func split(head: UInt16) -> Chain {
        var b = Builder(head: head)
        let size = table.count
        let tag = UInt32(head) &+ 1
        var i = Int(head)
        var from: DescriptorPosition? = nil
        while true {
            guard i < size else {
                b.problem(.nextOutOfRange(head: head, from: from, next: UInt16(truncatingIfNeeded: i), count: size))
                break
            }
            let at = DescriptorPosition(index: UInt16(truncatingIfNeeded: i))
            let claim = claimedMain[i]
            if claim == tag {
                b.problem(.loop(head: head, at: at))
                break
            }
            if claim != 0 {
                b.problem(.sharedDescriptor(head: head, at: at, otherHead: UInt16(truncatingIfNeeded: claim &- 1)))
                break
            }
            claimedMain[i] = tag
            b.chain.ringDescriptors &+= 1
            let d = table[i]
            if d.isIndirect {
                if d.hasNext { b.problem(.indirectWithNext(head: head, at: at)) }
                indirect(d, at: at, into: &b)
            } else {
                b.add(d, at: at, map: map, limits: limits)
            }
            guard d.hasNext else { break }
            from = at
            i = Int(d.next)
        }
        return finish(b)
    }

    /// Walks the packed-ring chain whose first descriptor is in slot `head`, over at most `maxSlots`
    /// consecutive slots (the available ones; the caller knows where they end).
    mutating func packed(head: UInt16, maxSlots: Int) -> Chain {
        var b = Builder(head: head)
        let size = table.count
        guard Int(head) < size else {
            b.problem(.nextOutOfRange(head: head, from: nil, next: head, count: size))
            return finish(b)
        }
        let bound = max(1, min(maxSlots, size))
        var s = Int(head)
        var n = 0
        while true {
            let d = table[s]
            n &+= 1
            b.chain.ringDescriptors = n
            let at = DescriptorPosition(index: UInt16(truncatingIfNeeded: s))
            if d.isIndirect {
                if n > 1 { b.problem(.indirectInList(head: head, at: at)) }
                if d.hasNext { b.problem(.indirectWithNext(head: head, at: at)) }
                indirect(d, at: at, into: &b)
            } else {
                b.add(d, at: at, map: map, limits: limits)
            }
            guard d.hasNext else { break }
            guard n < bound else {
                b.problem(.chainUnterminated(head: head, at: at))
                break
            }
            s = s &+ 1 == size ? 0 : s &+ 1
        }
        return finish(b)
    }

    private mutating func indirect(_ d: Descriptor, at: DescriptorPosition, into b: inout Builder) {
        let head = b.chain.head
        guard d.length > 0 else {
            b.problem(.indirectEmpty(head: head, at: at))
            return
        }
        if d.length % UInt32(Descriptor.byteCount) != 0 {
            b.problem(.indirectLength(head: head, at: at, length: d.length))
        }
        let fullCount = Int(d.length / UInt32(Descriptor.byteCount))
        guard fullCount > 0 else { return }
        var entries = fullCount
        let cap = limits.entryCap
        if entries > cap {
            b.problem(.indirectTooLarge(head: head, at: at, entries: UInt32(fullCount), limit: cap))
            entries = cap
            guard entries > 0 else { return }
        }
        if let other = claimedTables[d.address] {
            b.problem(.sharedDescriptor(head: head, at: at, otherHead: other))
            return
        }
        claimedTables[d.address] = head
        let key = IndirectKey(address: d.address, entries: entries)
        guard let loaded = tables[key] else {
            if wantedSet.insert(key).inserted { wanted.append(key) }
            return
        }
        switch loaded {
        case let .unmapped(first):
            b.problem(ChainWalker.unmapped(head: head, at: at, address: d.address, length: d.length, firstUnmapped: first, map: map))
        case let .unread(reason):
            b.problem(.indirectUnread(head: head, at: at, table: d.address, reason: reason))
        case let .loaded(descriptors):
            let n = min(descriptors.count, entries)
            switch layout {
            case .split: walkSplitTable(descriptors, count: n, fullCount: fullCount, address: d.address, into: &b)
            case .packed: walkPackedTable(descriptors, count: n, address: d.address, into: &b)
            }
        }
    }

    /// A split indirect table: entries link through `next` from entry 0.
    private func walkSplitTable(_ t: [Descriptor], count n: Int, fullCount: Int, address: GuestPhysicalAddress,
                                into b: inout Builder) {
        let head = b.chain.head
        var visited = [Bool](repeating: false, count: n)
        var j = 0
        var from: DescriptorPosition? = nil
        while true {
            guard j < n else {
                // Past the entries read: out of the table, or in the part cut off as too large (flagged).
                if j >= fullCount {
                    b.problem(.nextOutOfRange(head: head, from: from, next: UInt16(truncatingIfNeeded: j), count: fullCount))
                }
                break
            }
            let at = DescriptorPosition(index: UInt16(truncatingIfNeeded: j), table: address)
            if visited[j] {
                b.problem(.loop(head: head, at: at))
                break
            }
            visited[j] = true
            let e = t[j]
            if e.isIndirect {
                b.problem(.nestedIndirect(head: head, at: at, target: e.address))
            } else {
                b.add(e, at: at, map: map, limits: limits)
            }
            guard e.hasNext else { break }
            from = at
            j = Int(e.next)
        }
    }

    /// A packed indirect table: every entry in order; only WRITE counts among the flags.
    private func walkPackedTable(_ t: [Descriptor], count n: Int, address: GuestPhysicalAddress, into b: inout Builder) {
        for j in 0..<n {
            let at = DescriptorPosition(index: UInt16(truncatingIfNeeded: j), table: address)
            let e = t[j]
            if e.isIndirect {
                b.problem(.nestedIndirect(head: b.chain.head, at: at, target: e.address))
            } else {
                b.add(e, at: at, map: map, limits: limits)
            }
        }
    }

    private func finish(_ b: Builder) -> Chain {
        var chain = b.chain
        if chain.elements.count > table.count {
            chain.problems.append(.chainTooLong(head: chain.head, elements: chain.elements.count, limit: table.count))
        }
        let total = chain.readableBytes &+ chain.writableBytes
        if total > 1 << 32 {
            chain.problems.append(.chainTooLarge(head: chain.head, bytes: total))
        }
        return chain
    }
}

// MARK: - Reading indirect tables

/// Reads indirect tables in one batch.
enum IndirectTableLoader {
    /// Reads the tables named by `keys` in one batched read, followed in the same batch by `trailing`
    /// (re-reads of ring indexes or flags that bracket the whole read for a consistency check).
    /// A table not wholly in guest RAM is not read; tables past the byte budget are not read; if the
    /// batch fails, each range's failure is its own (``GuestMemory/readEach(_:)``): a table that
    /// cannot be read is `unread`, the others are decoded.
    /// Throws only when `trailing` cannot be read.
    static func load(_ keys: [IndirectKey], layout: RingLayout, memory: GuestMemory, limits: ChainLimits,
                     trailing: [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] = []) throws(MemoryError)
        -> [IndirectKey: IndirectTable] {
        var result: [IndirectKey: IndirectTable] = [:]
        var planned: [(key: IndirectKey, offset: Int, count: Int)] = []
        var total = 0
        let budget = max(0, limits.maxIndirectBytes)
        for key in keys {
            let count = key.entries &* Descriptor.byteCount
            if let bad = memory.map.firstUnmapped(from: key.address, count: UInt64(count)) {
                result[key] = .unmapped(bad)
            } else if count > budget &- total {
                result[key] = .unread("over the budget of \(budget) bytes of indirect tables in one decode")
            } else {
                planned.append((key, total, count))
                total &+= count
            }
        }
        guard !planned.isEmpty || !trailing.isEmpty else { return result }
        var storage = [UInt8](repeating: 0, count: total)
        try rethrowing(MemoryError.self) {
            try storage.withUnsafeMutableBytes { raw in
                func slice(_ p: (key: IndirectKey, offset: Int, count: Int)) -> UnsafeMutableRawBufferPointer {
                    UnsafeMutableRawBufferPointer(rebasing: raw[p.offset..<p.offset + p.count])
                }
                let ranges = planned.map { (gpa: $0.key.address, buffer: slice($0)) } + trailing
                // One batch; when a table in it cannot be read, each range's own answer, from as few
                // calls as the backend needs.
                var failures = [MemoryError?](repeating: nil, count: ranges.count)
                do { try memory.read(ranges) } catch { failures = memory.readEach(ranges) }
                for (k, p) in planned.enumerated() {
                    if let failure = failures[k] {
                        result[p.key] = .unread(failure.description)
                    } else {
                        result[p.key] = .loaded(Descriptor.decode(UnsafeRawBufferPointer(slice(p)), layout: layout))
                    }
                }
                if let failure = failures[planned.count...].first(where: { $0 != nil }) ?? nil { throw failure }
            }
        }
        return result
    }
}

extension SlotMap {
    /// The first address of `count` bytes from `gpa` that no slot holds, or `nil` when all are RAM.
    /// A range running past the top of the 64-bit space reports 0x0 as its first unmapped byte.
    func firstUnmapped(from gpa: GuestPhysicalAddress, count: UInt64) -> GuestPhysicalAddress? {
        var address = gpa.rawValue
        var remaining = count
        while remaining > 0 {
            guard let i = slotIndex(containing: GuestPhysicalAddress(address)) else { return GuestPhysicalAddress(address) }
            let slot = slots[i]
            let available = slot.size &- (address &- slot.guest.rawValue)
            if remaining <= available { return nil }
            remaining &-= available
            let (next, overflow) = address.addingReportingOverflow(available)
            if overflow { return GuestPhysicalAddress(0) }
            address = next
        }
        return nil
    }
}
