import VQCore

/// The log of ring activity the polls saw: new buffers, completions with their lengths (each with
/// what its chain carried, when the source could read it as its own), lapped rings, and stalls
/// starting and ending; the selected queue's, or every queue's (`a`).
enum EventLogView {
    static func content(_ context: ViewContext) -> ViewContent {
        let queueFilter = context.allQueueEvents ? nil : context.nav.queue
        let entries = context.log.entries(before: context.frame.eventLimit, queue: queueFilter)
        let scope = context.allQueueEvents ? "all queues" : context.queue?.label ?? "no queue"
        var first = StyledLine([Span("Events ", .title), Span("of \(scope) · \(entries.count) shown · \(context.frame.eventLimit) seen")])
        if context.log.dropped > 0 { first.append(" · oldest \(context.log.dropped) dropped", .dim) }
        first.append("  (a: \(context.allQueueEvents ? "this queue" : "all queues"))", .dim)
        var header = [first]
        if let mode = context.log.eventsMode {
            var line = StyledLine([Span("QEMU's events: ", .dim), Span(mode)])
            let shown = context.allQueueEvents ? Array(context.queues.indices) : [context.nav.queue]
            let rates = shown.compactMap { q -> String? in
                guard let c = context.log.qemuRates.last[q], context.queues.indices.contains(q) else { return nil }
                return "\(context.queues[q].label) kicks \(c.kicks)/s interrupts \(c.interrupts)/s suppressed \(c.suppressed)/s"
            }
            if !rates.isEmpty { line.append(" · " + rates.prefix(4).joined(separator: " · ")) }
            header.append(line)
        }
        let columns = StyledLine(TextFormat.lpad("time", 10) + "  " + TextFormat.pad("queue", 17) + "event", .header)
        let labels = context.queues.map(\.label)
        let layouts = context.queues.map(\.location.layout)
        let descriptorCount = context.queue.map { Int($0.location.size) } ?? 0
        let selected = context.nav.queue
        return ViewContent(header: header, columns: columns, count: entries.count, makeRow: { i in
            let e = entries[i]
            let packed = layouts.indices.contains(e.queue) && layouts[e.queue] == .packed
            var line = StyledLine()
            line.appendRight(TextFormat.timestamp(e.time), width: 10, .dim)
            line.append("  ")
            line.append(labels.indices.contains(e.queue) ? labels[e.queue] : "queue \(e.queue)", width: 17, .accent)
            // Split rings: `#position`; packed rings: the slot and its lap's wrap counter.
            let position = packed ? "slot \(e.index)" + (e.wrap.map { " w\($0 ? 1 : 0)" } ?? "") : "#\(e.index)"
            var values: [UInt64] = [UInt64(e.index)]
            var follow: FollowTarget?
            let here = e.queue == selected
            switch e.kind {
            case .health(let change):
                switch change {
                case .stalled:
                    line.append("stall ", CellStyle(.error, bold: true))
                    line.append(change.description, .error)
                case .recovered:
                    line.append(change.description, CellStyle(.good, bold: true))
                }
            case .ring(.available(let head)):
                line.append("avail ", .good)
                line.append(TextFormat.pad(position, 12), .dim)
                line.append(packed ? "id \(head)" : "head \(head)")
                values.append(UInt64(head))
                let target = packed ? Int(e.index) : Int(head)
                if here, target < descriptorCount { follow = .descriptor(target) }
            case .ring(.used(let id, let length)):
                line.append("used  ", .accent)
                line.append(TextFormat.pad(position, 12), .dim)
                line.append(TextFormat.pad("id \(id)", 10) + "len \(length)")
                values += [UInt64(id), UInt64(length)]
                let target = packed ? Int(e.index) : Int(id)
                if here, target < descriptorCount { follow = .descriptor(target) }
            case .qemu(let kind, let detail):
                let style: CellStyle = kind == .kick || kind == .interrupt ? CellStyle(.good, bold: true) : kind == .suppressed ? .warning : .accent
                line.append(TextFormat.pad(kind.rawValue, 11), style)
                line.append(detail.description, .dim)
            case .ring(.lapped(let ring, let missed)):
                let at = packed ? "at slot \(e.index)" : "at #\(e.index)"
                line.append("LAPPED \(ring) ring \(at): \(missed) entr\(missed == 1 ? "y" : "ies") missed", CellStyle(.warning, bold: true))
                values.append(UInt64(missed))
            }
            if let payload = e.payload { line.append("  " + payload.summary, .accent) }
            return ViewRow(line, values: values, follow: follow)
        }, defaultSelection: max(0, entries.count - 1), emptyText: "no events yet")
    }
}
