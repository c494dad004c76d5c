import CNcursesw
import Glibc
import VQCore

/// Why the terminal could not be opened.
public struct TerminalError: Error, CustomStringConvertible {
    public var description: String
}

/// The real terminal, through ncursesw: copies a ``ScreenGrid`` to the screen (only the cells that
/// changed since the last frame) and reads keys with a timeout. Restores the terminal on
/// ``restore()``, which is safe to call more than once.
///
/// On an ANSI terminal in a UTF-8 locale (xterm, tmux, screen, the Linux console) a frame's
/// changed cells are written as ANSI sequences in one `write` (``ANSIFrame``): ncurses would
/// compare the whole screen again and look for scrolled lines, the most of a frame's cost. ncurses
/// still sets the terminal up, reads keys, follows resizes and restores it.
public final class NcursesTerminal {
    private var previous: ScreenGrid?
    private var open = false
    /// Each role's color pair, by the role's raw value (0: none).
    private var pairs = [Int16](repeating: 0, count: CellStyle.Role.allCases.count)
    private var hasColors = false
    /// Each style's SGR sequence, by ``styleIndex(_:)``, when frames are written directly.
    private var ansi: [[UInt8]]?

    /// Takes over the terminal. Refuses when standard input or output is not a terminal.
    public init() throws(TerminalError) {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw TerminalError(description: "the inspector needs a terminal; for scripts use `vqscope queues`, `dump` or `watch` with --json")
        }
        _ = cvq_setlocale_all()
        guard cvq_newterm() != nil else {
            let term = getenv("TERM").map { String(cString: $0) } ?? "unset"
            throw TerminalError(description: "cannot initialise the terminal (TERM=\(term))")
        }
        open = true
        cbreak()
        noecho()
        nonl()
        keypad(cvq_stdscr(), true)
        set_escdelay(25)
        // No look at the keyboard in the middle of drawing a frame (a `poll` every few lines):
        // the loop reads keys between frames, and a frame is small.
        typeahead(-1)
        curs_set(0)
        if has_colors() {
            start_color()
            use_default_colors()
            hasColors = true
            definePairs()
        }
        // A screen that `newterm` made and that never went through `endwin` counts as not yet
        // initialised to ncurses, which then writes its output at every cursor movement (15 to 33
        // `write`s a frame); leaving and resuming once, before anything is drawn, makes a frame one
        // write.
        endwin()
        doupdate()
        if cvq_ansi_utf8() != 0 {
            var table = [[UInt8]](repeating: [], count: CellStyle.Role.allCases.count * 8)
            for role in CellStyle.Role.allCases {
                for bits in 0..<8 {
                    let style = CellStyle(role, bold: bits & 1 != 0, reverse: bits & 2 != 0, underline: bits & 4 != 0)
                    table[Self.styleIndex(style)] = ansiStyle(style).sgr
                }
            }
            ansi = table
            // ncurses's own (blank) screen, shown now: a window never refreshed would be at the
            // first key read, over the first frame.
            wrefresh(cvq_stdscr())
        }
    }

    deinit { restore() }

    /// The terminal's size in cells.
    public var size: (width: Int, height: Int) { (Int(cvq_cols()), Int(cvq_lines())) }

    /// Colors that read on 8- and 16-color terminals: foregrounds on the default background, and
    /// reverse video for what must stand out.
    private func definePairs() {
        for (n, role) in CellStyle.Role.allCases.enumerated() {
            guard let (foreground, background) = Self.colors[role] else { continue }
            let pair = Int16(n + 1)
            init_pair(pair, foreground.map(Int16.init) ?? -1, background.map(Int16.init) ?? -1)
            pairs[Int(role.rawValue)] = pair
        }
    }

    /// Each role's foreground and background (curses' color numbers, nil: the terminal's default).
    private static let colors: [CellStyle.Role: (UInt8?, UInt8?)] = [
        .dim: (UInt8(COLOR_WHITE), nil), .title: (UInt8(COLOR_CYAN), nil), .header: (UInt8(COLOR_BLACK), UInt8(COLOR_CYAN)),
        .border: (UInt8(COLOR_BLUE), nil), .accent: (UInt8(COLOR_CYAN), nil), .good: (UInt8(COLOR_GREEN), nil),
        .warning: (UInt8(COLOR_YELLOW), nil), .error: (UInt8(COLOR_RED), nil), .changed: (UInt8(COLOR_BLACK), UInt8(COLOR_YELLOW)),
        .selected: (UInt8(COLOR_BLACK), UInt8(COLOR_WHITE)),
    ]

    private func attributes(_ style: CellStyle) -> (attr_t, Int16) {
        var attrs = cvq_a_normal()
        if style.bold { attrs |= cvq_a_bold() }
        if style.reverse { attrs |= cvq_a_reverse() }
        if style.underline { attrs |= cvq_a_underline() }
        if hasColors {
            if style.role == .dim { attrs |= cvq_a_dim() }
            return (attrs, pairs[Int(style.role.rawValue)])
        }
        switch style.role {
        case .selected, .header: attrs |= cvq_a_reverse()
        case .changed, .title, .error: attrs |= cvq_a_bold()
        case .dim: attrs |= cvq_a_dim()
        default: break
        }
        return (attrs, 0)
    }

    /// Grids shown that were the same as the last one, so nothing was written.
    public private(set) var unchangedGrids = 0

    /// Shows `grid`: writes the cells that differ from the last frame, then updates the screen once;
    /// a grid the same as the last one writes nothing and refreshes nothing.
    public func draw(_ grid: ScreenGrid) {
        guard open else { return }
        let full = previous.map { $0.width != grid.width || $0.height != grid.height } ?? true
        let old = full ? nil : previous
        // Rows compared whole first: most of a frame's rows are the last frame's.
        let changedRows = (0..<grid.height).filter { y in old.map { !Self.sameRow(y, $0, grid) } ?? true }
        if !full && changedRows.isEmpty {
            unchangedGrids += 1
            return
        }
        if ansi != nil {
            let bytes = ANSIFrame.bytes(grid, over: old, rows: changedRows, sgr: sgr)
            // A write that fails (the terminal gone) is dropped, as ncurses drops its output then.
            _ = bytes.withUnsafeBytes { Sys.write(STDOUT_FILENO, all: $0) }
            previous = grid
            return
        }
        if full { wclear(cvq_stdscr()) }
        // Neighbouring cells mostly share a style: its attributes are worked out once a run.
        var last: (style: CellStyle, attrs: attr_t, pair: Int16)?
        grid.cells.withUnsafeBufferPointer { cells in
            for y in changedRows {
                let row = y * grid.width
                for x in 0..<grid.width {
                    let cell = cells[row + x]
                    if let old, old.cells[row + x] == cell { continue }
                    if last?.style != cell.style {
                        let (attrs, pair) = attributes(cell.style)
                        last = (cell.style, attrs, pair)
                    }
                    // The bottom-right cell scrolls some terminals; ncurses reports ERR there, harmlessly.
                    _ = cvq_put(Int32(y), Int32(x), wchar_t(bitPattern: cell.scalar.value), last!.attrs, last!.pair)
                }
            }
        }
        previous = grid
        wnoutrefresh(cvq_stdscr())
        doupdate()
    }

    /// A style's place in the table of SGR sequences: its role, then its three attributes.
    private static func styleIndex(_ style: CellStyle) -> Int {
        Int(style.role.rawValue) * 8 + (style.bold ? 1 : 0) + (style.reverse ? 2 : 0) + (style.underline ? 4 : 0)
    }

    /// A style's SGR sequence on an ANSI terminal.
    private func sgr(_ style: CellStyle) -> [UInt8] { ansi?[Self.styleIndex(style)] ?? [] }

    /// A style as an ANSI terminal draws it: the attributes and colors ncurses would give it.
    private func ansiStyle(_ style: CellStyle) -> ANSIStyle {
        var a = ANSIStyle(bold: style.bold, underline: style.underline, reverse: style.reverse)
        if hasColors {
            a.dim = style.role == .dim
            (a.foreground, a.background) = Self.colors[style.role] ?? (nil, nil)
        } else {
            switch style.role {
            case .selected, .header: a.reverse = true
            case .changed, .title, .error: a.bold = true
            case .dim: a.dim = true
            default: break
            }
        }
        return a
    }

    /// Whether row `y` is the same in two grids of one size.
    private static func sameRow(_ y: Int, _ a: ScreenGrid, _ b: ScreenGrid) -> Bool {
        let range = y * a.width..<(y + 1) * a.width
        if range.isEmpty { return true }
        return a.cells.withUnsafeBufferPointer { x in
            b.cells.withUnsafeBufferPointer { y in
                // Cells are plain bytes (a scalar and four one-byte fields): compared as memory.
                if MemoryLayout<Cell>.size == MemoryLayout<Cell>.stride {
                    return memcmp(x.baseAddress! + range.lowerBound, y.baseAddress! + range.lowerBound, range.count * MemoryLayout<Cell>.stride) == 0
                }
                return x[range].elementsEqual(y[range])
            }
        }
    }

    /// Waits up to `milliseconds` for a key; `nil` when none came.
    public func readKey(timeoutMilliseconds: Int) -> Key? {
        guard open else { return nil }
        wtimeout(cvq_stdscr(), Int32(max(0, min(timeoutMilliseconds, 1000))))
        var value: wint_t = 0
        let result = wget_wch(cvq_stdscr(), &value)
        if result == ERR { return nil }
        if result == cvq_key_code_yes() {
            switch Int32(value) {
            case KEY_UP: return .up
            case KEY_DOWN: return .down
            case KEY_LEFT: return .left
            case KEY_RIGHT: return .right
            case KEY_PPAGE: return .pageUp
            case KEY_NPAGE: return .pageDown
            case KEY_HOME: return .home
            case KEY_END: return .end
            case KEY_BTAB: return .backTab
            case KEY_ENTER: return .enter
            case KEY_BACKSPACE: return .backspace
            case KEY_RESIZE:
                previous = nil
                // ncurses clears the resized screen at its next refresh: now, before the next frame.
                if ansi != nil { wrefresh(cvq_stdscr()) }
                return .resize
            default: return nil
            }
        }
        switch value {
        case 9: return .tab
        case 10, 13: return .enter
        case 8, 127: return .backspace
        case 27: return .escape
        default:
            guard let scalar = Unicode.Scalar(UInt32(value)), value >= 32 else { return nil }
            return .character(Character(scalar))
        }
    }

    /// Gives the terminal back (cursor, echo, the normal screen).
    public func restore() {
        guard open else { return }
        open = false
        curs_set(1)
        endwin()
    }
}
