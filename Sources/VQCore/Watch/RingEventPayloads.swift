/// What the chains of `watch`'s events carry, decoded as `dump` decodes them, poll after poll.
///
/// A poll sees a ring at two instants only, and a driver frees (and may rewrite, and post again
/// under the same head) what it wrote once the device used a chain, so bytes read after a poll are
/// an event's own only where the ring proves it. A payload is given only then, never guessed:
///
/// - **Per-head pairing.** Within a poll each head (split) or buffer ID (packed) is counted: how
///   often it was made available (a) and used (u). A head is never in flight twice, so its events
///   alternate, and with its state before the poll (in flight or not; known from earlier polls) the
///   counts give its state after: `a == u + 1` means it was free and ends in flight, `u == a + 1`
///   that it was in flight and ends free; `a == u` keeps a known state and leaves an unknown one
///   undecided. The state of every head becomes known when the ring holds nothing in flight
///   (`avail.idx == used.idx`; a packed ring's positions equal), a split ring holds as many chains
///   as descriptors (all heads in flight), or the heads known in flight are all of them; a lap
///   forgets it.
/// - An **available** event gets the chain's request (what the driver wrote) only when it is its
///   head's last in the poll and the head ends the poll in flight (packed rings: made available once
///   in the poll, its slot in the poll's ring read still the chain the driver wrote). Its payload
///   is kept for the head's `used` event.
/// - A **used** event gets the payload kept for its head when it completes that chain (the head's
///   first `used` of the poll). On a queue of receive buffers (``QueueRole/Flow/receive``: input
///   events, entropy, received packets) a buffer with nothing device-readable is decoded instead
///   from what the device wrote, at the addresses the chain had while in flight (a split ring's
///   chain read while known in flight; a packed ring's from the ring read that saw it made
///   available), when the buffer ends the poll used (not posted again) and no other chain made
///   available in the poll covers the same bytes.
/// - **The confirming read.** After the bytes are read the ring is read again: a chain in flight
///   keeps its payload only if the device has not used its head since the poll's read (split: none
///   of the used entries from ``RingWatcher/eventIndexes(of:)``' `used.idx` to the current one names it;
///   packed: no new used descriptor names it, and the driver rewrote no slot that read as
///   available, which would hide one), so the driver cannot have freed it while it was read; used receive buffers keep theirs only if the driver made nothing available since
///   (`avail.idx` still there; no slot rewritten as available).
///
/// Everything else has none (`nil`): a head made available and completed in the same poll, one
/// whose state cannot be decided, a ring that moved during the read.
public struct RingEventPayloads {
    /// A descriptor's size in a split table and a packed ring (virtio 1.2, 2.7.5 and 2.8.13).
    static let descriptorSize = 16
    /// Most chains remembered per queue (a ring's size at most, so this only bounds odd rings).
    static let maxRemembered = 32_768

    /// Whether a head (split) or buffer ID (packed) is in flight.
    enum Flight: Sendable, Equatable { case inFlight, free, unknown }

    /// Each head's state: `known` where it differs from `rest`.
    struct Heads: Sendable {
        var known: [UInt32: Flight] = [:]
        var rest: Flight = .unknown

        func state(_ id: UInt32) -> Flight { known[id] ?? rest }
        mutating func set(_ id: UInt32, _ s: Flight) { known[id] = s == rest ? nil : s }
        mutating func reset(_ s: Flight) { known = [:]; rest = s }
        /// Heads known in flight, when `rest` is not in flight.
        var knownInFlight: Int { known.values.reduce(0) { $0 + ($1 == .inFlight ? 1 : 0) } }

        /// The state after `available` and `used` events from `start` (a head's events alternate).
        static func after(_ start: Flight, available a: Int, used u: Int) -> (start: Flight, end: Flight) {
            var s = start
            if s == .unknown {
                if a == u + 1 { s = .free } else if u == a + 1 { s = .inFlight } else { return (.unknown, .unknown) }
            }
            switch s {
            case .inFlight: return a == u ? (s, .inFlight) : u == a + 1 ? (s, .free) : (.unknown, .unknown)
            case .free: return a == u ? (s, .free) : a == u + 1 ? (s, .inFlight) : (.unknown, .unknown)
            case .unknown: return (.unknown, .unknown)
            }
        }
    }

    /// What is kept of one queue between polls.
    struct QueueState: Sendable {
        var heads = Heads()
        /// Payloads of chains in flight, read while in flight, by head or buffer ID.
        var kept: [UInt32: DevicePayload] = [:]
        /// Receive queues: the chains of buffers in flight, read while in flight.
        var chains: [UInt32: Chain] = [:]
        /// The role the queue was last decoded with, and whether it receives (``QueueRole/Flow/receive``).
        var role: (role: PayloadRole, receives: Bool)?
        /// Where the ring stood when the queue was last decoded (split: the event indexes; packed:
        /// the positions), and whether chains in flight were left to read then. A poll without
        /// events that finds the ring there and nothing left to read changes nothing, and is skipped.
        var decodedAt: Position?
        var capturesLeft = false

        mutating func forget(_ id: UInt32) { kept[id] = nil; chains[id] = nil }
        mutating func reset() { heads.reset(.unknown); kept = [:]; chains = [:] }
    }

    /// Where a ring stands after a poll, as the payloads' bookkeeping reads it.
    struct Position: Equatable, Sendable {
        var available: UInt16?, used: UInt16?
        var driver: PackedRing.Position?, deviceUsed: PackedRing.Position?

        init(queue q: Int, watcher: RingWatcher) {
            let indexes = watcher.eventIndexes(of: q)
            available = indexes.available
            used = indexes.used
            let positions = watcher.packedPositions(of: q)
            driver = positions?.driver
            deviceUsed = positions?.deviceUsed
        }
    }

    /// Each watched queue's state, by its position in the watcher.
    private var queues: [QueueState?] = []

    /// Nothing seen yet.
    public init() {}

    /// The payload of each of `events` (one poll of `watcher`, in ring order: see
    /// ``RingWatcher/inRingOrder(_:queues:)``), in the same order; nil where the queue has no decoder
    /// (`roles[queue]` nil), the chain cannot be read, or its bytes cannot be shown to be its own.
    /// Call it after every poll, also those without events (the rings' states are followed); `read`
    /// is the poll's `only` (``RingWatcher/poll(only:)``), when it read some queues only.
    public mutating func decode(_ events: [RingEvent], watcher: RingWatcher, roles: [PayloadRole?], read: [Bool]? = nil) -> [DevicePayload?] {
        var payloads = [DevicePayload?](repeating: nil, count: events.count)
        let count = watcher.queues.count
        if queues.count < count { queues += [QueueState?](repeating: nil, count: count - queues.count) }
        var byQueue = [[Int]](repeating: [], count: count)
        for (k, event) in events.enumerated() where event.queue >= 0 && event.queue < count { byQueue[event.queue].append(k) }
        for q in 0..<min(count, roles.count) {
            guard let role = roles[q] else { continue }
            let queueEvents = byQueue[q]
            if queueEvents.isEmpty, let state = queues[q], !state.capturesLeft, state.role?.role == role {
                // Nothing happened on a ring the poll did not read, or whose state was already
                // followed to where it stands.
                if let read, q < read.count, !read[q] { continue }
                if state.decodedAt == Position(queue: q, watcher: watcher) { continue }
            }
            let position = Position(queue: q, watcher: watcher)
            // Taken out while it changes, so that its tables are not copied (a receive queue keeps
            // a chain per buffer in flight).
            var state = queues[q] ?? QueueState()
            queues[q] = nil
            if state.role?.role != role {
                state.role = (role, QueueRole(deviceName: role.device, index: role.queueIndex, queueCount: role.queueCount).flow == .receive)
            }
            decode(queueEvents.map { (i: $0, event: events[$0]) }, queue: q, role: role, watcher: watcher, state: &state, into: &payloads)
            state.decodedAt = position
            if state.kept.count > Self.maxRemembered || state.chains.count > Self.maxRemembered || state.heads.known.count > Self.maxRemembered {
                state.reset()
            }
            queues[q] = state
        }
        return payloads
    }

    private func decode(_ events: [(i: Int, event: RingEvent)], queue q: Int, role: PayloadRole, watcher: RingWatcher,
                        state: inout QueueState, into payloads: inout [DevicePayload?]) {
        let memory = watcher.memories[q]
        let location = watcher.queues[q]
        let receiveQueue = state.role?.receives ?? false
        let restBefore = state.heads.rest
        let snapshot = location.layout == .packed ? watcher.packedRing(q) : nil

        // Per-head pairing: each head's avail and used events, in ring order.
        var availOf: [UInt32: [Int]] = [:], usedOf: [UInt32: [Int]] = [:]
        var lapped = false
        for (k, e) in events.enumerated() {
            switch e.event.kind {
            case .available(let head): availOf[UInt32(head), default: []].append(k)
            case .used(let id, _): usedOf[id, default: []].append(k)
            case .lapped: lapped = true
            }
        }
        if lapped { state.reset() }
        var ends: [UInt32: (start: Flight, end: Flight)] = [:]
        for id in Set(availOf.keys).union(usedOf.keys) {
            ends[id] = Heads.after(state.heads.state(id), available: availOf[id]?.count ?? 0, used: usedOf[id]?.count ?? 0)
        }

        var table: [Descriptor]?
        func splitTable() -> [Descriptor]? {
            if table == nil, let raw = try? memory.bytes(at: location.descriptors, count: Int(location.size) * Self.descriptorSize) {
                table = Descriptor.decode(raw, layout: .split)
            }
            return table
        }
        /// A packed avail event's chain from the poll's ring read, if its slot still holds it there.
        func packedChain(_ event: RingEvent, id: UInt16) -> Chain? {
            guard let ring = snapshot, Int(event.index) < ring.count, let wrap = event.wrap else { return nil }
            let d = ring[Int(event.index)]
            guard d.id == id, d.flags.contains(.avail) == wrap, d.flags.contains(.used) != wrap else { return nil }
            let chain = Chain.packed(head: event.index, ring: ring, memory: memory)
            return chain.problems.isEmpty ? chain : nil
        }

        // Used events: the payload kept for the chain each completes.
        for (id, positions) in usedOf {
            if ends[id]?.start == .inFlight, let kept = state.kept[id] { payloads[events[positions[0]].i] = kept }
            state.kept[id] = nil
        }

        // Split rings: the chains of heads made available that end the poll in flight, walked
        // together (their indirect tables in one batched read).
        var splitChains: [UInt32: Chain] = [:]
        if location.layout == .split {
            let heads = availOf.keys.filter { ends[$0]?.end == .inFlight }.sorted()
            if !heads.isEmpty, let table = splitTable() {
                let chains = Chain.split(heads: heads.map { UInt16(truncatingIfNeeded: $0) }, table: table, memory: memory)
                for (head, chain) in zip(heads, chains) { splitChains[head] = chain }
            }
        }

        // Available events whose chains are in flight at the end of the poll.
        var fresh: [(i: Int, id: UInt32, chain: Chain, payload: DevicePayload?)] = []
        // The bytes of chains made available in the poll (a receive buffer's bytes must be none of them).
        var posted: [(id: UInt32, range: Range<UInt64>)] = []
        var postedUnknown = false
        for (id, positions) in availOf {
            let end = ends[id]?.end ?? .unknown
            for (n, k) in positions.enumerated() {
                let (i, event) = events[k]
                var chain: Chain?
                switch location.layout {
                case .split:
                    // A head's table entries are its chain's only while it is in flight.
                    if end == .inFlight && n == positions.count - 1 { chain = splitChains[id] }
                case .packed:
                    chain = packedChain(event, id: UInt16(truncatingIfNeeded: id))
                }
                guard let chain else { postedUnknown = true; continue }
                posted += Self.ranges(chain).map { (id, $0) }
                if end == .inFlight && n == positions.count - 1 && (location.layout == .split || positions.count == 1) {
                    fresh.append((i, id, chain, role.decode(chain, memory: memory)))
                }
            }
        }

        // Receive buffers used and not posted again: what the device wrote.
        var received: [(i: Int, payload: DevicePayload)] = []
        if receiveQueue && !postedUnknown {
            for (id, positions) in usedOf where ends[id]?.end == .free {
                let k = positions[positions.count - 1]
                guard case .used(_, let length) = events[k].event.kind else { continue }
                let chain: Chain?
                if let avails = availOf[id] {
                    // Made available in this poll and used after: a packed ring's read of it.
                    chain = location.layout == .packed && avails.count == 1 ? packedChain(events[avails[0]].event, id: UInt16(truncatingIfNeeded: id)) : nil
                } else {
                    chain = state.chains[id]
                }
                guard let chain, chain.readableBytes == 0, chain.writableBytes > 0, chain.problems.isEmpty,
                      !Self.ranges(chain).contains(where: { r in posted.contains { $0.id != id && $0.range.overlaps(r) } }),
                      let payload = role.decode(chain, memory: memory, completedLength: length) else { continue }
                received.append((events[k].i, payload))
            }
        }

        // The new states; heads that are no longer in flight keep nothing.
        for (id, e) in ends {
            state.heads.set(id, e.end)
            if e.end != .inFlight || availOf[id] != nil { state.forget(id) }
        }
        bootstrap(&state.heads, queue: q, watcher: watcher)

        // Receive queues: chains of heads in flight not yet read (a split ring's buffers posted before the watch).
        var captures: [(id: UInt32, chain: Chain)] = []
        if receiveQueue && location.layout == .split {
            let size = UInt32(location.size)
            // A head comes in flight only by being made available (its events in this poll) or
            // when the ring shows every head in flight; a head in flight loses its chain only when
            // made available again. So after a poll that left nothing to read, only this poll's
            // available heads can lack a chain, unless every head just came in flight.
            let everyHead = state.capturesLeft || state.decodedAt == nil || lapped || (restBefore != .inFlight && state.heads.rest == .inFlight)
            let candidates: [UInt32] = !everyHead
                ? availOf.keys.filter { $0 < size && state.heads.state($0) == .inFlight }
                : state.heads.rest == .inFlight
                ? (0..<size).filter { state.heads.state($0) == .inFlight }
                : state.heads.known.compactMap { $0.value == .inFlight && $0.key < size ? $0.key : nil }
            let freshIDs = Set(fresh.map(\.id))
            let missing = candidates.filter { state.chains[$0] == nil && !freshIDs.contains($0) }
            state.capturesLeft = !missing.isEmpty
            if !missing.isEmpty, let table = splitTable() {
                let ids = missing.sorted()
                for (id, chain) in zip(ids, Chain.split(heads: ids.map { UInt16(truncatingIfNeeded: $0) }, table: table, memory: memory))
                where chain.problems.isEmpty {
                    captures.append((id, chain))
                }
            }
        } else {
            state.capturesLeft = false
        }

        guard !fresh.isEmpty || !received.isEmpty || !captures.isEmpty else { return }
        let (driverStill, usedSince) = ringStill(queue: q, watcher: watcher)
        if let usedSince {
            // Chains still in flight: the driver has not been told they were used, so they are as read.
            for f in fresh where state.heads.state(f.id) == .inFlight && !usedSince.contains(f.id) {
                payloads[f.i] = f.payload
                if let payload = f.payload { state.kept[f.id] = payload }
                if receiveQueue { state.chains[f.id] = f.chain }
            }
            for c in captures where state.heads.state(c.id) == .inFlight && !usedSince.contains(c.id) { state.chains[c.id] = c.chain }
        }
        // A receive buffer in flight whose chain was not kept is read on the next poll.
        if receiveQueue && location.layout == .split && fresh.contains(where: { state.heads.state($0.id) == .inFlight && state.chains[$0.id] == nil }) {
            state.capturesLeft = true
        }
        if driverStill {
            for r in received { payloads[r.i] = r.payload }
        }
    }

    /// The guest bytes of `chain`'s buffers.
    private static func ranges(_ chain: Chain) -> [Range<UInt64>] {
        chain.elements.compactMap { e in
            let start = e.address.rawValue
            let (end, overflow) = start.addingReportingOverflow(UInt64(e.length))
            return overflow || e.length == 0 ? nil : start..<end
        }
    }

    /// What the ring itself says of every head at the end of the poll: nothing in flight, or (split)
    /// every descriptor a chain in flight, or the heads known in flight are all there are.
    private func bootstrap(_ heads: inout Heads, queue q: Int, watcher: RingWatcher) {
        let location = watcher.queues[q]
        switch location.layout {
        case .split:
            let indexes = watcher.eventIndexes(of: q)
            guard let a = indexes.available, let u = indexes.used else { return }
            let inFlight = Int(a &- u)
            if inFlight > Int(location.size) { heads.reset(.unknown) }
            else if inFlight == 0 { heads.reset(.free) }
            else if inFlight == Int(location.size) { heads.reset(.inFlight) }
            else if heads.rest == .unknown && heads.knownInFlight == inFlight {
                heads.known = heads.known.filter { $0.value == .inFlight }
                heads.rest = .free
            }
        case .packed:
            guard let positions = watcher.packedPositions(of: q) else { return }
            if positions.driver == positions.deviceUsed { heads.reset(.free) }
        }
    }

    /// The confirming read, after the chains' bytes: whether the driver has made nothing available
    /// since the poll's read (split: `avail.idx` still at ``RingWatcher/eventIndexes(of:)``; packed: no slot
    /// rewritten as available), and the heads (buffer IDs) the device has used since (split: the used
    /// entries from the poll's `used.idx` to the current one; packed: new used descriptors), `nil`
    /// when that cannot be told.
    private func ringStill(queue q: Int, watcher: RingWatcher) -> (driver: Bool, usedSince: Set<UInt32>?) {
        let memory = watcher.memories[q]
        let location = watcher.queues[q]
        switch location.layout {
        case .split:
            let then = watcher.eventIndexes(of: q)
            guard let availAt = location.driverArea.advanced(by: 2), let usedAt = location.deviceArea.advanced(by: 2),
                  let thenUsed = then.used,
                  let avail = try? memory.load(UInt16.self, at: availAt), let used = try? memory.load(UInt16.self, at: usedAt) else { return (false, nil) }
            let driver = avail == then.available
            guard used != thenUsed else { return (driver, []) }
            // The entries the device added since, read after the index that covers them, then the
            // index again: none of them overwritten unless the device went a whole ring further.
            let size = Int(location.size)
            let layout = SplitRingLayout(location)
            guard Int(used &- thenUsed) <= size,
                  let entriesAt = location.deviceArea.advanced(by: UInt64(layout.usedEntryOffset(0))),
                  let raw = try? memory.bytes(at: entriesAt, count: size * SplitRingLayout.usedEntryBytes),
                  let again = try? memory.load(UInt16.self, at: usedAt), Int(again &- thenUsed) <= size else { return (driver, nil) }
            let view = ByteView(raw)
            var ids = Set<UInt32>()
            var index = thenUsed
            while index != used {
                ids.insert(view.u32(Int(index) % size * SplitRingLayout.usedEntryBytes))
                index &+= 1
            }
            return (driver, ids)
        case .packed:
            guard let ring = watcher.packedRing(q),
                  let raw = try? memory.bytes(at: location.descriptors, count: ring.count * Self.descriptorSize) else { return (false, nil) }
            let now = Descriptor.decode(raw, layout: .packed)
            guard now.count == ring.count else { return (false, nil) }
            // A used descriptor has AVAIL equal to USED; a driver's available one has them differ.
            func isUsed(_ d: Descriptor) -> Bool { d.flags.contains(.avail) == d.flags.contains(.used) }
            var driver = true, hidden = false
            var ids = Set<UInt32>()
            for k in now.indices where now[k] != ring[k] {
                if isUsed(now[k]) {
                    ids.insert(UInt32(now[k].id))
                } else {
                    driver = false
                    // The driver writes a slot only after the device used it: over an available slot,
                    // a used descriptor written and overwritten since the poll's read, unseen.
                    if !isUsed(ring[k]) { hidden = true }
                }
            }
            return (driver, hidden ? nil : ids)
        }
    }
}
