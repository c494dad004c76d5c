/// Decodes a packed virtqueue (virtio 1.2, 2.8) from guest memory: the descriptor ring, the two
/// event suppression areas, where the driver and the device are in the ring, and the chains the
/// driver has made available that the device has not yet returned.
///
/// A packed ring keeps no indexes in memory: the driver's and the device's positions and wrap
/// counters are private to each side. This decoder derives them from the AVAIL/USED bits, as follows
/// (`N` = queue size, slots written in the driver's current lap carry AVAIL = its wrap counter):
///
/// - **Driver position** (next slot it will fill, and its wrap counter): the driver writes slots in
///   ring order, so the AVAIL bits read `x x … x ¬x … ¬x`: the slots before the change were written in
///   the current lap (wrap `x`), the rest in the previous one. The position is the first slot whose
///   AVAIL differs from slot 0's, with wrap = slot 0's AVAIL; when all AVAIL bits are equal (`x`), the
///   driver has just completed a lap: position 0, wrap ¬x. A freshly zeroed ring reads position 0,
///   wrap 1, as the spec's initial state. A second change in the pattern is a `wrap_pattern` problem
///   (a torn read, since Linux writes a chain's first flags last, or a hostile ring).
/// - **Device used position** (next slot it will write a used descriptor to): taking slots from the
///   oldest (the driver's position) to the newest, it is the slot after the newest used descriptor
///   (AVAIL == USED), or a whole lap behind the driver when no slot is used. This is exact when each
///   buffer takes one ring slot (indirect descriptors, as Linux uses whenever VIRTIO_F_INDIRECT_DESC is
///   negotiated, or single-buffer chains): source ``PositionSource/derived``. When multi-slot chains
///   are present, or VIRTIO_F_IN_ORDER lets the device return a batch with one descriptor, the device
///   skips past the rest of the chain or batch without writing it, so the true position may lie
///   further on: source ``PositionSource/estimated``, a lower bound. A caller that knows the device's
///   `used_idx` (QEMU's `x-query-virtio-queue-status`) passes it as a hint, which wins.
/// - **Device read position** (QEMU's `last_avail_idx`) is never visible in the ring; it is known only
///   from a hint, and then splits the available chains into consumed (being processed) and pending.
///
/// Hints without a wrap counter (QMP reports bare indexes) get the one that places them at most a lap
/// behind the driver: an index below the driver's is in its lap, above it in the previous lap; an
/// index equal to the driver's means caught up (a used hint means a full lap behind instead when no
/// slot of the ring is used).
///
/// **The ring wins over an older hint.** A hint taken before the ring was read (``Hint/predatesRead``:
/// every QMP answer, cached or not) can only lag the device. A used hint that puts the device's used
/// position before a used descriptor the ring shows, or, when every buffer takes one slot (source
/// ``PositionSource/derived``, exact), anywhere other than where the ring puts it, and a read hint
/// behind the used position or more than a lap behind the driver, or given with a used hint that
/// lags, are that lag: such a hint is
/// ignored and counted in ``Snapshot/staleHints``, never reported as a problem. A hint without
/// ``Hint/predatesRead`` is taken as the device's word as of the read, and a ring that disagrees
/// with it has a problem (`unexpected_used`, `bad_hint`).
public enum PackedRing {
    /// A position in the ring: a slot and the wrap counter of the lap it belongs to.
    public struct Position: Sendable, Hashable, CustomStringConvertible {
        /// The slot, below the queue size.
        public var index: UInt16
        /// The ring wrap counter.
        public var wrap: Bool

        /// A position from its parts.
        public init(index: UInt16, wrap: Bool) {
            self.index = index
            self.wrap = wrap
        }

        /// `index | wrap << 15`, the form of event suppression offsets and vhost's vring base.
        public var encoded: UInt16 { index & 0x7fff | (wrap ? 0x8000 : 0) }

        /// `12 (wrap 1)`.
        public var description: String { "\(index) (wrap \(wrap ? 1 : 0))" }
    }

    /// A caller's knowledge of one of the device's positions, from QMP or vhost.
    public struct Hint: Sendable, Hashable {
        /// The slot.
        public var index: UInt16
        /// The wrap counter, when known.
        public var wrap: Bool?
        /// Whether the hint was taken before the ring was read (a QMP answer), so that the ring may
        /// show the device further on: then the ring wins where they disagree (see ``PackedRing``).
        public var predatesRead: Bool

        /// A hint of a bare index (QMP's `used-idx`, `last-avail-idx`), with the wrap counter if known.
        public init(index: UInt16, wrap: Bool? = nil, predatesRead: Bool = false) {
            self.index = index
            self.wrap = wrap
            self.predatesRead = predatesRead
        }

        /// A hint in the `index | wrap << 15` form.
        public init(encoded: UInt16, predatesRead: Bool = false) {
            self.init(index: encoded & 0x7fff, wrap: encoded & 0x8000 != 0, predatesRead: predatesRead)
        }
    }

    /// A driver or device event suppression structure (virtio 1.2, 2.8.10): 4 bytes.
    public struct EventSuppression: Sendable, Hashable {
        /// What the `flags` field asks for.
        public enum Mode: String, Sendable, Hashable {
            /// RING_EVENT_FLAGS_ENABLE (0): notify on every change.
            case enable
            /// RING_EVENT_FLAGS_DISABLE (1): do not notify.
            case disable
            /// RING_EVENT_FLAGS_DESC (2): notify when the slot at offset/wrap is reached.
            case descriptor
            /// The reserved value 3.
            case reserved
        }

        /// The `desc` field: `offset | wrap << 15`.
        public var rawDescriptor: UInt16
        /// The `flags` field: the mode in bits 0-1, the rest reserved.
        public var rawFlags: UInt16

        /// A structure from its raw fields.
        public init(rawDescriptor: UInt16, rawFlags: UInt16) {
            self.rawDescriptor = rawDescriptor
            self.rawFlags = rawFlags
        }

        /// Descriptor ring change event offset (a slot).
        public var offset: UInt16 { rawDescriptor & 0x7fff }
        /// Descriptor ring change event wrap counter.
        public var wrap: Bool { rawDescriptor & 0x8000 != 0 }
        /// The event mode.
        public var mode: Mode {
            switch rawFlags & 3 {
            case 0: return .enable
            case 1: return .disable
            case 2: return .descriptor
            default: return .reserved
            }
        }
    }

    /// What one ring slot's AVAIL/USED bits say.
    public enum SlotState: Sendable, Hashable {
        /// AVAIL != USED: made available by the driver in the lap with this wrap counter (AVAIL).
        case available(wrap: Bool)
        /// AVAIL == USED: used by the device in the lap with this wrap counter, or never written (0).
        case used(wrap: Bool)

        /// Whether the slot is available.
        public var isAvailable: Bool {
            if case .available = self { return true }
            return false
        }
    }

    /// Where the device's used position came from.
    public enum PositionSource: String, Sendable, Hashable {
        /// The caller's hint.
        case hint
        /// The ring contents, exactly (every buffer takes one slot).
        case derived
        /// The ring contents, as a lower bound (multi-slot chains or in-order batches may hide it).
        case estimated
    }

    /// A chain the driver made available that the device has not marked used.
    public struct AvailableChain: Sendable, Hashable {
        /// The ring slot of its first descriptor.
        public var slot: UInt16
        /// The wrap counter of the lap it was made available in.
        public var wrap: Bool
        /// The buffer ID (from the last descriptor, as the spec puts it).
        public var bufferID: UInt16
        /// Whether the device has already fetched it (it lies before the device's read position);
        /// `nil` without a `lastAvailIndex` hint.
        public var consumed: Bool?
        /// The decoded chain (`chain.head` is ``slot``, `chain.ringDescriptors` the slots it takes).
        public var chain: Chain

        /// An available chain from its parts.
        public init(slot: UInt16, wrap: Bool, bufferID: UInt16, consumed: Bool?, chain: Chain) {
            self.slot = slot
            self.wrap = wrap
            self.bufferID = bufferID
            self.consumed = consumed
            self.chain = chain
        }
    }

    /// Everything read from one packed ring.
    ///
    /// **What `consistent` guarantees.** `consistent == true` means two successive reads of the
    /// descriptor ring, the second one made after the indirect tables were read, agreed on every
    /// slot's flags word and on every byte of the slots of the available chains. Every hand-over of a
    /// slot (driver to device, device to driver) changes its flags word, and the owner of an available
    /// slot does not rewrite it, so: the slot states, both derived positions and the available chains
    /// (slots, buffer IDs, addresses, lengths) did not change between the two reads, and no chain was
    /// returned while its indirect table was read. It does not cover the event suppression areas,
    /// the `id`/`len` of used slots the driver may be refilling, or buffer contents; a slot handed over
    /// and back between the two reads (a whole lap in microseconds) would go unseen.
    ///
    /// `consistent == false` (with a `torn` problem) means no two successive reads agreed in
    /// `attempts` tries; the snapshot decodes the last read but one.
    public struct Snapshot: Sendable, Hashable {
        /// Where the ring was read.
        public var location: VirtqueueLocation
        /// All `size` descriptors of the ring.
        public var descriptors: [Descriptor]
        /// Each slot's state, from its AVAIL/USED bits.
        public var states: [SlotState]
        /// The driver event suppression area (at the driver area; written by the driver).
        public var driverEvent: EventSuppression
        /// The device event suppression area (at the device area; written by the device).
        public var deviceEvent: EventSuppression
        /// The driver's next slot and wrap counter, derived from the AVAIL bits.
        public var driver: Position
        /// The device's next used slot and its wrap counter.
        public var deviceUsed: Position
        /// Where ``deviceUsed`` came from.
        public var deviceUsedSource: PositionSource
        /// The device's read position, from the caller's hint only.
        public var deviceAvail: Position?
        /// The available chains from ``deviceUsed`` to ``driver``, in ring order.
        public var available: [AvailableChain]
        /// Problems of the ring itself (chain problems are in each chain; see ``allProblems``).
        public var problems: [RingProblem]
        /// Whether two successive reads agreed; see the type's documentation.
        public var consistent: Bool
        /// How many re-reads were compared with the read before them (1 when the first pair agreed).
        public var attempts: Int
        /// How many hints taken before the read (``Hint/predatesRead``) the ring showed to be older
        /// than itself, and were ignored (0, 1 or 2).
        public var staleHints: Int

        /// A snapshot from its parts.
        public init(location: VirtqueueLocation, descriptors: [Descriptor], states: [SlotState],
                    driverEvent: EventSuppression, deviceEvent: EventSuppression, driver: Position,
                    deviceUsed: Position, deviceUsedSource: PositionSource, deviceAvail: Position?,
                    available: [AvailableChain], problems: [RingProblem], consistent: Bool, attempts: Int,
                    staleHints: Int = 0) {
            self.location = location
            self.descriptors = descriptors
            self.states = states
            self.driverEvent = driverEvent
            self.deviceEvent = deviceEvent
            self.driver = driver
            self.deviceUsed = deviceUsed
            self.deviceUsedSource = deviceUsedSource
            self.deviceAvail = deviceAvail
            self.available = available
            self.problems = problems
            self.consistent = consistent
            self.attempts = attempts
            self.staleHints = staleHints
        }

        /// The ring problems followed by every available chain's problems.
        public var allProblems: [RingProblem] { problems + available.flatMap(\.chain.problems) }
    }

    /// Reads and decodes the packed ring at `location`.
    ///
    /// `usedIndex` and `lastAvailIndex` are the device's positions when the caller knows them (QEMU's
    /// `used-idx` and `last-avail-idx`); a hint that cannot be right is ignored with a `bad_hint`
    /// problem, one the ring shows to be older than the read (``Hint/predatesRead``) is ignored and
    /// counted in ``Snapshot/staleHints``. Reads: the descriptor ring (16 × size bytes) and both event areas in one batched
    /// read; then, per attempt, one batched read of the available chains' indirect tables followed by
    /// the ring again, compared with the read before it; up to `maxAttempts` attempts (at least one).
    /// Throws only when the ring or event areas cannot be read. A queue size of 0 reads nothing.
    ///
    /// The location's `layout` is not looked at: the areas are read as a packed ring.
    public static func snapshot(memory: GuestMemory, location: VirtqueueLocation, usedIndex: Hint? = nil,
                                lastAvailIndex: Hint? = nil, maxAttempts: Int = 8,
                                limits: ChainLimits = ChainLimits()) throws(MemoryError) -> Snapshot {
        let size = location.size
        let n = Int(size)
        var sizeProblems: [RingProblem] = []
        if n == 0 || n > 32768 { sizeProblems.append(.invalidSize(size: size)) }
        guard n > 0 else {
            var walker = ChainWalker(layout: .packed, table: [], map: memory.map, limits: limits)
            var empty = decode([], location: location, usedIndex: nil, lastAvailIndex: nil, walker: &walker)
            empty.problems = sizeProblems
            return empty
        }
        let ringBytes = PackedRingLayout(size: n).descriptorRingBytes
        let eventBytes = PackedRingLayout.eventAreaBytes
        // Storage: [ring A][ring B][driver event][device event]
        let eventOffset = 2 * ringBytes
        var storage = [UInt8](repeating: 0, count: eventOffset + 2 * eventBytes)
        let tries = max(1, maxAttempts)

        return try rethrowing(MemoryError.self) {
            try storage.withUnsafeMutableBytes { raw -> Snapshot in
                func part(_ offset: Int, _ count: Int) -> UnsafeMutableRawBufferPointer {
                    UnsafeMutableRawBufferPointer(rebasing: raw[offset..<offset + count])
                }
                func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
                func ringRead(_ copy: Int) -> [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] {
                    [(location.descriptors, part(copy * ringBytes, ringBytes)),
                     (location.driverArea, part(eventOffset, eventBytes)), (location.deviceArea, part(eventOffset + eventBytes, eventBytes))]
                }

                try memory.read(ringRead(0))
                var base = 0
                var attempt = 0
                while true {
                    attempt += 1
                    let descriptors = Descriptor.decode(UnsafeRawBufferPointer(part(base * ringBytes, ringBytes)), layout: .packed)
                    var collect = ChainWalker(layout: .packed, table: descriptors, map: memory.map, limits: limits)
                    var decoded = decode(descriptors, location: location, usedIndex: usedIndex,
                                         lastAvailIndex: lastAvailIndex, walker: &collect)
                    let other = 1 - base
                    let tables = try IndirectTableLoader.load(collect.wanted, layout: .packed, memory: memory,
                                                              limits: limits, trailing: ringRead(other))
                    let consistent = agree(raw, base * ringBytes, other * ringBytes, count: n, chains: decoded.available)
                    if !consistent && attempt < tries {
                        base = other
                        continue
                    }
                    if !collect.wanted.isEmpty {
                        var walker = ChainWalker(layout: .packed, table: descriptors, map: memory.map, limits: limits, tables: tables)
                        decoded = decode(descriptors, location: location, usedIndex: usedIndex,
                                         lastAvailIndex: lastAvailIndex, walker: &walker)
                    }
                    var snapshot = decoded
                    func event(_ at: Int) -> EventSuppression {
                        EventSuppression(rawDescriptor: u16(at + PackedRingLayout.eventDescriptorOffset), rawFlags: u16(at + PackedRingLayout.eventFlagsOffset))
                    }
                    snapshot.driverEvent = event(eventOffset)
                    snapshot.deviceEvent = event(eventOffset + eventBytes)
                    snapshot.problems = sizeProblems + snapshot.problems
                    if !consistent { snapshot.problems.append(.torn(attempts: attempt)) }
                    snapshot.consistent = consistent
                    snapshot.attempts = attempt
                    return snapshot
                }
            }
        }
    }

    /// Whether two copies of the ring agree on every flags word and on every byte of the slots of `chains`.
    private static func agree(_ raw: UnsafeMutableRawBufferPointer, _ a: Int, _ b: Int, count n: Int,
                              chains: [AvailableChain]) -> Bool {
        for i in 0..<n where raw.loadUnaligned(fromByteOffset: a + 16 * i + 14, as: UInt16.self)
            != raw.loadUnaligned(fromByteOffset: b + 16 * i + 14, as: UInt16.self) {
            return false
        }
        for chain in chains {
            var slot = Int(chain.slot)
            for _ in 0..<max(1, chain.chain.ringDescriptors) {
                for word in 0..<2 where raw.loadUnaligned(fromByteOffset: a + 16 * slot + 8 * word, as: UInt64.self)
                    != raw.loadUnaligned(fromByteOffset: b + 16 * slot + 8 * word, as: UInt64.self) {
                    return false
                }
                slot = slot + 1 == n ? 0 : slot + 1
            }
        }
        return true
    }

    /// Derives positions and states and walks the available chains (event areas, consistency and
    /// attempts are filled in by the caller).
    static func decode(_ d: [Descriptor], location: VirtqueueLocation, usedIndex: Hint?, lastAvailIndex: Hint?,
                       walker: inout ChainWalker) -> Snapshot {
        let n = d.count
        let size = location.size
        let noEvent = EventSuppression(rawDescriptor: 0, rawFlags: 0)
        guard n > 0 else {
            let origin = Position(index: 0, wrap: true)
            return Snapshot(location: location, descriptors: [], states: [], driverEvent: noEvent, deviceEvent: noEvent,
                            driver: origin, deviceUsed: origin, deviceUsedSource: .derived, deviceAvail: nil,
                            available: [], problems: [], consistent: true, attempts: 0)
        }
        var problems: [RingProblem] = []
        var staleHints = 0
        let states = d.map { $0.looksAvailable ? SlotState.available(wrap: $0.availBit) : .used(wrap: $0.availBit) }

        // The driver: where the AVAIL bits change.
        let x = d[0].availBit
        let driver: Position
        if let change = d.firstIndex(where: { $0.availBit != x }) {
            driver = Position(index: UInt16(change), wrap: x)
            if let again = d[change...].firstIndex(where: { $0.availBit == x }) {
                problems.append(.wrapPattern(slot: UInt16(again)))
            }
        } else {
            driver = Position(index: 0, wrap: !x)
        }
        let pd = Int(driver.index)
        // Slots behind the driver <-> positions.
        func position(behind: Int) -> Position {
            behind <= pd ? Position(index: UInt16(pd - behind), wrap: driver.wrap)
                : Position(index: UInt16(pd - behind + n), wrap: !driver.wrap)
        }
        func behind(_ hint: Hint, name: String, fullWhenEqual: Bool) -> Int? {
            let p = Int(hint.index)
            guard p < n else {
                problems.append(.badHint(name: name, index: hint.index, reason: "not below the queue size \(n)"))
                return nil
            }
            let wrap = hint.wrap ?? (p < pd ? driver.wrap : p > pd ? !driver.wrap : (fullWhenEqual ? !driver.wrap : driver.wrap))
            if wrap == driver.wrap {
                guard p <= pd else {
                    problems.append(.badHint(name: name, index: hint.index, reason: "ahead of the driver's position \(driver)"))
                    return nil
                }
                return pd - p
            }
            guard p >= pd else {
                if hint.predatesRead {
                    staleHints += 1
                } else {
                    problems.append(.badHint(name: name, index: hint.index, reason: "more than a lap behind the driver's position \(driver)"))
                }
                return nil
            }
            return n - p + pd
        }

        // The device's used position: after the newest used slot, oldest first from the driver.
        var derivedBehind = n
        for age in stride(from: n - 1, through: 0, by: -1) where !d[(pd + age) % n].looksAvailable {
            derivedBehind = n - (age + 1)
            break
        }
        var usedBehind = derivedBehind
        var usedHintStale = false
        var source: PositionSource =
            location.features.contains(.inOrder) || d.contains(where: { $0.looksAvailable && $0.hasNext }) ? .estimated : .derived
        if let usedIndex, let b = behind(usedIndex, name: "used index", fullWhenEqual: !d.contains { !$0.looksAvailable }) {
            // An older hint lags the device: behind the ring's newest used descriptor, or anywhere
            // but the ring's position when that one is exact.
            if usedIndex.predatesRead && (b > derivedBehind || (b != derivedBehind && source == .derived)) {
                staleHints += 1
                usedHintStale = true
            } else {
                usedBehind = b
                source = .hint
            }
        }
        var availBehind: Int? = nil
        if let lastAvailIndex, lastAvailIndex.predatesRead, usedHintStale {
            // Taken with a used hint the ring shows to be older: as old.
            staleHints += 1
        } else if let lastAvailIndex, let b = behind(lastAvailIndex, name: "last avail index", fullWhenEqual: false) {
            if b <= usedBehind {
                availBehind = b
            } else if lastAvailIndex.predatesRead {
                staleHints += 1
            } else {
                problems.append(.badHint(name: "last avail index", index: lastAvailIndex.index,
                                         reason: "behind the device's used position \(position(behind: usedBehind))"))
            }
        }
        let deviceUsed = position(behind: usedBehind)

        // The available chains, from the device's used position to the driver's.
        var available: [AvailableChain] = []
        var firstSlotOfID: [UInt16: UInt16] = [:]
        var k = 0
        var runEnd = 0  // slots k..<runEnd (from the used position) are known available
        let start = Int(deviceUsed.index)
        while k < usedBehind {
            let s = (start + k) % n
            if k >= runEnd {
                guard d[s].looksAvailable else {
                    problems.append(.unexpectedUsed(slot: UInt16(s)))
                    k += 1
                    continue
                }
                runEnd = k + 1
                while runEnd < usedBehind && d[(start + runEnd) % n].looksAvailable { runEnd += 1 }
            }
            var chain = walker.packed(head: UInt16(s), maxSlots: runEnd - k)
            let taken = max(1, chain.ringDescriptors)
            let first = d[s].id, last = d[(s + taken - 1) % n].id
            if taken > 1 && first != last {
                chain.problems.append(.bufferIDMismatch(head: UInt16(s), first: first, last: last))
            }
            if Int(last) >= n {
                problems.append(.ringEntryOutOfRange(ring: .avail, position: UInt16(s), value: UInt32(last), size: size))
            }
            if let earlier = firstSlotOfID[last] {
                problems.append(.duplicateBuffer(id: last, first: earlier, second: UInt16(s)))
            } else {
                firstSlotOfID[last] = UInt16(s)
            }
            let consumed = availBehind.map { usedBehind - k > $0 }
            let wrap = s < pd ? driver.wrap : !driver.wrap
            available.append(AvailableChain(slot: UInt16(s), wrap: wrap, bufferID: last, consumed: consumed, chain: chain))
            k += taken
        }
        for (s, descriptor) in d.enumerated() where !descriptor.looksAvailable && Int(descriptor.id) >= n {
            problems.append(.ringEntryOutOfRange(ring: .used, position: UInt16(s), value: UInt32(descriptor.id), size: size))
        }
        return Snapshot(location: location, descriptors: d, states: states, driverEvent: noEvent, deviceEvent: noEvent,
                        driver: driver, deviceUsed: deviceUsed, deviceUsedSource: source,
                        deviceAvail: availBehind.map(position(behind:)), available: available, problems: problems,
                        consistent: true, attempts: 0, staleHints: staleHints)
    }
}

extension PackedRing {
    /// Reads and decodes the packed ring at `location` with QEMU's view of the device
    /// (`x-query-virtio-queue-status`'s `used-idx` and `last-avail-idx`) as hints taken before the
    /// read: where the ring shows the device further on than QEMU's answer, the ring wins and the
    /// answer counts in ``Snapshot/staleHints``. Without a state, the positions come from the ring.
    public static func snapshot(memory: GuestMemory, location: VirtqueueLocation, deviceState: DeviceQueueState?,
                                maxAttempts: Int = 8, limits: ChainLimits = ChainLimits()) throws(MemoryError) -> Snapshot {
        try snapshot(memory: memory, location: location,
                     usedIndex: deviceState.map { Hint(index: $0.usedIndex, predatesRead: true) },
                     lastAvailIndex: deviceState.map { Hint(index: $0.lastAvailIndex, predatesRead: true) },
                     maxAttempts: maxAttempts, limits: limits)
    }
}
