import VQCore

/// ``Inspector/render(into:now:)``: the whole frame from the captured data and the user's state.
extension Inspector {
    /// Draws the frame at the grid's size. Reads nothing from the target.
    public func render(into grid: inout ScreenGrid, now: Double) {
        grid.fill(x: 0, y: 0, width: grid.width, height: grid.height)
        let nav = state.nav
        let layout = ScreenLayout(width: grid.width, height: grid.height, queueCount: queues.count, focus: nav.focus)
        guard !layout.isTiny else {
            drawTooSmall(into: &grid)
            return
        }
        let summary = source.summary
        let status = TargetStatus(exited: exitReason, frozen: state.frozen,
                                  eventsSinceFreeze: state.frozen ? log.nextSequence - frame.eventLimit : 0,
                                  stepper: stepper, runState: runState, isLive: summary.isLive, time: seconds(now))
        HeaderBar.draw(into: &grid, rect: layout.header, summary: summary, rate: state.rate, status: status)

        var metrics = RenderMetrics()
        metrics.queueRows = layout.queueRows
        var rows = frame.queues.count == queues.count ? frame.queues : placeholderRows()
        let visible = visibleQueueRows(height: grid.height)
        if !state.frozen, frame.queues.count == queues.count, visible.contains(where: { !rows[$0].detailed }) {
            // The terminal grew since the frame was read: the rows now on screen, in full.
            rows = queueRows(at: seconds(now), previous: [], visible: visible)
            frame.queues = rows
        }
        screenHeight = grid.height
        QueueListPane.draw(into: &grid, rect: layout.queues, rows: rows,
                           selected: nav.queue, top: nav.queueTop, focused: nav.focus == .queues, error: discoveryError)

        let queue = queues.indices.contains(nav.queue) ? queues[nav.queue] : nil
        let content = currentContent()
        let selected = selection(in: content, view: nav.view)
        metrics.view = ViewPane.draw(into: &grid, rect: layout.view, content: content, view: nav.view,
                                     layout: queue?.location.layout, selection: selected, top: nav.tops[nav.view] ?? 0,
                                     focused: nav.focus == .view, queueLabel: queue?.label, footer: healthLine(now: now))

        let target = nav.pinned ?? (content.count > 0 ? content.row(selected).buffer : nil)
        let input = HexdumpPane.Input(target: target, frame: frame.hex, offset: nav.hexOffset, payload: payload(for: target),
                                      slotMap: source.slotMap, focused: nav.focus == .hexdump)
        metrics.hexdump = HexdumpPane.draw(into: &grid, rect: layout.hexdump, input: input)
        if layout.hexdump.height == 0 {
            metrics.hexdump.bytesPerLine = HexdumpPane.bytesPerLine(width: layout.view.inner.width, digits: 8)
        }

        StatusLine.draw(into: &grid, rect: layout.status, prompt: state.prompt, message: state.currentMessage(at: now))
        if state.helpVisible { metrics.helpScrollLimit = HelpOverlay.draw(into: &grid, scroll: state.helpScroll) }
        self.metrics = metrics
    }

    /// The selected queue's health and why, for the view pane's bottom edge: ` STALL: 1 request in
    /// flight, the oldest (head 3) for 1.2 s; … `; `nil` before a snapshot was judged.
    func healthLine(now: Double) -> StyledLine? {
        let q = state.nav.queue
        guard health.indices.contains(q), let d = health[q].monitor.diagnosis else { return nil }
        let t = state.frozen ? frame.time : seconds(now)
        let badge = HealthBadge(d.health, provisional: health[q].monitor.isProvisional(at: t))
        var line = StyledLine([Span(" "), Span(badge.text, CellStyle(badge.role, bold: true))])
        if let reason = d.reasons.first { line.append(": " + reason, CellStyle(d.health.isTrouble ? badge.role : .dim)) }
        if badge.provisional { line.append(" (provisional)", .dim) }
        line.append(" ")
        return line
    }

    /// Rows for the queue list before the first frame was captured.
    func placeholderRows() -> [QueueRow] {
        queues.map { QueueRow(label: $0.label, layout: $0.location.layout, backend: $0.backendName, size: $0.location.size, avail: nil, used: nil,
                              inFlight: nil, rate: 0, activity: []) }
    }

    /// What a terminal below the minimum size gets: as much of a sentence as fits.
    func drawTooSmall(into grid: inout ScreenGrid) {
        guard grid.width > 0, grid.height > 0 else { return }
        let lines = [
            StyledLine([Span("vqscope", CellStyle(.title, bold: true)), Span(exitReason == nil ? "" : " · TARGET EXITED", .error)]),
            StyledLine("terminal too small (\(grid.width)x\(grid.height))", .warning),
            StyledLine("needs \(ScreenLayout.minimumWidth)x\(ScreenLayout.minimumHeight); q quits", .dim),
        ]
        for (y, line) in lines.prefix(grid.height).enumerated() {
            grid.draw(line, x: 0, y: y, width: grid.width)
        }
    }
}
