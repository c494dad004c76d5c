import VQCore

/// The chains of the selected queue: in flight (live: the descriptors and indirect tables are the
/// driver's and stay put until the device returns them), then recently completed (history: the
/// driver may already have reused the descriptors and freed the indirect tables, so what they
/// point at now may be stale).
enum ChainsView {
    static func content(_ context: ViewContext) -> ViewContent {
        guard let ring = context.ring, let snapshot = ring.snapshot else { return context.missingRing() }
        let problems = ProblemIndex(snapshot.allProblems)
        var rows: [Planned] = []
        var chains: [Entry] = []
        var header: [StyledLine] = []
        var first: Int?
        switch snapshot {
        case .split(let s):
            header.append(StyledLine([
                Span("Chains ", .title), Span("\(s.inFlight.count) in flight", .good),
                Span(" (used.idx \(s.used.index) → avail.idx \(s.avail.index)) · \(ring.history.count) completed shown"),
            ]))
            rows += s.problems.map { .ready(ViewRow(indent(ProblemLines.line($0)))) }
            rows.append(.ready(section("LIVE · in flight: the driver's buffers, as it made them available", .good)))
            if s.inFlight.isEmpty { rows.append(.ready(ViewRow(StyledLine("   none: the device has returned every chain", .dim)))) }
            for entry in s.inFlight {
                first = first ?? rows.count
                let id = ChainID.live(entry.position)
                var line = StyledLine([Span(" ▸ ", .accent), Span("head ", .dim), Span(TextFormat.pad(String(entry.head), 5), .accent),
                                       Span(TextFormat.pad("@\(entry.position)", 7), .dim)])
                guard let chain = entry.chain else {
                    line.append("head outside the table", .error)
                    rows.append(.ready(ViewRow(line, values: [UInt64(entry.head), UInt64(entry.position)])))
                    continue
                }
                append(chain: chain, id: id, headLine: line, badge: Span(" LIVE ", CellStyle(.good, bold: true, reverse: true)),
                       payload: ring.payloads[id], problems: problems, follow: Int(entry.head) < s.descriptors.count ? .descriptor(Int(entry.head)) : nil,
                       extraValues: [UInt64(entry.position)], stale: false, isNew: ring.newChains.contains(id), to: &rows, chains: &chains)
            }
            rows.append(.ready(section("HISTORY · completed: descriptors may be reused and indirect tables freed since, so this may be stale", .warning)))
            if ring.history.isEmpty { rows.append(.ready(ViewRow(StyledLine("   none yet", .dim)))) }
            for done in ring.history {
                let id = ChainID.history(done.position)
                var line = StyledLine([Span(" ▸ ", .dim), Span("id   ", .dim), Span(TextFormat.pad(String(done.id), 5), .normal),
                                       Span(TextFormat.pad("@\(done.position)", 7), .dim)])
                guard let chain = done.chain else {
                    line.append("id outside the table · len \(done.length)", .error)
                    rows.append(.ready(ViewRow(line, values: [UInt64(done.id), UInt64(done.position), UInt64(done.length)])))
                    continue
                }
                append(chain: chain, id: id, headLine: line, badge: Span(" DONE ", CellStyle(.dim, reverse: true)),
                       payload: ring.payloads[id], problems: ProblemIndex(chain.problems), follow: Int(done.id) < s.descriptors.count ? .descriptor(Int(done.id)) : nil,
                       extraValues: [UInt64(done.position), UInt64(done.length)], stale: true,
                       completedLength: done.length, to: &rows, chains: &chains)
            }
        case .packed(let p):
            header.append(StyledLine([
                Span("Chains ", .title), Span("\(p.available.count) available", .good),
                Span(" (device used \(p.deviceUsed) → driver \(p.driver))"),
            ] + (p.staleHints > 0 ? [Span(" · QEMU's older \(p.staleHints == 1 ? "hint" : "hints") ignored: the ring is newer", .dim)] : [])))
            rows += p.problems.map { .ready(ViewRow(indent(ProblemLines.line($0)))) }
            rows.append(.ready(section("LIVE · available: made available by the driver, not yet used by the device", .good)))
            if p.available.isEmpty { rows.append(.ready(ViewRow(StyledLine("   none: the device has used every chain", .dim)))) }
            for c in p.available {
                first = first ?? rows.count
                let id = ChainID.live(c.slot)
                let line = StyledLine([Span(" ▸ ", .accent), Span("slot ", .dim), Span(TextFormat.pad(String(c.slot), 5), .accent),
                                       Span(TextFormat.pad("id \(c.bufferID) w\(c.wrap ? 1 : 0)", 10), .dim)])
                let state = c.consumed == true ? " LIVE fetched " : " LIVE "
                append(chain: c.chain, id: id, headLine: line, badge: Span(state, CellStyle(.good, bold: true, reverse: true)),
                       payload: ring.payloads[id], problems: problems, follow: .descriptor(Int(c.slot)),
                       extraValues: [UInt64(c.bufferID)], stale: false, layout: .packed, isNew: ring.newChains.contains(id), to: &rows, chains: &chains)
            }
        }
        return ViewContent(header: header, count: rows.count, makeRow: { [rows, chains] i in
            switch rows[i] {
            case .ready(let row): return row
            case .head(let k): return headRow(chains[k])
            case .element(let k, let j): return elementRow(chains[k], j)
            case .problem(let k, let j): return ViewRow(StyledLine([Span("       ")] + ProblemLines.line(chains[k].chain.problems[j]).spans))
            }
        }, defaultSelection: first ?? 0)
    }

    /// A row of the view, made when it is drawn (or searched): a chain's rows are planned, and
    /// only those on screen are formatted.
    private enum Planned {
        case ready(ViewRow)
        /// Chain `k`'s head row.
        case head(Int)
        /// Chain `k`'s element `j`.
        case element(Int, Int)
        /// Chain `k`'s problem `j`.
        case problem(Int, Int)
    }

    /// A chain shown, with what its rows are made from.
    private struct Entry {
        var chain: Chain
        var id: ChainID
        var headLine: StyledLine
        var badge: Span
        var payload: DevicePayload?
        var problems: ProblemIndex
        var follow: FollowTarget?
        var extraValues: [UInt64]
        var stale: Bool
        var completedLength: UInt32?
        var layout: RingLayout
        var isNew: Bool
    }

    private static func section(_ text: String, _ style: CellStyle) -> ViewRow {
        ViewRow(StyledLine([Span(" " + text, CellStyle(style.role, bold: true))]))
    }

    private static func indent(_ line: StyledLine) -> StyledLine { StyledLine([Span(" ")] + line.spans) }

    /// A chain's head row, one row per buffer, and one row per problem: planned now, made on demand.
    private static func append(chain: Chain, id: ChainID, headLine: StyledLine, badge: Span, payload: DevicePayload?,
                               problems: ProblemIndex, follow: FollowTarget?, extraValues: [UInt64], stale: Bool,
                               completedLength: UInt32? = nil, layout: RingLayout = .split, isNew: Bool = false,
                               to rows: inout [Planned], chains: inout [Entry]) {
        let k = chains.count
        chains.append(Entry(chain: chain, id: id, headLine: headLine, badge: badge, payload: payload, problems: problems, follow: follow,
                            extraValues: extraValues, stale: stale, completedLength: completedLength, layout: layout, isNew: isNew))
        rows.append(.head(k))
        for j in chain.elements.indices { rows.append(.element(k, j)) }
        for j in chain.problems.indices { rows.append(.problem(k, j)) }
    }

    /// A chain's head row: its badge, buffers, sizes, problems and payload.
    private static func headRow(_ e: Entry) -> ViewRow {
        let chain = e.chain
        var line = e.headLine
        if e.isNew, !line.spans.isEmpty { line.spans[0] = Span(" ● ", .changed) }
        line.spans.append(e.badge)
        let count = chain.elements.count
        let buffers = "\(count) buf\(count == 1 ? "" : "s")"
        line.append(" " + TextFormat.pad(buffers, max(6, TextFormat.width(buffers))) + " ")
        line.append("R ", .good)
        line.append(Hex.humanSize(chain.readableBytes) + " ")
        line.append("W ", .warning)
        line.append(Hex.humanSize(chain.writableBytes))
        if let length = e.completedLength { line.append(" · wrote \(length)", .dim) }
        if !chain.problems.isEmpty {
            line.append(" ✗ \(chain.problems.count)", CellStyle(.error, bold: true))
        }
        if let payload = e.payload { line.append("  " + payload.summary, e.stale ? .dim : .accent) }
        let firstBuffer = chain.elements.first.map { buffer(of: $0, chain: e.id, layout: e.layout) }
        return ViewRow(line, values: [UInt64(chain.head)] + e.extraValues, follow: e.follow, buffer: firstBuffer)
    }

    /// Element `j` of a chain: one buffer.
    private static func elementRow(_ e: Entry, _ j: Int) -> ViewRow {
        let element = e.chain.elements[j]
        let role = e.problems.role(at: element.position)
        let data: CellStyle = role.map { CellStyle($0) } ?? (e.stale ? .dim : .normal)
        var row = StyledLine()
        row.append(role != nil ? "   ✗ " : "     ", CellStyle(role ?? .normal, bold: true))
        let name = element.indirectTable != nil ? "ind#\(element.index)" : "#\(element.index)"
        row.append(TextFormat.pad(name, 8), e.stale ? .dim : .accent)
        row.append(TextFormat.pad(Hex.string(element.address.rawValue), 17), data)
        row.append(TextFormat.lpad(String(element.length), 10), data)
        row.append("  ")
        row.append(element.isWritable ? "W" : "R", element.isWritable ? .warning : .good)
        if let table = element.indirectTable { row.append("  from indirect table \(table)", .dim) }
        let ref = buffer(of: element, chain: e.id, layout: e.layout)
        let end = element.address.rawValue.addingReportingOverflow(UInt64(element.length))
        return ViewRow(row, values: [element.address.rawValue, UInt64(element.length), UInt64(element.index)],
                       ranges: element.length > 0 && !end.overflow ? [element.address.rawValue..<end.partialValue] : [],
                       follow: .buffer(ref), buffer: ref)
    }

    static func buffer(of element: Chain.Element, chain: ChainID, layout: RingLayout) -> BufferRef {
        BufferRef(address: element.address, length: UInt64(element.length), isWritable: element.isWritable,
                  origin: .descriptor(element.position), chain: chain, layout: layout)
    }
}
