import VQCore

/// The hexdump of the selected buffer: its guest-physical and host-virtual addresses, the decoded
/// device header of its chain, then the bytes, with those that changed since the last frame marked.
enum HexdumpPane {
    /// What drawing found out, for scrolling keys.
    struct Metrics: Hashable, Sendable {
        var visibleLines = 0
        var bytesPerLine = 16
    }

    /// What the pane shows.
    struct Input {
        var target: BufferRef?
        /// The last frame's bytes (drawn only when they belong to `target` at `offset`).
        var frame: HexFrame?
        var offset: Int
        var payload: DevicePayload?
        var slotMap: SlotMap
        var focused: Bool
    }

    /// Cells one line takes with `bytes` a line and addresses of `digits` hex digits.
    static func lineWidth(bytes: Int, digits: Int) -> Int { digits + 2 + 3 * bytes + (bytes > 8 ? 1 : 0) + 1 + bytes + 2 }

    /// The most bytes a line (16, 8 or 4) that fit in `width`.
    static func bytesPerLine(width: Int, digits: Int) -> Int {
        [16, 8, 4].first { lineWidth(bytes: $0, digits: digits) <= width } ?? 4
    }

    @discardableResult
    static func draw(into grid: inout ScreenGrid, rect: Rect, input: Input) -> Metrics {
        guard rect.height >= 3, rect.width >= 4 else { return Metrics() }
        let title = input.target.map { "Buffer · \($0.title)" } ?? "Buffer"
        grid.box(x: rect.x, y: rect.y, width: rect.width, height: rect.height, title: title,
                 style: CellStyle(input.focused ? .accent : .border))
        let inner = rect.inner
        guard let target = input.target else {
            grid.draw(StyledLine(" select a descriptor, chain buffer or ring entry; g goes to an address", .dim),
                      x: inner.x, y: inner.y, width: inner.width)
            return Metrics()
        }
        var y = inner.y
        func line(_ l: StyledLine) {
            guard y < inner.bottom else { return }
            grid.draw(l, x: inner.x, y: y, width: inner.width)
            y += 1
        }
        line(addressLine(target, map: input.slotMap))
        if let payload = input.payload {
            for l in PayloadText.lines(payload).prefix(max(0, inner.height - 3)) { line(l) }
        }
        if case .history? = target.chain {
            line(StyledLine("completed chain: the buffer may have been reused since (stale)", .warning))
        }
        let end = target.address.rawValue &+ max(target.length, 1) &- 1
        let digits = max(8, String(end, radix: 16).count)
        let perLine = bytesPerLine(width: inner.width, digits: digits)
        let visible = max(0, inner.bottom - y)
        let metrics = Metrics(visibleLines: visible, bytesPerLine: perLine)
        guard visible > 0 else { return metrics }
        if target.length == 0 {
            line(StyledLine("the buffer is empty (length 0)", .warning))
            return metrics
        }
        guard let frame = input.frame, frame.target == target, frame.offset <= input.offset,
              frame.error != nil || input.offset < frame.offset + max(1, frame.bytes.count) else {
            line(StyledLine("reading…", .dim))
            return metrics
        }
        if let error = frame.error {
            line(StyledLine("cannot read: \(error)", .error))
            return metrics
        }
        for row in 0..<visible {
            let start = input.offset + row * perLine
            guard UInt64(start) < target.length else { break }
            let first = start - frame.offset
            guard first < frame.bytes.count else { break }
            let count = min(perLine, frame.bytes.count - first, Int(min(UInt64(perLine), target.length - UInt64(start))))
            let bytes = Array(frame.bytes[first..<first + count])
            let changed = (0..<count).map { frame.changed.contains(start + $0) }
            line(hexLine(address: target.address.rawValue &+ UInt64(start), bytes: bytes, changed: changed,
                         perLine: perLine, digits: digits))
        }
        return metrics
    }

    /// `GPA 0x31000 → HVA 0x7f0000031000 (pc.ram) · 4096 B · device-writable`.
    static func addressLine(_ target: BufferRef, map: SlotMap) -> StyledLine {
        var line = StyledLine([Span("GPA ", .dim), Span(Hex.string(target.address.rawValue), CellStyle(.accent, bold: true))])
        if let hva = map.hostAddress(of: target.address) {
            line.append(" → HVA ", .dim)
            line.append(Hex.string(hva), CellStyle(.accent, bold: true))
            if let i = map.slotIndex(containing: target.address) { line.append(" (\(map.slots[i].name))", .dim) }
        } else {
            line.append(" → not guest RAM: \(map.reasonUnmapped(target.address))", .error)
        }
        line.append(" · \(target.length) B", .normal)
        if target.isIndirectTable {
            let entries = target.length / UInt64(Descriptor.byteCount)
            line.append(" · \(entries) descriptor\(entries == 1 ? "" : "s") (Enter opens them)", .accent)
            return line
        }
        switch target.isWritable {
        case true?: line.append(" · device-writable", .warning)
        case false?: line.append(" · device-readable", .good)
        case nil: break
        }
        return line
    }

    /// `00031000  00 11 22 … ff  |.."3D..|`, changed bytes marked.
    static func hexLine(address: UInt64, bytes: [UInt8], changed: [Bool], perLine: Int, digits: Int) -> StyledLine {
        var line = StyledLine()
        line.append(TextFormat.hexDigits(address, digits), .dim)
        line.append("  ")
        for i in 0..<perLine {
            if i == 8 && perLine > 8 { line.append(" ") }
            if i < bytes.count {
                line.append(TextFormat.hexDigits(bytes[i], 2), changed[i] ? .changed : (bytes[i] == 0 ? .dim : .normal))
                line.append(" ")
            } else {
                line.append("   ")
            }
        }
        line.append("|", .dim)
        for i in 0..<bytes.count {
            let b = bytes[i]
            let text = (0x20..<0x7f).contains(b) ? String(UnicodeScalar(b)) : "."
            line.append(text, changed[i] ? .changed : .accent)
        }
        line.append("|", .dim)
        return line
    }
}
