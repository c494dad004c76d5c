import CNcursesw
import Glibc

/// Why the terminal could not be opened.
public struct TerminalError: Error, CustomStringConvertible {
    public var description: String
}

/// The real terminal, through ncursesw: copies a ``ScreenGrid`` to the screen (only the cells that
/// changed since the last frame) and reads keys with a timeout. Restores the terminal on
/// ``restore()``, which is safe to call more than once.
public final class NcursesTerminal {
    private var previous: ScreenGrid?
    private var open = false
    /// Each role's color pair, by the role's raw value (0: none).
    private var pairs = [Int16](repeating: 0, count: CellStyle.Role.allCases.count)
    private var hasColors = false

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
    }

    deinit { restore() }

    /// The terminal's size in cells.
    public var size: (width: Int, height: Int) { (Int(cvq_cols()), Int(cvq_lines())) }

    /// Colors that read on 8- and 16-color terminals: foregrounds on the default background, and
    /// reverse video for what must stand out.
    private func definePairs() {
        let table: [(CellStyle.Role, Int16, Int16)] = [
            (.dim, Int16(COLOR_WHITE), -1), (.title, Int16(COLOR_CYAN), -1), (.header, Int16(COLOR_BLACK), Int16(COLOR_CYAN)),
            (.border, Int16(COLOR_BLUE), -1), (.accent, Int16(COLOR_CYAN), -1), (.good, Int16(COLOR_GREEN), -1),
            (.warning, Int16(COLOR_YELLOW), -1), (.error, Int16(COLOR_RED), -1), (.changed, Int16(COLOR_BLACK), Int16(COLOR_YELLOW)),
            (.selected, Int16(COLOR_BLACK), Int16(COLOR_WHITE)),
        ]
        for (n, entry) in table.enumerated() {
            let pair = Int16(n + 1)
            init_pair(pair, entry.1, entry.2)
            pairs[Int(entry.0.rawValue)] = pair
        }
    }

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
        if let previous, previous == grid {
            unchangedGrids += 1
            return
        }
        let full = previous.map { $0.width != grid.width || $0.height != grid.height } ?? true
        if full { wclear(cvq_stdscr()) }
        // Neighbouring cells mostly share a style: its attributes are worked out once a run.
        var last: (style: CellStyle, attrs: attr_t, pair: Int16)?
        for y in 0..<grid.height {
            for x in 0..<grid.width {
                let cell = grid[x, y]
                if !full, let previous, previous[x, y] == cell { continue }
                if last?.style != cell.style {
                    let (attrs, pair) = attributes(cell.style)
                    last = (cell.style, attrs, pair)
                }
                // The bottom-right cell scrolls some terminals; ncurses reports ERR there, harmlessly.
                _ = cvq_put(Int32(y), Int32(x), wchar_t(bitPattern: cell.scalar.value), last!.attrs, last!.pair)
            }
        }
        previous = grid
        wnoutrefresh(cvq_stdscr())
        doupdate()
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
