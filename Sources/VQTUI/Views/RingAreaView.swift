import VQCore

/// The driver and device areas: the available and used rings of a split queue; the positions,
/// slot states and event suppression areas of a packed queue.
enum RingAreaView {
    static func driver(_ context: ViewContext) -> ViewContent {
        guard let ring = context.ring, let snapshot = ring.snapshot else { return context.missingRing() }
        switch snapshot {
        case .split(let s): return availRing(s, ring: ring)
        case .packed(let p): return packedDriver(p, ring: ring)
        }
    }

    static func device(_ context: ViewContext) -> ViewContent {
        guard let ring = context.ring, let snapshot = ring.snapshot else { return context.missingRing() }
        switch snapshot {
        case .split(let s): return usedRing(s, ring: ring)
        case .packed(let p): return packedDevice(p, ring: ring)
        }
    }

    // MARK: Split

    /// The newest free-running position written to `slot` before `index`, or `nil` when the ring
    /// has not reached that slot yet (counting from 0).
    static func lastPosition(slot: Int, before index: UInt16, size: Int) -> UInt16? {
        guard size > 0 else { return nil }
        let newest = Int(index &- 1)
        let age = ((newest % size) - slot + size) % size
        guard Int(index) > age else { return nil }
        return index &- 1 &- UInt16(age)
    }

    static func field(_ name: String, _ value: String, changed: Bool) -> [Span] {
        [Span(name + " ", .dim), Span(value, changed ? .changed : .accent)]
    }

    static func availRing(_ s: SplitRing.Snapshot, ring: RingFrame) -> ViewContent {
        let n = s.avail.ring.count
        let f = ring.changedFields
        var first = StyledLine([Span("Available ring ", .title), Span("at \(s.location.driverArea) · ", .normal)])
        first.spans += field("flags", TextFormat.hex(s.avail.flags) + (s.avail.noInterrupt ? " NO_INTERRUPT" : ""), changed: f.contains(.availFlags))
        first.append(" · ")
        first.spans += field("idx", String(s.avail.index), changed: f.contains(.availIndex))
        first.append(" · ")
        first.spans += field("used_event", s.avail.usedEvent.map { String($0) } ?? "n/a", changed: f.contains(.usedEvent))
        var second = StyledLine([Span("in flight ", .dim), Span("\(s.pendingCount)", .good)])
        second.append(" (used.idx \(s.used.index) → avail.idx \(s.avail.index))", .dim)
        let header = [first, second] + ProblemLines.summary(s.problems, limit: 1)
        let columns = StyledLine("   slot" + TextFormat.lpad("head", 7) + TextFormat.lpad("position", 11) + "  state", .header)
        let bad = Set(s.problems.compactMap { p -> Int? in
            if case let .ringEntryOutOfRange(.avail, position, _, _) = p, n > 0 { return Int(position) % n }
            return nil
        })
        let size = n
        return ViewContent(header: header, columns: columns, count: n, makeRow: { slot in
            let head = s.avail.ring[slot]
            let changed = ring.changedAvailSlots.contains(slot)
            let position = lastPosition(slot: slot, before: s.avail.index, size: size)
            var line = StyledLine()
            line.append(bad.contains(slot) ? " ✗ " : changed ? " • " : "   ", bad.contains(slot) ? .error : .changed)
            line.appendRight(String(slot), width: 4, .accent)
            line.appendRight(String(head), width: 7, bad.contains(slot) ? .error : changed ? .changed : .normal)
            line.appendRight(position.map { String($0) } ?? "-", width: 11, .dim)
            line.append("  ")
            if let position, Int(s.avail.index &- 1 &- position) < s.pendingCount {
                line.append("in flight", .good)
                if position == s.avail.index &- 1 { line.append(" · newest", .good) }
            } else if position != nil {
                line.append("returned", .dim)
            } else {
                line.append("never written", .dim)
            }
            if slot == Int(s.avail.index) % max(1, size) { line.append("  ◀ next", .accent) }
            let owner = ring.owners[head]
            let target: FollowTarget? = Int(head) < s.descriptors.count ? .descriptor(Int(head)) : nil
            var values: [UInt64] = [UInt64(slot), UInt64(head)]
            if let position { values.append(UInt64(position)) }
            return ViewRow(line, values: values, follow: target, buffer: descriptorBuffer(s.descriptors, Int(head), owner: owner))
        }, defaultSelection: n > 0 ? Int(s.avail.index &- 1) % n : 0, emptyText: "the ring is empty")
    }

    static func usedRing(_ s: SplitRing.Snapshot, ring: RingFrame) -> ViewContent {
        let n = s.used.ring.count
        let f = ring.changedFields
        var first = StyledLine([Span("Used ring ", .title), Span("at \(s.location.deviceArea) · ")])
        first.spans += field("flags", TextFormat.hex(s.used.flags) + (s.used.noNotify ? " NO_NOTIFY" : ""), changed: f.contains(.usedFlags))
        first.append(" · ")
        first.spans += field("idx", String(s.used.index), changed: f.contains(.usedIndex))
        first.append(" · ")
        first.spans += field("avail_event", s.used.availEvent.map { String($0) } ?? "n/a", changed: f.contains(.availEvent))
        let second = StyledLine("entries before used.idx are completed chains: history; their descriptors may be reused", .dim)
        let header = [first, second]
        let columns = StyledLine("   slot" + TextFormat.lpad("id", 7) + TextFormat.lpad("len", 11) + TextFormat.lpad("position", 11) + "  state", .header)
        let bad = Set(s.problems.compactMap { p -> Int? in
            if case let .ringEntryOutOfRange(.used, position, _, _) = p, n > 0 { return Int(position) % n }
            return nil
        })
        let history = Set(ring.history.map(\.position))
        return ViewContent(header: header, columns: columns, count: n, makeRow: { slot in
            let element = s.used.ring[slot]
            let changed = ring.changedUsedSlots.contains(slot)
            let position = lastPosition(slot: slot, before: s.used.index, size: n)
            let style: CellStyle = bad.contains(slot) ? .error : changed ? .changed : .normal
            var line = StyledLine()
            line.append(bad.contains(slot) ? " ✗ " : changed ? " • " : "   ", bad.contains(slot) ? .error : .changed)
            line.appendRight(String(slot), width: 4, .accent)
            line.appendRight(String(element.id), width: 7, style)
            line.appendRight(String(element.length), width: 11, changed ? .changed : .normal)
            line.appendRight(position.map { String($0) } ?? "-", width: 11, .dim)
            line.append("  ")
            if let position {
                line.append(position == s.used.index &- 1 ? "completed · newest" : "completed", .dim)
            } else {
                line.append("never written", .dim)
            }
            if slot == Int(s.used.index) % max(1, n) { line.append("  ◀ next", .accent) }
            let id = Int(element.id)
            let chain = position.flatMap { history.contains($0) ? ChainID.history($0) : nil }
            var values: [UInt64] = [UInt64(slot), UInt64(element.id), UInt64(element.length)]
            if let position { values.append(UInt64(position)) }
            return ViewRow(line, values: values, follow: id < s.descriptors.count ? .descriptor(id) : nil,
                           buffer: descriptorBuffer(s.descriptors, id, owner: chain))
        }, defaultSelection: n > 0 ? Int(s.used.index &- 1) % n : 0, emptyText: "the ring is empty")
    }

    /// The buffer of descriptor `index` of the queue's own table, if there is one.
    static func descriptorBuffer(_ descriptors: [Descriptor], _ index: Int, owner: ChainID?, layout: RingLayout = .split) -> BufferRef? {
        guard descriptors.indices.contains(index) else { return nil }
        let d = descriptors[index]
        return BufferRef(address: d.address, length: UInt64(d.length), isWritable: d.isWriteOnly,
                         origin: .descriptor(DescriptorPosition(index: UInt16(index))), chain: owner, layout: layout)
    }

    // MARK: Packed

    /// `flags desc · offset 3 wrap 1 (raw 0x8003)`.
    static func suppression(_ name: String, at area: GuestPhysicalAddress, _ e: PackedRing.EventSuppression, changed: Bool) -> StyledLine {
        var line = StyledLine([Span(name + " event suppression ", .title), Span("at \(area) · ")])
        line.spans += field("flags", e.mode.rawValue, changed: changed)
        line.append(" · ")
        line.spans += field("offset", "\(e.offset) wrap \(e.wrap ? 1 : 0)", changed: changed)
        line.append(" (raw \(TextFormat.hex(e.rawDescriptor)), \(TextFormat.hex(e.rawFlags)))", .dim)
        return line
    }

    static func packedDriver(_ p: PackedRing.Snapshot, ring: RingFrame) -> ViewContent {
        let f = ring.changedFields
        var first = StyledLine([Span("Driver ", .title)])
        first.spans += field("next slot", p.driver.description, changed: f.contains(.driverPosition))
        first.append(" · \(p.available.count) chain\(p.available.count == 1 ? "" : "s") available", .normal)
        let header = [first, suppression("Driver", at: p.location.driverArea, p.driverEvent, changed: f.contains(.driverEvent))]
            + ProblemLines.summary(p.problems, limit: 1)
        let columns = StyledLine("   slot" + TextFormat.lpad("id", 7) + TextFormat.lpad("wrap", 6) + TextFormat.lpad("slots", 7)
                                 + TextFormat.lpad("bytes", 10) + "  device", .header)
        let chains = p.available
        return ViewContent(header: header, columns: columns, count: chains.count, makeRow: { i in
            let c = chains[i]
            let changed = ring.changedDescriptors.contains(Int(c.slot))
            var line = StyledLine()
            line.append(changed ? " • " : "   ", .changed)
            line.appendRight(String(c.slot), width: 4, .accent)
            line.appendRight(String(c.bufferID), width: 7, changed ? .changed : .normal)
            line.appendRight(c.wrap ? "1" : "0", width: 6)
            line.appendRight(String(c.chain.ringDescriptors), width: 7)
            line.appendRight(String(c.chain.readableBytes + c.chain.writableBytes), width: 10)
            line.append("  ")
            switch c.consumed {
            case true?: line.append("fetched", .accent)
            case false?: line.append("pending", .good)
            case nil: line.append("available", .good)
            }
            let buffer = c.chain.elements.first.map {
                BufferRef(address: $0.address, length: UInt64($0.length), isWritable: $0.isWritable,
                          origin: .descriptor($0.position), chain: .live(c.slot), layout: .packed)
            }
            return ViewRow(line, values: [UInt64(c.slot), UInt64(c.bufferID)], follow: .descriptor(Int(c.slot)), buffer: buffer)
        }, emptyText: "no chain is available: the device has caught up with the driver")
    }

    static func packedDevice(_ p: PackedRing.Snapshot, ring: RingFrame) -> ViewContent {
        let f = ring.changedFields
        var first = StyledLine([Span("Device ", .title)])
        first.spans += field("used position", "\(p.deviceUsed) \(p.deviceUsedSource.rawValue)", changed: f.contains(.devicePosition))
        first.append(" · ")
        first.spans += field("reads at", p.deviceAvail.map(\.description) ?? "unknown (no hint)", changed: f.contains(.devicePosition))
        let header = [first, suppression("Device", at: p.location.deviceArea, p.deviceEvent, changed: f.contains(.deviceEvent)),
                      StyledLine("used slots: the device wrote id and len; the addresses are the driver's, stale", .dim)]
        let columns = StyledLine("   slot" + TextFormat.lpad("id", 7) + TextFormat.lpad("len", 11) + TextFormat.lpad("wrap", 6), .header)
        let used = p.states.indices.filter { !p.states[$0].isAvailable }
        let descriptors = p.descriptors
        return ViewContent(header: header, columns: columns, count: used.count, makeRow: { i in
            let slot = used[i]
            let d = descriptors[slot]
            let changed = ring.changedDescriptors.contains(slot)
            var line = StyledLine()
            line.append(changed ? " • " : "   ", .changed)
            line.appendRight(String(slot), width: 4, .accent)
            line.appendRight(String(d.id), width: 7, changed ? .changed : .normal)
            line.appendRight(String(d.length), width: 11, changed ? .changed : .normal)
            line.appendRight(d.usedBit ? "1" : "0", width: 6)
            if slot == Int(p.deviceUsed.index) { line.append("  ◀ next", .accent) }
            return ViewRow(line, values: [UInt64(slot), UInt64(d.id), UInt64(d.length)], follow: .descriptor(slot),
                           buffer: descriptorBuffer(descriptors, slot, owner: nil, layout: .packed))
        }, defaultSelection: max(0, (used.lastIndex { $0 < Int(p.deviceUsed.index) }) ?? 0), emptyText: "no slot is used")
    }
}
