/// A key press (or a terminal event) as the inspector sees it, independent of ncurses.
public enum Key: Hashable, Sendable {
    case up, down, left, right
    case pageUp, pageDown, home, end
    case tab, backTab, enter, backspace, escape
    /// The terminal changed size.
    case resize
    case character(Character)
}
