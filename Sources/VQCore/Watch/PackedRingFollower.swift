/// Follows one packed virtqueue (virtio 1.2, 2.8) from successive reads of its descriptor ring and
/// turns what changed into ``RingEvent``s: buffers the driver made available, buffers the device
/// returned, and moves too large to follow. ``RingWatcher`` keeps one per packed queue and feeds it
/// the ring it read; the follower does no I/O.
///
/// ## What it tracks
/// A packed ring keeps no index words in memory, so the follower keeps both sides' positions itself,
/// as free-running slot counts (slot = count mod N; the wrap counter flips every N, starting at 1):
/// - **The driver's next position.** The driver writes slots in ring order, setting AVAIL to its wrap
///   counter, so the new position is where the AVAIL pattern changes (as ``PackedRing`` derives it);
///   the slots between the old and the new position were made available since the last read. Each
///   chain there is reported `available` with its buffer ID (`head`) at its first slot, and its slot
///   count (NEXT flags; an indirect descriptor is one slot) is remembered with the ID.
/// - **The device's next used position.** A slot whose AVAIL and USED bits both equal its lap's wrap
///   counter holds a used descriptor: it is reported `used` (buffer ID, length), and the position
///   moves on past it, by the buffer's slot count when that is certain (below).
///
/// ## What it cannot see, and what it does then
/// - **Made available and used between two reads.** The device overwrote the chain's first slot
///   before it could be read, so the buffer ID is not known at first (a *hidden* slot). A used
///   descriptor that names a buffer not known to be in flight is that buffer: its `available` event
///   is reported then, just before the `used` one, at the hidden slot (exact for devices that complete
///   in order; with out-of-order completion the slot may be another hidden one). Where the used
///   descriptor sits on a hidden slot and names a buffer also made available later in the same read,
///   the address the device leaves in place (QEMU writes only ID, length and flags) tells the same
///   buffer made available again apart from another buffer completing first. The rest of a hidden
///   chain, read as available, is reported as a buffer of its own (with the chain's ID where the
///   driver writes it in every descriptor, as Linux does).
/// - **Slot counts.** Every slot between the follower's used position and the driver's that reads as
///   used in its lap is a used descriptor not yet reported, so moving on too little costs nothing
///   (when the slot at the used position is still available but a used descriptor lies further on,
///   the device skipped those slots, and the follower moves on to it), while moving on too much would
///   pass used descriptors. So a remembered slot count is applied only when it is certain: the used
///   descriptor sits on the buffer's own first slot, the whole chain was read, and the device has
///   never been seen completing out of order; otherwise the position moves by one slot. The used
///   position may then lag (``deviceUsedPosition``; out-of-order devices with chains of several
///   slots) and catch up, but never passes a used descriptor.
/// - **Laps.** The AVAIL pattern repeats every two laps. A driver position that moved more than N
///   slots is reported as `lapped` on the `avail` side (`missed`: at least that many slots could not
///   be read); where the driver rewrote slots before the follower's used position reached them,
///   `lapped` on the `used` side counts those slots (used descriptors or slots the device skipped:
///   they can no longer be told apart). No event is made up for what was missed, and buffers in
///   flight from before the lap are forgotten (their completions then show as `used` alone). A move
///   of two whole laps or more between reads looks like no move at all and cannot be noticed (2N
///   buffers between two polls: at a 1 ms interval, 512 000 buffers a second on a 256-slot ring).
///
/// Work per ``advance(_:)`` is O(N) whatever the ring holds; the follower keeps at most 2N buffers
/// in flight and N hidden slots.
public struct PackedRingFollower: Sendable {
    /// The queue index put into the events.
    public let queue: Int
    /// The queue size N.
    public let size: Int

    /// A buffer made available and not yet returned.
    private struct Outstanding: Sendable {
        var slots: Int
        /// Whether ``slots`` may be a fragment's: the chain was read starting right after a hidden
        /// slot (it may be the rest of that slot's chain), or at the start of a read that lapped.
        var tentative: Bool
        var position: Int
        var address: UInt64
        /// The ``advance(_:)`` call that saw it, and its place among that call's available events.
        var poll: Int
        var event: Int
    }

    private var started = false
    private var driverCount = 0
    private var usedCount = 0
    /// Buffers in flight by ID, oldest first: an ID returned and made available again between two
    /// reads has two entries until the older one's used descriptor is read.
    private var outstanding: [UInt16: [Outstanding]] = [:]
    private var outstandingCount = 0
    private var hidden = HiddenSlots()
    private var polls = 0
    /// Whether the device was seen returning a buffer other than the one whose first slot its used
    /// descriptor sits on: from then on remembered slot counts are not trusted.
    private var outOfOrderSeen = false

    /// A follower of queue `queue`, of `size` slots, not yet started.
    public init(queue: Int, size: UInt16) {
        self.queue = queue
        self.size = Int(size)
    }

    /// Whether ``start(_:location:usedHint:)`` has taken a starting point.
    public var isStarted: Bool { started }
    /// The driver's next position, once started.
    public var driverPosition: PackedRing.Position? { started ? position(driverCount) : nil }
    /// The device's next used position, once started.
    public var deviceUsedPosition: PackedRing.Position? { started ? position(usedCount) : nil }
    /// Slots between the device's used position and the driver's: the ring's part in flight.
    public var inFlightSlots: Int? { started ? driverCount - usedCount : nil }
    /// Buffer IDs known to be in flight (seen available, not yet used).
    public var outstandingIDs: Set<UInt16> { Set(outstanding.keys) }

    /// Takes the ring as read now for the starting point, without events: the driver's position from
    /// the AVAIL bits, the device's used position from the ring or `usedHint` (QEMU's `used-idx`),
    /// whichever is further on (both can only lag the truth: the ring's is a lower bound when chains
    /// take several slots, a hint is as old as the query), and the available chains as the buffers in
    /// flight. Returns false, and stays unstarted, when `ring` does not hold `size` descriptors or its
    /// AVAIL bits change more than once around the ring (a read torn by the driver, or not a packed ring).
    @discardableResult
    public mutating func start(_ ring: [Descriptor], location: VirtqueueLocation, usedHint: PackedRing.Hint? = nil) -> Bool {
        let n = size
        guard n > 0, ring.count == n else { return false }
        var walker = ChainWalker(layout: .packed, table: ring, map: nil, limits: ChainLimits())
        var chosen = PackedRing.decode(ring, location: location, usedIndex: nil, lastAvailIndex: nil, walker: &walker)
        guard !chosen.problems.contains(where: { $0.code == "wrap_pattern" }) else { return false }
        if let usedHint {
            var hintWalker = ChainWalker(layout: .packed, table: ring, map: nil, limits: ChainLimits())
            let hinted = PackedRing.decode(ring, location: location, usedIndex: usedHint, lastAvailIndex: nil, walker: &hintWalker)
            if !hinted.problems.contains(where: { $0.code == "bad_hint" }),
               distance(hinted.deviceUsed, to: hinted.driver) < distance(chosen.deviceUsed, to: chosen.driver) {
                chosen = hinted
            }
        }
        let d = count(chosen.driver)
        var u = count(chosen.deviceUsed)
        if u > d { u -= 2 * n }
        driverCount = d
        usedCount = u
        if usedCount < 0 {
            driverCount += 2 * n
            usedCount += 2 * n
        }
        outstanding = [:]
        outstandingCount = 0
        hidden = HiddenSlots()
        for chain in chosen.available {
            var p = count(PackedRing.Position(index: chain.slot, wrap: chain.wrap))
            while p < usedCount { p += 2 * n }
            add(chain.bufferID, Outstanding(slots: max(1, chain.chain.ringDescriptors),
                                            tentative: chain.slot == chosen.available.first?.slot && chosen.deviceUsedSource == .estimated,
                                            position: p,
                                            address: ring[Int(chain.slot) % n].address.rawValue, poll: -1, event: 0))
        }
        started = true
        return true
    }

    /// What changed since the previous read: `ring` is the whole descriptor ring read now. Before
    /// ``start(_:location:usedHint:)`` succeeded, or for a ring of the wrong size, nothing.
    ///
    /// Events come in an order consistent with the ring: `lapped` first, then used and available
    /// events such that a buffer's `available` event always precedes its `used` one.
    public mutating func advance(_ ring: [Descriptor]) -> [RingEvent] {
        let n = size
        guard started, n > 0, ring.count == n else { return [] }
        polls &+= 1
        var events: [RingEvent] = []

        // How far the driver moved, and what of it can still be read.
        let moved = driverMove(ring)
        let end = driverCount + moved
        var a = driverCount
        if moved > n {
            events.append(event(.lapped(ring: .avail, missed: moved - n), at: driverCount))
            a = end - n
        }
        if usedCount < end - n {
            // The driver rewrote slots whose used descriptors were never read.
            events.append(event(.lapped(ring: .used, missed: end - n - usedCount), at: usedCount))
            let oldestReadable = end - n
            usedCount = oldestReadable
            forgetOutstanding { $0.position < oldestReadable }
            hidden.removeAll(before: usedCount)
        }

        // Buffers made available since the last read, in ring order.
        var available: [RingEvent] = []
        var afterHidden = moved > n
        while a < end {
            let head = ring[slot(a)]
            if head.usedBit != wrap(a) {
                var k = 1
                while a + k < end, ring[slot(a + k - 1)].hasNext, ring[slot(a + k)].usedBit != wrap(a + k) { k += 1 }
                let id = ring[slot(a + k - 1)].id
                add(id, Outstanding(slots: k, tentative: afterHidden, position: a, address: head.address.rawValue, poll: polls,
                                    event: available.count))
                available.append(event(.available(head: id), at: a))
                a += k
                afterHidden = false
            } else {
                hidden.append(a)
                a += 1
                afterHidden = true
            }
        }

        // Buffers returned, from the device's used position; available events go out before the
        // used event of their buffer.
        var flushed = 0
        func flush(through index: Int) {
            while flushed <= index && flushed < available.count {
                events.append(available[flushed])
                flushed += 1
            }
        }
        var scan = usedCount
        while usedCount < end {
            let d = ring[slot(usedCount)]
            guard isUsed(ring, usedCount) else {
                // Still available: in flight, or skipped by the device (the rest of a chain whose
                // slot count was not seen). A used descriptor further on says which.
                scan = max(scan, usedCount + 1)
                while scan < end && !isUsed(ring, scan) { scan += 1 }
                guard scan < end else { break }
                usedCount = scan
                continue
            }
            let id = d.id
            var slots = 1
            var late: RingEvent?
            let oldest = outstanding[id]?.first
            if hidden.contains(usedCount),
               oldest.map({ $0.position > usedCount && $0.address == d.address.rawValue }) ?? true {
                // The buffer the driver put on this very slot, never seen available (if the ID is
                // also in flight from a later slot, that is this buffer made available again: the
                // device left the buffer's address in the slot).
                late = event(.available(head: id), at: usedCount)
                hidden.remove(usedCount)
            } else if let o = oldest {
                removeOldest(id)
                // The remembered slot count only when it is certain: the used descriptor sits on
                // the buffer's own first slot, its whole chain was read, and the device has only
                // ever completed in order (after an out-of-order completion an ID's entries may be
                // stale). Otherwise one slot: moving on too little costs nothing (the ring shows
                // where the device went on), too much would pass used descriptors.
                if o.position != usedCount { outOfOrderSeen = true }
                slots = o.position == usedCount && !o.tentative && !outOfOrderSeen ? o.slots : 1
                if o.poll == polls { flush(through: o.event) }
            } else if let oldest = hidden.removeOldest() {
                outOfOrderSeen = true
                late = event(.available(head: id), at: oldest)
            }
            if let late { events.append(late) }
            events.append(event(.used(id: UInt32(id), length: d.length), at: usedCount))
            var next = usedCount + 1
            while next < min(usedCount + slots, end) && !isUsed(ring, next) { next += 1 }
            usedCount = next
        }
        flush(through: available.count - 1)

        driverCount = end
        while hidden.count > n { _ = hidden.removeOldest() }
        if usedCount >= 2 * n {
            let shift = usedCount / (2 * n) * (2 * n)
            driverCount -= shift
            usedCount -= shift
            for key in outstanding.keys {
                for i in outstanding[key]!.indices { outstanding[key]![i].position -= shift }
            }
            hidden.shift(by: shift)
        }
        return events
    }

    // MARK: Buffers in flight

    /// Records a buffer made available; beyond 2N entries (only a confused or hostile ring gets
    /// there) the oldest are forgotten.
    private mutating func add(_ id: UInt16, _ o: Outstanding) {
        outstanding[id, default: []].append(o)
        outstandingCount += 1
        if outstandingCount > 2 * size {
            let all = outstanding.values.flatMap { $0.map(\.position) }.sorted()
            let cut = all[all.count - size]
            forgetOutstanding { $0.position < cut }
        }
    }

    private mutating func removeOldest(_ id: UInt16) {
        guard var list = outstanding[id], !list.isEmpty else { return }
        list.removeFirst()
        outstanding[id] = list.isEmpty ? nil : list
        outstandingCount -= 1
    }

    private mutating func forgetOutstanding(where drop: (Outstanding) -> Bool) {
        var kept: [UInt16: [Outstanding]] = [:]
        var total = 0
        for (id, list) in outstanding {
            let rest = list.filter { !drop($0) }
            if !rest.isEmpty { kept[id] = rest; total += rest.count }
        }
        outstanding = kept
        outstandingCount = total
    }

    // MARK: Positions

    /// Slots the driver moved since the last read: where the AVAIL pattern changes now, counted
    /// from the old position (0 ..< 2N; more than N is a lap). A pattern that changes more than once
    /// (a torn read) is followed only as far as the AVAIL bits match from the old position (at most N).
    private func driverMove(_ ring: [Descriptor]) -> Int {
        let n = size
        let x = ring[0].availBit
        var change: Int?
        for i in 1..<max(1, n) where ring[i].availBit != x {
            change = i
            break
        }
        var clean = true
        if let change {
            for i in change..<n where ring[i].availBit == x {
                clean = false
                break
            }
        }
        if clean {
            let now = change.map { $0 + (x ? 0 : n) } ?? (x ? n : 0)
            return floorMod(now - driverCount, 2 * n)
        }
        var k = 0
        while k < n && ring[slot(driverCount + k)].availBit == wrap(driverCount + k) { k += 1 }
        return k
    }

    private func isUsed(_ ring: [Descriptor], _ a: Int) -> Bool {
        let d = ring[slot(a)], w = wrap(a)
        return d.availBit == w && d.usedBit == w
    }

    private func slot(_ a: Int) -> Int { floorMod(a, size) }
    private func wrap(_ a: Int) -> Bool { floorMod(floorDiv(a, size), 2) == 0 }
    private func position(_ a: Int) -> PackedRing.Position {
        PackedRing.Position(index: UInt16(truncatingIfNeeded: slot(a)), wrap: wrap(a))
    }
    private func count(_ p: PackedRing.Position) -> Int { Int(p.index) % size + (p.wrap ? 0 : size) }
    /// Slots from `p` forward to `q` (0 ..< 2N).
    private func distance(_ p: PackedRing.Position, to q: PackedRing.Position) -> Int { floorMod(count(q) - count(p), 2 * size) }

    private func event(_ kind: RingEvent.Kind, at a: Int) -> RingEvent {
        RingEvent(queue: queue, kind: kind, index: UInt16(truncatingIfNeeded: slot(a)), wrap: wrap(a))
    }
}

/// Hidden slots (made available, overwritten by the device before they were read), oldest first:
/// membership, removal and the oldest in O(1) amortized.
private struct HiddenSlots: Sendable {
    private var live: Set<Int> = []
    private var order: [Int] = []
    private var head = 0

    var count: Int { live.count }

    func contains(_ position: Int) -> Bool { live.contains(position) }

    /// Adds a position; positions come in increasing order.
    mutating func append(_ position: Int) {
        if live.insert(position).inserted { order.append(position) }
    }

    mutating func remove(_ position: Int) { live.remove(position) }

    mutating func removeOldest() -> Int? {
        defer { compact() }
        while head < order.count {
            let p = order[head]
            head += 1
            if live.remove(p) != nil { return p }
        }
        return nil
    }

    mutating func removeAll(before position: Int) {
        while head < order.count && order[head] < position {
            live.remove(order[head])
            head += 1
        }
        compact()
    }

    mutating func shift(by amount: Int) {
        order = order[head...].filter { live.contains($0) }.map { $0 - amount }
        head = 0
        live = Set(order)
    }

    private mutating func compact() {
        if head > 64 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}

private func floorMod(_ a: Int, _ b: Int) -> Int {
    let r = a % b
    return r < 0 ? r + b : r
}

private func floorDiv(_ a: Int, _ b: Int) -> Int {
    a >= 0 ? a / b : -((-a + b - 1) / b)
}
