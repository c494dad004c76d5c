import VQCore

/// What Enter does on a row.
enum FollowTarget: Hashable, Sendable {
    /// Select descriptor `index` in the table being shown (a NEXT link).
    case sameTable(Int)
    /// Show the queue's own descriptor table with `index` selected (a chain's head, a ring entry).
    case descriptor(Int)
    /// Show an indirect table.
    case table(IndirectTableRef)
    /// Hexdump a buffer.
    case buffer(BufferRef)
}

/// One row of a view: its text, what `/` can find in it, what Enter follows, and the buffer the
/// hexdump pane shows while it is selected.
struct ViewRow: Sendable {
    var line: StyledLine
    /// Values `/` matches exactly (addresses, lengths, ids, indexes).
    var values: [UInt64] = []
    /// Address ranges `/` matches when the value falls inside.
    var ranges: [Range<UInt64>] = []
    var follow: FollowTarget?
    var buffer: BufferRef?

    init(_ line: StyledLine, values: [UInt64] = [], ranges: [Range<UInt64>] = [], follow: FollowTarget? = nil,
         buffer: BufferRef? = nil) {
        self.line = line
        self.values = values
        self.ranges = ranges
        self.follow = follow
        self.buffer = buffer
    }

    /// Whether `/` finds `value` in this row.
    func matches(_ value: UInt64) -> Bool {
        values.contains(value) || ranges.contains { $0.contains(value) }
    }
}

/// A view ready to draw: lines that stay at the top, a column header, and rows that scroll. Rows
/// are made on demand, so that a 32768-entry table costs only the rows on screen.
struct ViewContent {
    /// Lines above the rows (ring header fields, problems).
    var header: [StyledLine] = []
    /// The column titles, drawn above the rows.
    var columns: StyledLine?
    var count = 0
    var makeRow: (Int) -> ViewRow = { _ in ViewRow(StyledLine()) }
    /// The row selected when the user has not chosen one.
    var defaultSelection = 0
    /// Said in the view when there are no rows.
    var emptyText = "nothing to show"

    func row(_ i: Int) -> ViewRow { makeRow(i) }

    /// A content from prepared rows.
    static func rows(_ rows: [ViewRow], header: [StyledLine] = [], columns: StyledLine? = nil, defaultSelection: Int = 0,
                     emptyText: String = "nothing to show") -> ViewContent {
        ViewContent(header: header, columns: columns, count: rows.count, makeRow: { rows[$0] },
                    defaultSelection: defaultSelection, emptyText: emptyText)
    }

    /// A content that only says something (no rows).
    static func message(_ text: String, _ style: CellStyle = .dim) -> ViewContent {
        ViewContent(header: [StyledLine(text, style)], emptyText: "")
    }
}

/// What the view builders read: the captured frame and the few pieces of state they depend on.
struct ViewContext {
    var frame: FrameData
    var queues: [Virtqueue]
    var nav: NavState
    var slotMap: SlotMap
    var log: EventLog
    /// Whether the event view shows every queue's events.
    var allQueueEvents: Bool

    /// The selected queue, if any.
    var queue: Virtqueue? { queues.indices.contains(nav.queue) ? queues[nav.queue] : nil }

    /// The last frame's ring, if it is the selected queue's.
    var ring: RingFrame? {
        guard let ring = frame.ring, ring.queue == nav.queue else { return nil }
        return ring
    }

    /// What the ring views say while there is no snapshot.
    func missingRing() -> ViewContent {
        if queue == nil { return .message("no queue selected") }
        if let error = ring?.error { return .message("cannot read the ring: \(error)", .error) }
        return .message("reading the ring…")
    }

    /// The content of `view` for the selected queue.
    func content(of view: InspectorView) -> ViewContent {
        switch view {
        case .descriptors:
            if let table = nav.table { return DescriptorTableView.indirect(table, context: self) }
            return DescriptorTableView.content(self)
        case .driverArea: return RingAreaView.driver(self)
        case .deviceArea: return RingAreaView.device(self)
        case .chains: return ChainsView.content(self)
        case .events: return EventLogView.content(self)
        case .slots: return SlotMapView.content(self)
        }
    }
}
