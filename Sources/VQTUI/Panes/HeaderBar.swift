import VQCore

/// What the header says about the target's state, most important first.
struct TargetStatus: Hashable, Sendable {
    var exited: String?
    var frozen: Bool
    /// Events the polls saw since the display froze.
    var eventsSinceFreeze: Int
    var stepper: Stepper
    var runState: VMRunState?
    var isLive: Bool
    /// Inspector seconds now, for how long a step has been waiting.
    var time: Double = 0

    /// The chips at the right of the header: `LIVE`, `FROZEN +12`, `stepping… virtio-blk:0`,
    /// `VM PAUSED (stepped: used 51→52)`, `TARGET EXITED`.
    var chips: [Span] {
        if exited != nil { return [Span(" TARGET EXITED ", CellStyle(.error, bold: true, reverse: true))] }
        var chips: [Span] = []
        if frozen {
            chips.append(Span(" FROZEN" + (eventsSinceFreeze > 0 ? " +\(eventsSinceFreeze)" : "") + " ",
                              CellStyle(.accent, bold: true, reverse: true)))
        }
        switch stepper.phase {
        case .stepping(_, let label, _, let since):
            let waited = Int(max(0, time - since))
            chips.append(Span(" stepping… \(label)" + (waited > 0 ? " \(waited) s " : " "), CellStyle(.warning, bold: true, reverse: true)))
        case .paused(let detail):
            chips.append(Span(" VM PAUSED (stepped: \(detail)) ", CellStyle(.warning, bold: true, reverse: true)))
        case .idle:
            if runState == .paused {
                chips.append(Span(" VM PAUSED ", CellStyle(.warning, bold: true, reverse: true)))
            } else if !frozen {
                chips.append(isLive ? Span(" LIVE ", CellStyle(.good, bold: true, reverse: true))
                                    : Span(" IMAGE ", CellStyle(.accent, bold: true, reverse: true)))
            }
        }
        return chips
    }
}

/// The top row: the target, the slot-map source, the refresh rate and the state chips.
enum HeaderBar {
    static func draw(into grid: inout ScreenGrid, rect: Rect, summary: TargetSummary, rate: RefreshRate, status: TargetStatus) {
        guard rect.width > 0, rect.height > 0 else { return }
        grid.fill(x: rect.x, y: rect.y, width: rect.width, height: 1, style: CellStyle(.header))
        var left = StyledLine([Span(" vqscope ", CellStyle(.title, bold: true, reverse: true)), Span(" ")])
        left.append(summary.title, CellStyle(.header, bold: true))
        let ram = Hex.humanSize(summary.ramBytes)
        if summary.ramBytes > 0, !TextFormat.contains(summary.title, ram) { left.append(" · RAM \(ram)", .header) }
        if let iommu = summary.iommu { left.append(" · \(iommu)", .header) }

        let chips = StyledLine(status.chips)
        let sourceAndRate = [Span("slots ", .dim), Span(summary.slotSource, .accent), Span(" · ", .dim), Span(rate.label, .accent)]
        let route = [Span(" · qmp ", .dim), Span(summary.qmpRoute, summary.qmpRoute == "none" ? .dim : .accent)]
        let full = StyledLine(sourceAndRate + route + [Span(" ")] + chips.spans + [Span(" ")])
        let medium = StyledLine(sourceAndRate + [Span(" ")] + chips.spans + [Span(" ")])
        let short = StyledLine(chips.spans + [Span(" ")])
        // The state matters most: keep the chips whole; then the target's own line (its IOMMU
        // included); then the slot source and rate, then the QMP route, where they still fit.
        let room = rect.width - 1 - left.width
        let right = [full, medium].first { $0.width <= room } ?? short
        let rightX = max(rect.x, rect.x + rect.width - right.width)
        grid.draw(left, x: rect.x, y: rect.y, width: max(0, rightX - rect.x - 1))
        grid.draw(right, x: rightX, y: rect.y, width: rect.x + rect.width - rightX)
    }
}
