import VQCore

/// What the current view's content is built from (``Inspector/currentContent()``).
struct ContentKey: Hashable {
    var frame: Int
    var events: Int
    var eventLimit: Int
    var time: Double
    var nav: NavState
    var allQueueEvents: Bool
    var queues: Int
}

/// What is selected: the current view's content, its selected row, and the buffer under it.
extension Inspector {
    /// The view builders' inputs.
    var viewContext: ViewContext {
        ViewContext(frame: frame, queues: queues, nav: state.nav, slotMap: source.slotMap, log: log,
                    allQueueEvents: state.allQueueEvents)
    }

    /// The current view's content, built again only when something it is built from changed.
    func currentContent() -> ViewContent {
        // The event view shows the log up to the frame's limit (and its rates): built again every
        // frame; the others from the ring and table read.
        let events = state.nav.view == .events
        let key = ContentKey(frame: frameGeneration, events: events ? log.nextSequence : 0, eventLimit: events ? frame.eventLimit : 0,
                             time: events ? frame.time : 0, nav: state.nav, allQueueEvents: state.allQueueEvents, queues: queues.count)
        if let cached = contentCache, cached.key == key { return cached.content }
        let content = viewContext.content(of: state.nav.view)
        contentCache = (key, content)
        return content
    }

    /// The selected row of `view` in `content`: the user's choice, else the view's natural row.
    func selection(in content: ViewContent, view: InspectorView) -> Int {
        guard content.count > 0 else { return 0 }
        return min(max(0, state.nav.selections[view] ?? content.defaultSelection), content.count - 1)
    }

    /// The buffer the hexdump pane shows: the pinned one, else the selected row's.
    func currentBuffer() -> BufferRef? {
        if let pinned = state.nav.pinned { return pinned }
        let content = currentContent()
        guard content.count > 0 else { return nil }
        return content.row(selection(in: content, view: state.nav.view)).buffer
    }

    /// The decoded payload of the chain `buffer` belongs to.
    func payload(for buffer: BufferRef?) -> DevicePayload? {
        guard let id = buffer?.chain, let ring = frame.ring, ring.queue == state.nav.queue else { return nil }
        return ring.payloads[id]
    }
}
