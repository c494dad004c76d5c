import VQCore

/// The descriptor table (split), the descriptor ring (packed), or an indirect table followed into.
enum DescriptorTableView {
    /// `NEXT WRITE` (split) or `AVAIL USED NEXT WRITE INDIRECT` (packed): the flags set, by name;
    /// other bits as hex.
    static func flagNames(_ flags: Descriptor.Flags, layout: RingLayout) -> String {
        var names: [String] = []
        var known: Descriptor.Flags = [.next, .write, .indirect]
        if layout == .packed {
            if flags.contains(.avail) { names.append("AVAIL") }
            if flags.contains(.used) { names.append("USED") }
            known.formUnion([.avail, .used])
        }
        if flags.contains(.next) { names.append("NEXT") }
        if flags.contains(.write) { names.append("WRITE") }
        if flags.contains(.indirect) { names.append("INDIRECT") }
        let other = flags.rawValue & ~known.rawValue
        if other != 0 { names.append(TextFormat.hex(other)) }
        return names.isEmpty ? "-" : names.joined(separator: " ")
    }

    /// The selected queue's own table or ring.
    static func content(_ context: ViewContext) -> ViewContent {
        guard let ring = context.ring, let snapshot = ring.snapshot, let queue = context.queue else { return context.missingRing() }
        switch snapshot {
        case .split(let s): return split(s, ring: ring, queue: queue, map: context.slotMap)
        case .packed(let p): return packed(p, ring: ring, queue: queue, map: context.slotMap)
        }
    }

    private static let splitColumns = StyledLine(
        "    idx" + "  " + TextFormat.pad("addr", 17) + TextFormat.lpad("len", 10) + "  " + TextFormat.pad("flags", 20)
            + TextFormat.lpad("next", 4) + "  chain", .header)

    static func split(_ s: SplitRing.Snapshot, ring: RingFrame, queue: Virtqueue, map: SlotMap) -> ViewContent {
        let problems = ProblemIndex(s.allProblems)
        var header = [StyledLine([
            Span("Descriptor table ", .title), Span("at \(s.location.descriptors) · \(s.descriptors.count) entries · "),
            Span("\(s.inFlight.count) chain\(s.inFlight.count == 1 ? "" : "s") in flight", .good),
        ])]
        header += ProblemLines.summary(s.allProblems, limit: 1)
        let descriptors = s.descriptors
        return ViewContent(header: header, columns: splitColumns, count: descriptors.count, makeRow: { i in
            let d = descriptors[i]
            let position = DescriptorPosition(index: UInt16(i))
            let owner = ring.owners[UInt16(i)]
            return row(d, position: position, layout: .split, changed: ring.changedDescriptors.contains(i),
                       problem: problems.role(at: position), owner: owner, tableSize: descriptors.count, map: map)
        }, defaultSelection: s.inFlight.first.map { Int($0.head) }.flatMap { $0 < descriptors.count ? $0 : nil } ?? 0,
           emptyText: "the table is empty")
    }

    /// An indirect table's columns: its entries belong to the chain that names the table.
    private static let tableColumns = StyledLine(
        "    idx" + "  " + TextFormat.pad("addr", 17) + TextFormat.lpad("len", 10) + "  " + TextFormat.pad("flags", 20)
            + TextFormat.lpad("next", 4), .header)

    private static let packedColumns = StyledLine(
        "   slot" + "  " + TextFormat.pad("addr", 17) + TextFormat.lpad("len", 10) + TextFormat.lpad("id", 7) + "  "
            + TextFormat.pad("flags", 22) + "  state", .header)

    static func packed(_ p: PackedRing.Snapshot, ring: RingFrame, queue: Virtqueue, map: SlotMap) -> ViewContent {
        let problems = ProblemIndex(p.allProblems)
        let positions = ring.changedFields.contains(.driverPosition) || ring.changedFields.contains(.devicePosition)
        var header = [StyledLine([
            Span("Descriptor ring ", .title), Span("at \(p.location.descriptors) · \(p.descriptors.count) slots · "),
            Span("driver \(p.driver)", positions ? .changed : .accent), Span(" · "),
            Span("device used \(p.deviceUsed) \(p.deviceUsedSource.rawValue)", positions ? .changed : .accent),
        ])]
        header += ProblemLines.summary(p.allProblems, limit: 1)
        let descriptors = p.descriptors
        let states = p.states
        return ViewContent(header: header, columns: packedColumns, count: descriptors.count, makeRow: { i in
            let position = DescriptorPosition(index: UInt16(i))
            var r = row(descriptors[i], position: position, layout: .packed, changed: ring.changedDescriptors.contains(i),
                        problem: problems.role(at: position), owner: ring.owners[UInt16(i)], tableSize: descriptors.count, map: map)
            if i < states.count {
                let (text, style): (String, CellStyle) = switch states[i] {
                case .available(let w): ("avail w\(w ? 1 : 0)", .good)
                case .used(let w): ("used w\(w ? 1 : 0)", .dim)
                }
                r.line.append("  ")
                r.line.append(text, width: 9, style)
            }
            if i == Int(p.driver.index) { r.line.append(" ◀ driver", .accent) }
            if i == Int(p.deviceUsed.index) { r.line.append(" ◀ device", .accent) }
            if let a = p.deviceAvail, i == Int(a.index) { r.line.append(" ◀ device reads", .accent) }
            return r
        }, defaultSelection: p.available.first.map { Int($0.slot) } ?? Int(p.driver.index), emptyText: "the ring is empty")
    }

    /// An indirect table the user followed into.
    static func indirect(_ ref: IndirectTableRef, context: ViewContext) -> ViewContent {
        var header = [StyledLine([
            Span("Indirect table ", .title),
            Span("at \(ref.address) · \(ref.entries) entr\(ref.entries == 1 ? "y" : "ies") · named by \(ref.layout == .packed ? "slot" : "desc") \(ref.from)"),
            Span("  (Backspace: back)", .dim),
        ])]
        let ring = context.ring
        let owner = ring?.owners[ref.from]
        if let owner, !owner.isLive {
            header.append(StyledLine("history: the table may have been freed and reused", .warning))
        } else if owner == nil {
            header.append(StyledLine("not part of an in-flight chain: the table may be stale", .warning))
        }
        guard let frame = context.frame.table, frame.ref == ref else {
            return ViewContent(header: header + [StyledLine("reading the table…", .dim)], emptyText: "")
        }
        if let error = frame.error {
            return ViewContent(header: header + [StyledLine("cannot read the table: \(error)", .error)], emptyText: "")
        }
        let problems = ProblemIndex(ring?.snapshot?.allProblems ?? [])
        let descriptors = frame.descriptors
        let columns = ref.layout == .packed ? packedColumns : tableColumns
        return ViewContent(header: header, columns: columns, count: descriptors.count, makeRow: { i in
            let position = DescriptorPosition(index: UInt16(truncatingIfNeeded: i), table: ref.address)
            return row(descriptors[i], position: position, layout: ref.layout, changed: frame.changed.contains(i),
                       problem: problems.role(at: position), owner: owner, tableSize: descriptors.count,
                       map: context.slotMap, inIndirectTable: true)
        }, emptyText: "the table is empty")
    }

    /// One descriptor's row.
    static func row(_ d: Descriptor, position: DescriptorPosition, layout: RingLayout, changed: Bool, problem: CellStyle.Role?,
                    owner: ChainID?, tableSize: Int, map: SlotMap, inIndirectTable: Bool = false) -> ViewRow {
        let data: CellStyle = changed ? .changed : .normal
        var line = StyledLine()
        if let problem {
            line.append(" ✗ ", CellStyle(problem, bold: true))
        } else {
            line.append(changed ? " • " : "   ", .changed)
        }
        line.appendRight(String(position.index), width: 4, problem.map { CellStyle($0, bold: true) } ?? .accent)
        line.append("  ")
        let mapped = map.slotIndex(containing: d.address) != nil
        line.append(Hex.string(d.address.rawValue), width: 17, mapped || d.length == 0 ? data : (changed ? .changed : .warning))
        line.appendRight(String(d.length), width: 10, data)
        if layout == .packed {
            line.appendRight(String(d.id), width: 7, data)
            line.append("  ")
            line.append(flagNames(d.flags, layout: layout), width: 22, data)
        } else {
            line.append("  ")
            line.append(flagNames(d.flags, layout: layout), width: 20, data)
            line.appendRight(d.hasNext ? "→\(d.next)" : "-", width: 4, d.hasNext ? data : .dim)
        }
        if layout == .split, let owner, !inIndirectTable {
            line.append("  ")
            switch owner {
            case .live(let at): line.append("live @\(at)", .good)
            case .history(let at): line.append("done @\(at)", .dim)
            }
        }

        var values: [UInt64] = [UInt64(position.index), d.address.rawValue, UInt64(d.length)]
        if layout == .packed { values.append(UInt64(d.id)) } else if d.hasNext { values.append(UInt64(d.next)) }
        let end = d.address.rawValue.addingReportingOverflow(UInt64(d.length))
        let ranges = d.length > 0 && !end.overflow ? [d.address.rawValue..<end.partialValue] : []
        var buffer = BufferRef(address: d.address, length: UInt64(d.length), isWritable: d.isWriteOnly,
                               origin: .descriptor(position), chain: owner, layout: layout)
        buffer.isIndirectTable = d.isIndirect && !inIndirectTable
        let follow: FollowTarget
        if d.isIndirect && !inIndirectTable {
            follow = .table(IndirectTableRef(address: d.address, entries: Int(d.length / UInt32(Descriptor.byteCount)),
                                             layout: layout, from: position.index))
        } else if d.hasNext && layout == .split {
            follow = .sameTable(Int(d.next))
        } else if d.hasNext && layout == .packed && !inIndirectTable && tableSize > 0 {
            follow = .sameTable((Int(position.index) + 1) % tableSize)
        } else {
            follow = .buffer(buffer)
        }
        return ViewRow(line, values: values, ranges: ranges, follow: follow, buffer: buffer)
    }
}
