/// The bottom row: the prompt being typed, else the latest message, else the main keys.
enum StatusLine {
    static let hints: [(key: String, action: String)] = [
        ("q", "quit"), ("?", "help"), ("Tab", "view"), ("Enter", "follow"), ("Bksp", "back"), ("space", "freeze"),
        ("s", "step"), ("c", "continue"), ("g", "goto"), ("/", "find"), ("+-", "rate"),
    ]

    static func draw(into grid: inout ScreenGrid, rect: Rect, prompt: Prompt?, message: StatusMessage?) {
        guard rect.width > 0, rect.height > 0 else { return }
        grid.fill(x: rect.x, y: rect.y, width: rect.width, height: 1, style: CellStyle(.normal))
        if let prompt {
            var line = StyledLine([Span(prompt.label, CellStyle(.title, bold: true)), Span(prompt.text, .normal)])
            line.append(" ", CellStyle(.normal, reverse: true))  // the cursor
            line.append("   Enter confirms · Esc cancels", .dim)
            // Keep the cursor visible: cut the label rather than the input.
            if line.width > rect.width {
                line = StyledLine([Span("…" + String(prompt.text.suffix(max(0, rect.width - 2)))), Span(" ", CellStyle(.normal, reverse: true))])
            }
            grid.draw(line, x: rect.x, y: rect.y, width: rect.width)
            return
        }
        if let message {
            grid.draw(StyledLine(" " + message.text, CellStyle(message.role, bold: message.role != .normal)), x: rect.x, y: rect.y, width: rect.width)
            return
        }
        var line = StyledLine()
        for (key, action) in hints {
            line.append(" \(key)", CellStyle(.accent, bold: true))
            line.append(" \(action) ", .dim)
        }
        // Hints are a convenience: drop the ones that do not fit rather than cut one in half.
        var fitted = StyledLine()
        for pair in stride(from: 0, to: line.spans.count, by: 2) {
            let next = StyledLine(fitted.spans + line.spans[pair..<pair + 2])
            if next.width > rect.width { break }
            fitted = next
        }
        grid.draw(fitted, x: rect.x, y: rect.y, width: rect.width)
    }
}
