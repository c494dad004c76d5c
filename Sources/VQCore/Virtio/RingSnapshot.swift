/// A decoded snapshot of either ring layout, seen the same way: the chains in flight, the two
/// sides' progress, the problems and the notification settings. What health judgements read.
public enum RingSnapshot: Sendable, Hashable {
    case split(SplitRing.Snapshot)
    case packed(PackedRing.Snapshot)

    /// A chain the driver made available and the device has not returned.
    public struct InFlightChain: Sendable, Hashable {
        /// What tells this chain from every other one in flight across snapshots: the available-ring
        /// position and head (split), or the slot, its wrap counter and the buffer ID (packed).
        public struct Identity: Sendable, Hashable {
            /// Split: the free-running available-ring position. Packed: `slot | wrap << 15`.
            public var position: UInt16
            /// Split: the head descriptor index. Packed: the buffer ID.
            public var tag: UInt16

            /// An identity from its parts.
            public init(position: UInt16, tag: UInt16) {
                self.position = position
                self.tag = tag
            }
        }

        /// Who the chain is, across snapshots.
        public var identity: Identity
        /// The head: a descriptor index (split) or the ring slot of the first descriptor (packed).
        public var head: UInt16
        /// The buffer ID (packed rings only).
        public var bufferID: UInt16?
        /// The decoded chain; `nil` when the head is outside the descriptor table.
        public var chain: Chain?
        /// Whether QEMU says it has fetched the chain (packed rings with a `last-avail-idx` hint only).
        public var fetched: Bool?

        /// An in-flight chain from its parts.
        public init(identity: Identity, head: UInt16, bufferID: UInt16? = nil, chain: Chain?, fetched: Bool? = nil) {
            self.identity = identity
            self.head = head
            self.bufferID = bufferID
            self.chain = chain
            self.fetched = fetched
        }

        /// Whether the chain has nothing for the device to read, only room to write into: a buffer
        /// posted for the device to fill when data comes.
        public var isReceiveShaped: Bool {
            guard let chain else { return false }
            return chain.readableBytes == 0 && chain.writableBytes > 0
        }
    }

    /// The ring layout.
    public var layout: RingLayout {
        switch self {
        case .split: return .split
        case .packed: return .packed
        }
    }

    /// Where the ring was read.
    public var location: VirtqueueLocation {
        switch self {
        case .split(let s): return s.location
        case .packed(let p): return p.location
        }
    }

    /// The queue size.
    public var size: UInt16 { location.size }

    /// The chains in flight, oldest first (split: at most `size`, the most recent when the indexes jump).
    public var inFlight: [InFlightChain] {
        switch self {
        case .split(let s):
            return s.inFlight.map {
                InFlightChain(identity: .init(position: $0.position, tag: $0.head), head: $0.head, chain: $0.chain)
            }
        case .packed(let p):
            return p.available.map {
                InFlightChain(identity: .init(position: PackedRing.Position(index: $0.slot, wrap: $0.wrap).encoded, tag: $0.bufferID),
                              head: $0.slot, bufferID: $0.bufferID, chain: $0.chain, fetched: $0.consumed)
            }
        }
    }

    /// How many chains the ring says are in flight: `avail.idx - used.idx` for a split ring (which may
    /// exceed the size when the indexes jumped), the available chains of a packed ring.
    public var pendingCount: Int {
        switch self {
        case .split(let s): return s.pendingCount
        case .packed(let p): return p.available.count
        }
    }

    /// The driver's progress: `avail.idx` (split) or its position `index | wrap << 15` (packed).
    public var driverProgress: UInt16 {
        switch self {
        case .split(let s): return s.avail.index
        case .packed(let p): return p.driver.encoded
        }
    }

    /// The device's progress: `used.idx` (split), or the used position the ring's own AVAIL/USED
    /// bits give, `index | wrap << 15` (packed; a position hint is not looked at, so that snapshots
    /// with and without hints compare).
    public var deviceProgress: UInt16 {
        switch self {
        case .split(let s): return s.used.index
        case .packed(let p): return p.ringUsedPosition.encoded
        }
    }

    /// How far the device's progress went from `earlier` to `later` (both from ``deviceProgress``):
    /// chains (split) or ring slots (packed).
    public func deviceProgressDistance(from earlier: UInt16, to later: UInt16) -> Int {
        switch self {
        case .split: return Int(later &- earlier)
        case .packed(let p):
            let n = Int(p.location.size)
            guard n > 0 else { return 0 }
            let a = Int(earlier & 0x7fff) + (earlier & 0x8000 != 0 ? 0 : n)
            let b = Int(later & 0x7fff) + (later & 0x8000 != 0 ? 0 : n)
            return ((b - a) % (2 * n) + 2 * n) % (2 * n)
        }
    }

    /// Whether the driver has made nothing available since the queue was set up: split, both indexes
    /// 0 and the used ring blank; packed, no descriptor ever flagged and the driver at slot 0 of its
    /// first lap.
    public var neverUsed: Bool {
        switch self {
        case .split(let s):
            return s.avail.index == 0 && s.used.index == 0 && s.used.ring.allSatisfy { $0.id == 0 && $0.length == 0 }
        case .packed(let p):
            return p.driver == PackedRing.Position(index: 0, wrap: true) && p.descriptors.allSatisfy { !$0.availBit && !$0.usedBit }
        }
    }

    /// The ring problems followed by every in-flight chain's problems.
    public var allProblems: [RingProblem] {
        switch self {
        case .split(let s): return s.allProblems
        case .packed(let p): return p.allProblems
        }
    }

    /// Whether a chain names an I/O virtual address the device's IOMMU view did not map (`iova_unmapped`).
    public var namesUnmappedIOVA: Bool { allProblems.contains { $0.code == "iova_unmapped" } }

    /// Whether the read saw a ring that held still; see ``SplitRing/Snapshot`` and ``PackedRing/Snapshot``.
    public var consistent: Bool {
        switch self {
        case .split(let s): return s.consistent
        case .packed(let p): return p.consistent
        }
    }

    /// The negotiated features of the queue.
    public var features: VirtioFeatures { location.features }
}

extension PackedRing.Snapshot {
    /// The device's used position as the AVAIL/USED bits alone give it (the slot after the newest
    /// used descriptor, or a lap behind the driver when none is used), whatever hint was passed.
    public var ringUsedPosition: PackedRing.Position {
        let n = states.count
        guard n > 0 else { return driver }
        let pd = Int(driver.index)
        var behind = n
        for age in stride(from: n - 1, through: 0, by: -1) where !states[(pd + age) % n].isAvailable {
            behind = n - (age + 1)
            break
        }
        return behind <= pd ? PackedRing.Position(index: UInt16(pd - behind), wrap: driver.wrap)
            : PackedRing.Position(index: UInt16(pd - behind + n), wrap: !driver.wrap)
    }
}

extension RingSnapshot {
    /// Reads and decodes the ring at `location` as its layout says: the one way every command, the
    /// inspector and the tap read a ring.
    ///
    /// `hints` are QEMU's indexes for the queue (`x-query-virtio-queue-status`), which only a packed
    /// ring needs (its device positions are not in guest memory); they may be up to a second old, and
    /// the ring read now wins where they disagree. A split ring ignores them: both its indexes are in
    /// the rings. See ``SplitRing/snapshot(memory:location:maxAttempts:limits:)`` and
    /// ``PackedRing/snapshot(memory:location:deviceState:maxAttempts:limits:)`` for what is read and
    /// what `consistent` guarantees.
    public static func read(memory: GuestMemory, location: VirtqueueLocation, hints: DeviceQueueState? = nil,
                            maxAttempts: Int = 8, limits: ChainLimits = ChainLimits()) throws(MemoryError) -> RingSnapshot {
        switch location.layout {
        case .split:
            return .split(try SplitRing.snapshot(memory: memory, location: location, maxAttempts: maxAttempts, limits: limits))
        case .packed:
            return .packed(try PackedRing.snapshot(memory: memory, location: location, deviceState: hints,
                                                   maxAttempts: maxAttempts, limits: limits))
        }
    }
}
