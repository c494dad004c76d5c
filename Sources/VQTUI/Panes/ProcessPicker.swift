import VQCore

/// The first screen of `vqscope` with no target: the QEMU processes on this host, one to pick.
public struct ProcessPicker: Sendable {
    /// One process as the list shows it.
    public struct Entry: Hashable, Sendable {
        public var pid: Int32
        /// `vm1, kvm, 4 GiB, qemu-system-x86_64`.
        public var description: String

        public init(pid: Int32, description: String) {
            self.pid = pid
            self.description = description
        }
    }

    public enum Action: Hashable, Sendable {
        case none, quit
        case pick(Int32)
    }

    public let entries: [Entry]
    public private(set) var selected = 0

    public init(entries: [Entry]) {
        self.entries = entries
    }

    public mutating func handle(_ key: Key) -> Action {
        switch key {
        case .up, .character("k"): selected = max(0, selected - 1)
        case .down, .character("j"): selected = min(max(0, entries.count - 1), selected + 1)
        case .home: selected = 0
        case .end: selected = max(0, entries.count - 1)
        case .enter: return entries.isEmpty ? .none : .pick(entries[selected].pid)
        case .character("q"), .escape: return .quit
        default: break
        }
        return .none
    }

    public func render(into grid: inout ScreenGrid) {
        grid.fill(x: 0, y: 0, width: grid.width, height: 1, style: CellStyle(.header))
        grid.put(" vqscope — pick a QEMU process to inspect", x: 0, y: 0, style: CellStyle(.header, bold: true))
        grid.box(x: 0, y: 1, width: grid.width, height: max(2, grid.height - 2), title: "QEMU processes (\(entries.count))")
        let rows = max(0, grid.height - 4)
        let first = max(0, min(selected - rows + 1, entries.count - rows))
        for (row, i) in (first..<min(entries.count, first + rows)).enumerated() {
            let entry = entries[i]
            let style = i == selected ? CellStyle(.selected, bold: true) : CellStyle.normal
            let text = " \(String(entry.pid).leftPadded(7, with: " "))  \(entry.description)"
            if i == selected { grid.fill(x: 1, y: 2 + row, width: grid.width - 2, height: 1, style: style) }
            grid.put(text, x: 1, y: 2 + row, style: style, limit: grid.width - 2)
        }
        grid.put(" ↑/↓ select   Enter inspect   q quit", x: 0, y: grid.height - 1, style: CellStyle(.dim))
    }
}
