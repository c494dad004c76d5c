/// Where the user is: focus, view, selected queue and rows, the indirect table and pinned buffer
/// followed into. Enter pushes it, Backspace pops it.
struct NavState: Hashable, Sendable {
    var focus: Focus = .queues
    var view: InspectorView = .chains
    /// The selected queue, by index in the discovered list.
    var queue = 0
    /// The first queue row shown.
    var queueTop = 0
    /// The selected row of each view; a view without an entry selects its natural row (the newest
    /// ring entry, the newest event).
    var selections: [InspectorView: Int] = [:]
    /// The first row shown of each view.
    var tops: [InspectorView: Int] = [:]
    /// The indirect table the descriptor view shows instead of the queue's own table.
    var table: IndirectTableRef?
    /// The buffer the hexdump pane shows instead of the selected row's.
    var pinned: BufferRef?
    /// Bytes into the hexdump's buffer of its first line.
    var hexOffset = 0
}

/// The places Backspace goes back to, newest last; bounded.
struct NavigationStack: Sendable {
    static let depth = 64
    private(set) var entries: [NavState] = []

    mutating func push(_ state: NavState) {
        entries.append(state)
        if entries.count > Self.depth { entries.removeFirst(entries.count - Self.depth) }
    }

    mutating func pop() -> NavState? { entries.popLast() }

    mutating func removeAll() { entries.removeAll() }

    var isEmpty: Bool { entries.isEmpty }
}
