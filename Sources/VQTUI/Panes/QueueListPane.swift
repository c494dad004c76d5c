import VQCore

/// The queue list: one row per queue with its layout, size, indexes, chains in flight, completion
/// rate, health and a sparkline of the last 30 seconds.
enum QueueListPane {
    /// Seconds of activity the sparkline covers at most (one cell a second).
    static let sparklineSeconds = 30

    /// The label column's width: 18, wider for longer labels (`virtio-input[kbd0]:0`), at most 32.
    static func labelWidth(_ rows: [QueueRow]) -> Int {
        min(32, max(18, (rows.map { TextFormat.width($0.label) }.max() ?? 0) + 1))
    }

    /// The column titles.
    static func columns(labelWidth: Int) -> String {
        " " + TextFormat.pad("queue", labelWidth) + TextFormat.pad("layout", 7) + TextFormat.lpad("size", 5)
            + TextFormat.lpad("avail", 7) + TextFormat.lpad("used", 7) + TextFormat.lpad("in-fl", 6) + TextFormat.lpad("rate/s", 8) + "  "
            + TextFormat.pad("health", HealthBadge.width) + "  " + TextFormat.pad("backend", 11) + "  "
    }

    static func draw(into grid: inout ScreenGrid, rect: Rect, rows: [QueueRow], selected: Int, top: Int, focused: Bool,
                     error: String?) {
        guard rect.height >= 3, rect.width >= 4 else { return }
        grid.box(x: rect.x, y: rect.y, width: rect.width, height: rect.height, title: "Queues (\(rows.count))",
                 style: CellStyle(focused ? .accent : .border))
        let inner = rect.inner
        let labelWidth = Self.labelWidth(rows)
        let titles = Self.columns(labelWidth: labelWidth)
        let sparkWidth = max(0, min(sparklineSeconds, inner.width - TextFormat.width(titles)))
        var head = StyledLine(titles, .header)
        if sparkWidth >= 8 { head.append(sparkWidth >= 16 ? "activity (\(sparkWidth) s)" : "activity", .header) }
        grid.draw(head, x: inner.x, y: inner.y, width: inner.width)
        let visible = inner.height - 1
        guard visible > 0 else { return }
        if rows.isEmpty {
            let text = error.map { "no queues: \($0) (r: look again)" } ?? "no active virtqueues found (r: look again)"
            grid.draw(StyledLine(" " + text, error == nil ? .dim : .error), x: inner.x, y: inner.y + 1, width: inner.width)
            return
        }
        let first = Scroll.top(selection: selected, count: rows.count, visible: visible, previous: top)
        for (offset, i) in (first..<min(rows.count, first + visible)).enumerated() {
            let y = inner.y + 1 + offset
            grid.draw(line(rows[i], selected: i == selected, sparkWidth: sparkWidth, labelWidth: labelWidth), x: inner.x, y: y, width: inner.width)
            if i == selected {
                grid.restyle(x: inner.x, y: y, width: inner.width,
                             style: focused ? CellStyle(.selected, bold: true, reverse: true) : CellStyle(.selected, bold: true))
            }
        }
        if first > 0 { grid.put("↑", x: rect.x + rect.width - 1, y: inner.y + 1, style: CellStyle(.accent)) }
        if first + visible < rows.count { grid.put("↓", x: rect.x + rect.width - 1, y: inner.y + visible, style: CellStyle(.accent)) }
    }

    static func line(_ row: QueueRow, selected: Bool, sparkWidth: Int, labelWidth: Int = 18) -> StyledLine {
        var line = StyledLine()
        line.append(selected ? "▶" : " ", .accent)
        line.append(row.label, width: labelWidth, CellStyle(.normal, bold: selected))
        line.append(row.layout.rawValue, width: 7, row.layout == .packed ? .accent : .normal)
        line.appendRight(String(row.size), width: 5)
        // Packed rings: the driver's next avail slot and the device's next used slot, `12w1`.
        let avail = row.avail.map { String($0) } ?? row.packed.map { PackedPositions.text($0.driver) }
        let used = row.used.map { String($0) } ?? row.packed.map { PackedPositions.text($0.deviceUsed) }
        line.appendRight(avail ?? "-", width: 7, row.availChanged ? .changed : (avail == nil ? .dim : .normal))
        line.appendRight(used ?? "-", width: 7, row.usedChanged ? .changed : (used == nil ? .dim : .normal))
        line.appendRight(row.inFlight.map { String($0) } ?? "-", width: 6, (row.inFlight ?? 0) > 0 ? .good : .dim)
        line.appendRight(TextFormat.rate(row.rate), width: 8, row.rate > 0 ? .accent : .dim)
        line.append("  ")
        if let badge = row.health {
            line.append(badge.text, width: HealthBadge.width, CellStyle(badge.role, bold: badge.health.isTrouble))
        } else {
            line.append("-", width: HealthBadge.width, .dim)
        }
        line.append("  ")
        line.append(row.backend, width: 11, row.backend == "qemu" ? .dim : .accent)
        if sparkWidth > 0 {
            line.append("  ")
            let values = Array(row.activity.suffix(sparkWidth))
            let padded = [Int](repeating: 0, count: max(0, sparkWidth - values.count)) + values
            line.append(Sparkline.render(padded), row.activity.contains { $0 > 0 } ? .good : .dim)
        }
        return line
    }
}
