import VQCore

/// ``Inspector/refresh(now:)``: everything a frame reads from the target.
extension Inspector {
    /// Per-frame reads: whether the target lives, the VM's state (at most once a second), a snapshot
    /// of the selected queue, the indirect table and hexdump bytes on screen. Frozen, only what the
    /// user moved to and was never read is read.
    public func refresh(now: Double) {
        guard exitReason == nil else { return }
        guard source.isAlive() else {
            targetExited("the target exited", now: now)
            return
        }
        checkRunState(now: now)
        let t = seconds(now)
        let q = state.nav.queue
        var selectedSnapshot: RingSnapshot?
        if !state.frozen || frame.ring?.queue != q {
            captureRing(now: now)
            guard exitReason == nil else { return }
            if frame.ring?.queue == q { selectedSnapshot = frame.ring?.snapshot }
        }
        checkPackedStep(now: now)
        judgeHealth(selected: selectedSnapshot, now: now)
        guard exitReason == nil else { return }
        if !state.frozen {
            frame.queues = queueRows(at: t, previous: frame.queues, visible: screenHeight.map(visibleQueueRows(height:)))
            frame.eventLimit = log.nextSequence
            frame.time = t
        } else if frame.queues.count != queues.count {
            frame.queues = queueRows(at: t, previous: [])
        }
        captureTable(now: now)
        guard exitReason == nil else { return }
        captureHex(now: now)
    }

    /// Feeds each queue's health monitor: the selected queue's fresh snapshot, and a snapshot of
    /// another queue only when its monitor asks for one (most frames read nothing more). Stalls
    /// starting and ending go to the event log.
    func judgeHealth(selected: RingSnapshot?, now: Double) {
        let t = seconds(now)
        for i in health.indices where queues.indices.contains(i) && queues[i].location.size > 0 {
            var snapshot = i == state.nav.queue ? selected : nil
            if snapshot == nil, health[i].monitor.wantsSnapshot(at: t) {
                do {
                    snapshot = try source.snapshot(queues[i])
                } catch {
                    if case .processGone = error { return targetExited("the target exited (\(error.description))", now: now) }
                }
            }
            guard let snapshot, let change = health[i].monitor.observe(snapshot, at: t) else { continue }
            log.append(change, queue: i, at: t)
        }
    }

    /// The queue list's rows at inspector time `t`, marking indexes that moved since `previous`.
    /// Rows outside `visible` (when given) get only what the list's layout needs (their labels):
    /// their rates, activity and health are left out (``QueueRow/detailed`` false).
    func queueRows(at t: Double, previous: [QueueRow], visible: Range<Int>? = nil) -> [QueueRow] {
        if queueLabels.count != queues.count { queueLabels = queues.map(\.label) }
        var rows: [QueueRow] = []
        rows.reserveCapacity(queues.count)
        for i in queues.indices {
            let layout = queues[i].location.layout, size = queues[i].location.size
            let availIndex = activity[i].availIndex, usedIndex = activity[i].usedIndex
            if let visible, !visible.contains(i) {
                var row = QueueRow(label: queueLabels[i], layout: layout, backend: queues[i].backendName, size: size,
                                   avail: availIndex, used: usedIndex, inFlight: nil, rate: 0, activity: [])
                row.packed = activity[i].packed
                row.detailed = false
                rows.append(row)
                continue
            }
            var inFlight = activity[i].inFlight
            var packed = activity[i].packed
            if inFlight == nil, let ring = frame.ring, ring.queue == i, case .packed(let p)? = ring.snapshot {
                // The selected ring, read now: its chains and positions, not the last poll's.
                inFlight = p.available.count
                packed = PackedPositions(driver: p.driver, deviceUsed: p.deviceUsed)
            } else if inFlight == nil, let positions = packed {
                inFlight = positions.inFlightSlots(size: size)
            }
            var row = QueueRow(label: queueLabels[i], layout: layout, backend: queues[i].backendName, size: size, avail: availIndex,
                               used: usedIndex, inFlight: inFlight, rate: activity[i].rate(at: t),
                               activity: activity[i].perSecond(last: QueueListPane.sparklineSeconds, at: t),
                               health: i < health.count ? health[i].monitor.badge(at: t) : nil)
            row.packed = packed
            if previous.count == queues.count, previous[i].label == row.label {
                row.availChanged = previous[i].avail != row.avail || previous[i].packed?.driver != row.packed?.driver
                row.usedChanged = previous[i].used != row.used || previous[i].packed?.deviceUsed != row.packed?.deviceUsed
            }
            rows.append(row)
        }
        return rows
    }

    /// The selected queue, whose buffers and tables the panes show.
    var selectedQueue: Virtqueue? { queues.indices.contains(state.nav.queue) ? queues[state.nav.queue] : nil }

    /// Memory at one of the selected queue's addresses.
    func read(at address: GuestPhysicalAddress, count: Int) throws(MemoryError) -> [UInt8] {
        guard let queue = selectedQueue else { return try source.read(at: address, count: count) }
        return try source.read(at: address, count: count, queue: queue)
    }

    /// A snapshot of the selected queue, with its owners, recent history and payloads.
    func captureRing(now: Double) {
        let q = state.nav.queue
        guard queues.indices.contains(q) else {
            frame.ring = nil
            return
        }
        let queue = queues[q]
        var ring = RingFrame(queue: q)
        do {
            ring.snapshot = try source.snapshot(queue)
        } catch {
            if case .processGone = error { return targetExited("the target exited (\(error.description))", now: now) }
            ring.error = error.description
        }
        let t = seconds(now)
        if let previous = frame.ring, previous.queue == q, previous.error == nil, ring.error == nil, previous.snapshot == ring.snapshot,
           t >= previous.readAt, t - previous.readAt < Self.stillFrameInterval {
            // A still ring: its chains, history and payloads as read, for up to a second (a buffer
            // rewritten under unchanged indexes shows within it); nothing marked changed any more.
            if previous.hasChanges { frame.ring?.clearChanges(revision: nextRevision()) }
            return
        }
        ring.revision = nextRevision()
        ring.readAt = t
        // Chains often repeat within a frame (a driver that reuses one head for each request puts
        // it in every history entry): each distinct chain and length is decoded once.
        var decoded: [PayloadKey: DevicePayload?] = [:]
        func payload(of chain: Chain, completedLength: UInt32?) -> DevicePayload? {
            let key = PayloadKey(chain: chain, completedLength: completedLength)
            if let known = decoded[key] { return known }
            let payload = source.payload(of: chain, queue: queue, completedLength: completedLength)
            decoded[key] = payload
            return payload
        }
        switch ring.snapshot {
        case .split(let s)?:
            for entry in s.inFlight {
                guard let chain = entry.chain else { continue }
                var i = Int(entry.head)
                for _ in 0..<max(1, chain.ringDescriptors) where s.descriptors.indices.contains(i) {
                    ring.owners[UInt16(i)] = .live(entry.position)
                    guard s.descriptors[i].hasNext else { break }
                    i = Int(s.descriptors[i].next)
                }
            }
            ring.history = history(of: s, queue: queue)
            for entry in s.inFlight.prefix(Self.payloadLimit) {
                if let chain = entry.chain, let payload = payload(of: chain, completedLength: nil) {
                    ring.payloads[.live(entry.position)] = payload
                }
            }
            for done in ring.history {
                if let chain = done.chain, let payload = payload(of: chain, completedLength: done.length) {
                    ring.payloads[.history(done.position)] = payload
                }
            }
        case .packed(let p)?:
            let n = p.descriptors.count
            for c in p.available where n > 0 {
                for k in 0..<max(1, c.chain.ringDescriptors) { ring.owners[UInt16((Int(c.slot) + k) % n)] = .live(c.slot) }
            }
            for c in p.available.prefix(Self.payloadLimit) {
                if let payload = payload(of: c.chain, completedLength: nil) {
                    ring.payloads[.live(c.slot)] = payload
                }
            }
        case nil:
            break
        }
        if let previous = frame.ring { ring.compare(with: previous) }
        frame.ring = ring
    }

    /// A chain and the length its device wrote, as a frame decodes their payload once.
    struct PayloadKey: Hashable {
        var chain: Chain
        var completedLength: UInt32?
    }

    /// A fresh ``RingFrame/revision``.
    func nextRevision() -> Int {
        defer { nextRingRevision &+= 1 }
        return nextRingRevision
    }

    /// The chains of the last few used entries, walked over today's descriptors and indirect tables
    /// (all of them read in one batch, through the memory the queue's device reaches).
    func history(of s: SplitRing.Snapshot, queue: Virtqueue) -> [CompletedChain] {
        let n = s.descriptors.count
        guard n > 0 else { return [] }
        var result: [CompletedChain] = []
        for k in 1...min(Self.historyLength, n) where Int(s.used.index) >= k {
            let position = s.used.index &- UInt16(k)
            let element = s.used.ring[Int(position) % n]
            result.append(CompletedChain(position: position, id: element.id, length: element.length, chain: nil))
        }
        let walked = result.indices.filter { Int(result[$0].id) < n }
        let heads = walked.map { UInt16(result[$0].id) }
        let limits = ChainLimits(maxIndirectEntries: Self.tableEntryLimit)
        let chains: [Chain]
        if let memory = try? source.memory(for: queue) {
            chains = Chain.split(heads: heads, table: s.descriptors, memory: memory, limits: limits)
        } else {
            // Its addresses cannot be translated now: the chains without their tables.
            chains = heads.map { Chain.split(head: $0, table: s.descriptors, map: source.slotMap(for: queue), limits: limits) }
        }
        for (k, i) in walked.enumerated() { result[i].chain = chains[k] }
        return result
    }

    /// While stepping on a packed queue: checks the ring positions in a fresh snapshot.
    func checkPackedStep(now: Double) {
        guard case let .stepping(q, _, .packed, _) = stepper.phase, queues.indices.contains(q) else { return }
        var snapshot: RingSnapshot?
        if let ring = frame.ring, ring.queue == q, !state.frozen {
            snapshot = ring.snapshot
        } else {
            snapshot = try? source.snapshot(queues[q])
        }
        if case .packed(let p)? = snapshot, let moved = stepper.movement(of: q, snapshot: p) {
            completeStep(moved, now: now)
        }
    }

    /// The indirect table the descriptor view shows, if any.
    func captureTable(now: Double) {
        guard let ref = state.nav.table else {
            frame.table = nil
            return
        }
        if state.frozen, frame.table?.ref == ref { return }
        var table = TableFrame(ref: ref)
        let count = min(ref.entries, Self.tableEntryLimit) * Descriptor.byteCount
        do {
            let bytes = try read(at: ref.address, count: count)
            table.descriptors = Descriptor.decode(bytes, layout: ref.layout)
        } catch {
            if case .processGone = error { return targetExited("the target exited (\(error.description))", now: now) }
            table.error = error.description
        }
        if let previous = frame.table, previous.ref == ref, table.error == nil {
            table.changed = RingFrame.differences(previous.descriptors, table.descriptors)
        }
        frame.table = table
    }

    /// The bytes of the buffer the hexdump pane shows.
    func captureHex(now: Double) {
        guard let target = currentBuffer() else {
            frame.hex = nil
            return
        }
        let offset = min(state.nav.hexOffset, Int(min(target.length, UInt64(Int.max))))
        if state.frozen, let hex = frame.hex, hex.target == target, hex.offset == offset { return }
        var hex = HexFrame(target: target, offset: offset)
        let count = Int(min(UInt64(Self.hexWindow), target.length - UInt64(offset)))
        if count > 0 {
            do {
                let at = GuestPhysicalAddress(target.address.rawValue &+ UInt64(offset))
                hex.bytes = try read(at: at, count: count)
            } catch {
                if case .processGone = error { return targetExited("the target exited (\(error.description))", now: now) }
                hex.error = error.description
            }
        }
        if let previous = frame.hex, previous.target == target, previous.error == nil {
            for (i, byte) in hex.bytes.enumerated() {
                let old = offset + i - previous.offset
                if old >= 0, old < previous.bytes.count, previous.bytes[old] != byte { hex.changed.insert(offset + i) }
            }
        }
        frame.hex = hex
    }
}
