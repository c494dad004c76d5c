/// The `?` overlay: every key and what it does, in a box over the middle of the screen.
enum HelpOverlay {
    static let sections: [(title: String, keys: [(String, String)])] = [
        ("Moving", [
            ("↑ ↓  k j", "move the selection (queue list, view rows, hexdump lines)"),
            ("← →  h l", "focus the pane to the left / right (queues, view, hexdump)"),
            ("PgUp PgDn", "a page up / down"),
            ("Home End", "first / last row (End in Events follows new ones)"),
            ("[ ]", "previous / next queue"),
            ("Tab BackTab", "next / previous view: descriptors, avail, used, chains, events, slots"),
            ("Enter", "follow: queue → chains → descriptor → buffer; NEXT / INDIRECT links"),
            ("Backspace", "go back where Enter came from"),
            ("x", "hexdump the selected row's buffer"),
        ]),
        ("Watching", [
            ("space", "freeze / unfreeze the display (polling goes on, nothing is lost)"),
            ("s", "step: let the VM run until this queue moves, then pause it"),
            ("c", "continue the VM (or cancel a step)"),
            ("+ -", "refresh faster / slower (1, 2, 5, 10, 20, 30 Hz)"),
            ("a", "events of every queue / of this queue"),
            ("r", "look for queues again"),
        ]),
        ("Finding", [
            ("g", "hexdump a guest-physical address (hex: 0x1000, 1000h, 1000)"),
            ("/", "find a hex value in this view (addresses, lengths, ids, entries)"),
            ("n", "next match"),
        ]),
        ("Leaving", [
            ("? Esc", "close this help; Esc also cancels a prompt"),
            ("q", "quit (resumes the VM if vqscope paused it)"),
        ]),
    ]

    static var lines: [StyledLine] {
        var lines: [StyledLine] = []
        for (n, section) in sections.enumerated() {
            if n > 0 { lines.append(StyledLine()) }
            lines.append(StyledLine(section.title, CellStyle(.title, bold: true)))
            for (key, text) in section.keys {
                lines.append(StyledLine([Span("  " + TextFormat.pad(key, 13), CellStyle(.accent, bold: true)), Span(text)]))
            }
        }
        lines.append(StyledLine())
        lines.append(StyledLine([Span("Colors: "), Span("changed since the last frame", .changed), Span(" · "),
                                 Span("problem", .error), Span(" · "), Span("warning", .warning), Span(" · "),
                                 Span("live", .good), Span(" · "), Span("history", .dim)]))
        lines.append(StyledLine([Span("Health: "), Span("idle", .dim), Span(" · "), Span("busy", .good), Span(" · "),
                                 Span("wait", .dim), Span(" (buffers posted for the device to fill) · "),
                                 Span("STALL", CellStyle(.error, bold: true)), Span(" (requests unanswered 1 s) · "),
                                 Span("starv", CellStyle(.warning, bold: true)), Span(" · "),
                                 Span("BROKEN", CellStyle(.error, bold: true))]))
        lines.append(StyledLine("  the view's bottom edge says why; `?` marks the first second (provisional)", .dim))
        return lines
    }

    /// Draws the overlay with its lines scrolled by `scroll` (clamped); returns the largest useful
    /// scroll (0 when everything fits).
    @discardableResult
    static func draw(into grid: inout ScreenGrid, scroll: Int) -> Int {
        let content = lines
        let width = min(grid.width - 2, max(40, content.map(\.width).max() ?? 0) + 4)
        let height = min(grid.height - 2, content.count + 2)
        guard width >= 10, height >= 3 else { return 0 }
        let x = (grid.width - width) / 2, y = (grid.height - height) / 2
        let room = height - 2
        let maxScroll = max(0, content.count - room)
        let first = min(max(0, scroll), maxScroll)
        grid.fill(x: x, y: y, width: width, height: height)
        grid.box(x: x, y: y, width: width, height: height, title: "Keys", style: CellStyle(.accent, bold: true))
        for (i, line) in content.dropFirst(first).prefix(room).enumerated() {
            grid.draw(line, x: x + 2, y: y + 1 + i, width: width - 4)
        }
        if maxScroll > 0 {
            let hint = first < maxScroll ? " ↓ more · ↑↓ scroll · Esc closes " : " ↑ more · ↑↓ scroll · Esc closes "
            grid.put(hint, x: x + 2, y: y + height - 1, style: CellStyle(.dim), limit: width - 4)
        }
        return maxScroll
    }
}
