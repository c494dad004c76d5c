import VQCore

/// The box of the selected queue's views: a tab bar in its top edge, the view's fixed lines and
/// column titles, then its rows, scrolled so that the selection stays visible.
enum ViewPane {
    /// What drawing found out, for paging keys: rows shown at once.
    struct Metrics: Hashable, Sendable {
        var visibleRows = 0
    }

    /// Most fixed lines shown above the rows, so that rows keep room on small screens.
    static func headerRoom(innerHeight: Int) -> Int { max(0, min(4, innerHeight - 3)) }

    @discardableResult
    static func draw(into grid: inout ScreenGrid, rect: Rect, content: ViewContent, view: InspectorView, layout: RingLayout?,
                     selection: Int, top: Int, focused: Bool, queueLabel: String?, footer: StyledLine? = nil) -> Metrics {
        guard rect.height >= 3, rect.width >= 4 else { return Metrics() }
        grid.box(x: rect.x, y: rect.y, width: rect.width, height: rect.height, style: CellStyle(focused ? .accent : .border))
        drawTabs(into: &grid, rect: rect, view: view, layout: layout, queueLabel: queueLabel)
        let inner = rect.inner
        var y = inner.y
        let headerLines = Array(content.header.prefix(headerRoom(innerHeight: inner.height)))
        for line in headerLines {
            grid.draw(line, x: inner.x, y: y, width: inner.width)
            y += 1
        }
        if let columns = content.columns, y < inner.bottom {
            grid.draw(columns, x: inner.x, y: y, width: inner.width)
            y += 1
        }
        let visible = inner.bottom - y
        guard visible > 0 else { return Metrics() }
        guard content.count > 0 else {
            drawFooter(footer, into: &grid, rect: rect, room: rect.width - 4)
            if !content.emptyText.isEmpty { grid.draw(StyledLine(" " + content.emptyText, .dim), x: inner.x, y: y, width: inner.width) }
            return Metrics(visibleRows: visible)
        }
        let first = Scroll.top(selection: selection, count: content.count, visible: visible, previous: top)
        for i in first..<min(content.count, first + visible) {
            let rowY = y + i - first
            grid.draw(content.row(i).line, x: inner.x, y: rowY, width: inner.width)
            if i == selection {
                grid.restyle(x: inner.x, y: rowY, width: inner.width,
                             style: focused ? CellStyle(.selected, bold: true, reverse: true) : CellStyle(.selected, underline: true))
            }
        }
        // Where the selection is, in the bottom edge; arrows when rows are hidden above or below.
        let position = " \(selection + 1)/\(content.count) "
        if rect.width > TextFormat.width(position) + 4 {
            grid.put(position, x: rect.x + rect.width - 2 - TextFormat.width(position), y: rect.bottom - 1, style: CellStyle(.dim))
        }
        drawFooter(footer, into: &grid, rect: rect, room: rect.width - 4 - TextFormat.width(position) - 1)
        if first > 0 { grid.put("↑", x: rect.x + rect.width - 1, y: y, style: CellStyle(.accent)) }
        if first + visible < content.count { grid.put("↓", x: rect.x + rect.width - 1, y: inner.bottom - 1, style: CellStyle(.accent)) }
        return Metrics(visibleRows: visible)
    }

    /// The selected queue's health, in the bottom edge on the left (cut to `room` cells).
    static func drawFooter(_ footer: StyledLine?, into grid: inout ScreenGrid, rect: Rect, room: Int) {
        guard let footer, room >= 8 else { return }
        grid.draw(footer, x: rect.x + 1, y: rect.bottom - 1, width: min(room, footer.width))
    }

    /// ` virtio-blk:0 │ Descriptors │ Avail ring │ … ` with the current view highlighted.
    static func drawTabs(into grid: inout ScreenGrid, rect: Rect, view: InspectorView, layout: RingLayout?, queueLabel: String?) {
        func tabs(short: Bool) -> StyledLine {
            var line = StyledLine()
            if let queueLabel { line.append(" \(queueLabel) ", .title) }
            for (i, v) in InspectorView.allCases.enumerated() {
                line.append(i == 0 ? "╴" : "│", .border)
                let name = " \(short ? v.shortTitle(for: layout) : v.title(for: layout)) "
                line.append(name, v == view ? CellStyle(.title, bold: true, reverse: true) : .dim)
            }
            line.append("╶", .border)
            return line
        }
        let full = tabs(short: false)
        grid.draw(full.width <= rect.width - 2 ? full : tabs(short: true), x: rect.x + 1, y: rect.y, width: rect.width - 2)
    }
}
