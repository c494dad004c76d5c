import VQCore

/// ``Inspector/handle(_:now:)``: what each key does.
extension Inspector {
    /// Applies one key. Prompts take typed keys first, then the help overlay, then the screen.
    public func handle(_ key: Key, now: Double) -> InspectorAction {
        if var prompt = state.prompt {
            switch prompt.handle(key) {
            case .editing: state.prompt = prompt
            case .cancelled: state.prompt = nil
            case .confirmed(let text):
                state.prompt = nil
                submit(prompt.purpose, text: text, now: now)
            }
            return .none
        }
        if state.helpVisible {
            switch key {
            case .character("q"): return .quit
            case .up, .character("k"): state.helpScroll = max(0, state.helpScroll - 1)
            case .down, .character("j"): state.helpScroll = min(metrics.helpScrollLimit, state.helpScroll + 1)
            case .pageUp: state.helpScroll = max(0, state.helpScroll - 10)
            case .pageDown: state.helpScroll = min(metrics.helpScrollLimit, state.helpScroll + 10)
            case .home: state.helpScroll = 0
            case .end: state.helpScroll = metrics.helpScrollLimit
            case .resize: break
            default: state.helpVisible = false
            }
            return .none
        }
        switch key {
        case .character("q"): return .quit
        case .character("?"):
            state.helpVisible = true
            state.helpScroll = 0
        case .escape: state.message = nil
        case .up, .character("k"): move(by: -1)
        case .down, .character("j"): move(by: 1)
        case .pageUp: move(by: -page)
        case .pageDown: move(by: page)
        case .home: moveToEnd(last: false)
        case .end: moveToEnd(last: true)
        case .left, .character("h"): shiftFocus(by: -1)
        case .right, .character("l"): shiftFocus(by: 1)
        case .tab: switchView(to: state.nav.view.next)
        case .backTab: switchView(to: state.nav.view.previous)
        case .enter: follow(now: now)
        case .backspace: back(now: now)
        case .character(" "): toggleFreeze(now: now)
        case .character("s"): step(now: now)
        case .character("c"): continueVM(now: now)
        case .character("g"): state.prompt = Prompt(purpose: .gotoAddress)
        case .character("/"): state.prompt = Prompt(purpose: .find)
        case .character("n"): findNext(now: now)
        case .character("+"), .character("="):
            state.rate.faster()
            state.say("refresh \(state.rate.label)", at: now)
        case .character("-"), .character("_"):
            state.rate.slower()
            state.say("refresh \(state.rate.label)", at: now)
        case .character("["): selectQueue(state.nav.queue - 1)
        case .character("]"): selectQueue(state.nav.queue + 1)
        case .character("x"): hexdumpSelection(now: now)
        case .character("a"):
            state.allQueueEvents.toggle()
            state.nav.selections[.events] = nil
            state.say(state.allQueueEvents ? "events of every queue" : "events of the selected queue", at: now)
        case .character("r"):
            discover(now: now)
            if discoveryError == nil { state.say("found \(queues.count) queue\(queues.count == 1 ? "" : "s")", at: now) }
        default:
            break
        }
        return .none
    }

    /// Rows a page key moves in the focused pane.
    var page: Int {
        switch state.nav.focus {
        case .queues: return max(1, metrics.queueRows - 1)
        case .view: return max(1, metrics.view.visibleRows - 1)
        case .hexdump: return max(1, metrics.hexdump.visibleLines - 1)
        }
    }

    // MARK: Moving

    func move(by delta: Int) {
        switch state.nav.focus {
        case .queues:
            selectQueue(state.nav.queue + delta)
        case .view:
            let content = currentContent()
            guard content.count > 0 else { return }
            select(selection(in: content, view: state.nav.view) + delta, in: content)
        case .hexdump:
            scrollHex(toLine: state.nav.hexOffset / max(1, metrics.hexdump.bytesPerLine) + delta)
        }
    }

    func moveToEnd(last: Bool) {
        switch state.nav.focus {
        case .queues:
            selectQueue(last ? queues.count - 1 : 0)
        case .view:
            let content = currentContent()
            guard content.count > 0 else { return }
            select(last ? content.count - 1 : 0, in: content)
            // The end of the event log follows new events.
            if last && state.nav.view == .events { state.nav.selections[.events] = nil }
        case .hexdump:
            scrollHex(toLine: last ? Int.max / 2 : 0)
        }
    }

    /// Selects row `row` (clamped) of the current view and keeps it on screen.
    func select(_ row: Int, in content: ViewContent) {
        let view = state.nav.view
        let chosen = min(max(0, row), max(0, content.count - 1))
        state.nav.selections[view] = chosen
        state.nav.tops[view] = Scroll.top(selection: chosen, count: content.count, visible: metrics.view.visibleRows,
                                          previous: state.nav.tops[view] ?? 0)
        if state.nav.pinned == nil { state.nav.hexOffset = 0 }
    }

    /// Selects queue `index` (clamped): its views start afresh; a pinned address stays.
    func selectQueue(_ index: Int) {
        guard !queues.isEmpty else { return }
        let chosen = min(max(0, index), queues.count - 1)
        guard chosen != state.nav.queue else { return }
        state.nav.queue = chosen
        state.nav.queueTop = Scroll.top(selection: chosen, count: queues.count, visible: metrics.queueRows,
                                        previous: state.nav.queueTop)
        state.nav.selections = [:]
        state.nav.tops = [:]
        state.nav.table = nil
        if case .descriptor? = state.nav.pinned?.origin { state.nav.pinned = nil }
        if state.nav.pinned == nil { state.nav.hexOffset = 0 }
    }

    /// Scrolls the hexdump to line `line` of its buffer (clamped).
    func scrollHex(toLine line: Int) {
        guard let target = currentBuffer() else { return }
        let perLine = max(1, metrics.hexdump.bytesPerLine)
        let lines = Int(min(target.length, UInt64(Int.max / 2)) + UInt64(perLine) - 1) / perLine
        let lastTop = max(0, lines - max(1, metrics.hexdump.visibleLines))
        state.nav.hexOffset = min(max(0, line), lastTop) * perLine
    }

    /// Left/right: the queue list, the view, the hexdump.
    func shiftFocus(by delta: Int) {
        let order: [Focus] = [.queues, .view, .hexdump]
        let i = order.firstIndex(of: state.nav.focus) ?? 0
        state.nav.focus = order[min(max(0, i + delta), order.count - 1)]
    }

    func switchView(to view: InspectorView) {
        state.nav.view = view
        state.nav.focus = .view
        if state.nav.pinned?.origin != .address { state.nav.pinned = nil }
        state.nav.hexOffset = 0
    }

    // MARK: Following

    func follow(now: Double) {
        switch state.nav.focus {
        case .queues:
            guard queues.indices.contains(state.nav.queue) else { return state.say("no queue to follow", .warning, at: now) }
            state.history.push(state.nav)
            state.nav.focus = .view
            state.nav.view = .chains
            state.nav.table = nil
        case .view:
            let content = currentContent()
            guard content.count > 0 else { return state.say("nothing to follow here", .dim, at: now) }
            let row = content.row(selection(in: content, view: state.nav.view))
            guard let target = row.follow else { return state.say("nothing to follow from this row", .dim, at: now) }
            if case .sameTable(let index) = target, index >= content.count {
                return state.say("the link names entry \(index), outside the table of \(content.count)", .error, at: now)
            }
            state.history.push(state.nav)
            switch target {
            case .sameTable(let index):
                state.nav.selections[state.nav.view] = index
            case .descriptor(let index):
                state.nav.view = .descriptors
                state.nav.table = nil
                state.nav.selections[.descriptors] = index
            case .table(let ref):
                state.nav.view = .descriptors
                state.nav.table = ref
                state.nav.selections[.descriptors] = 0
                state.nav.tops[.descriptors] = 0
            case .buffer(let buffer):
                state.nav.pinned = buffer
                state.nav.focus = .hexdump
                state.nav.hexOffset = 0
            }
            keepSelectionVisible()
        case .hexdump:
            state.say("Backspace goes back", .dim, at: now)
        }
    }

    /// `x`: the selected row's buffer in the hexdump, focused.
    func hexdumpSelection(now: Double) {
        let content = currentContent()
        guard content.count > 0, let buffer = content.row(selection(in: content, view: state.nav.view)).buffer else {
            return state.say("this row names no buffer", .dim, at: now)
        }
        state.history.push(state.nav)
        state.nav.pinned = buffer
        state.nav.focus = .hexdump
        state.nav.hexOffset = 0
    }

    func back(now: Double) {
        if let previous = state.history.pop() {
            let queueChanged = previous.queue != state.nav.queue
            state.nav = previous
            if queueChanged { frame.ring = nil }
        } else if state.nav.focus != .queues {
            state.nav.focus = .queues
            state.nav.pinned = state.nav.pinned?.origin == .address ? state.nav.pinned : nil
        } else {
            state.say("nothing to go back to", .dim, at: now)
        }
    }

    func keepSelectionVisible() {
        let view = state.nav.view
        let content = currentContent()
        state.nav.tops[view] = Scroll.top(selection: selection(in: content, view: view), count: content.count,
                                          visible: metrics.view.visibleRows, previous: state.nav.tops[view] ?? 0)
    }

    // MARK: Freezing and stepping

    func toggleFreeze(now: Double) {
        state.frozen.toggle()
        state.say(state.frozen ? "frozen: the display holds still while polling goes on (space resumes)" : "live again", at: now)
    }

    /// Why `s` and `c` cannot work on this target, if they cannot.
    var cannotPauseReason: String? {
        if exitReason != nil { return "the target has exited" }
        let summary = source.summary
        guard !summary.canPause else { return nil }
        return summary.isLive ? "this VM cannot be paused from here (no QMP connection)" : "an image does not run: there is nothing to step"
    }

    func step(now: Double) {
        if let reason = cannotPauseReason { return state.say("s: " + reason, .warning, at: now) }
        guard queues.indices.contains(state.nav.queue) else { return state.say("s: no queue selected", .warning, at: now) }
        if stepper.isStepping { return state.say("already stepping; c cancels", .dim, at: now) }
        let q = state.nav.queue
        let queue = queues[q]
        if stepper.pausedByInspector || runState == .paused {
            do {
                try source.resume()
            } catch {
                return state.say("cannot resume the VM: \(error.description)", .error, at: now)
            }
            stepper.reset()
            runState = .running
        }
        let baseline: Stepper.Baseline
        switch queue.location.layout {
        case .split:
            if activity[q].availIndex == nil { poll(now: now) }
            guard let avail = activity[q].availIndex, let used = activity[q].usedIndex else {
                return state.say("s: the indexes of \(queue.label) are not known yet", .warning, at: now)
            }
            baseline = .split(avail: avail, used: used)
        case .packed:
            var snapshot = frame.ring?.queue == q && !state.frozen ? frame.ring?.snapshot : nil
            if snapshot == nil { snapshot = try? source.snapshot(queue) }
            guard case .packed(let p)? = snapshot else {
                return state.say("s: cannot read \(queue.label)", .error, at: now)
            }
            baseline = .packed(driver: p.driver, device: p.deviceUsed)
        }
        stepper.begin(queue: q, label: queue.label, baseline: baseline, at: seconds(now))
        state.say("stepping… the VM runs until \(queue.label) moves (c cancels)", .warning, at: now)
    }

    func continueVM(now: Double) {
        if let reason = cannotPauseReason { return state.say("c: " + reason, .warning, at: now) }
        if stepper.isStepping {
            stepper.reset()
            return state.say("step cancelled; the VM keeps running", at: now)
        }
        guard stepper.pausedByInspector || runState == .paused else { return state.say("the VM is running", .dim, at: now) }
        do {
            try source.resume()
            stepper.reset()
            runState = .running
            state.say("VM continued", .good, at: now)
        } catch {
            state.say("cannot resume the VM: \(error.description)", .error, at: now)
        }
    }

    // MARK: Prompts

    func submit(_ purpose: Prompt.Purpose, text: String, now: Double) {
        guard let value = HexInput.parse(text) else {
            return state.say("'\(text)' is not a hex number (0x1000, 1000h or 1000)", .error, at: now)
        }
        switch purpose {
        case .gotoAddress:
            let gpa = GuestPhysicalAddress(value)
            let map = source.slotMap
            var length: UInt64 = 256
            if let i = map.slotIndex(containing: gpa) { length = map.slots[i].guestEnd - value }
            state.history.push(state.nav)
            state.nav.pinned = BufferRef(address: gpa, length: length, isWritable: nil, origin: .address, chain: nil)
            state.nav.focus = .hexdump
            state.nav.hexOffset = 0
            if map.slotIndex(containing: gpa) == nil {
                state.say("\(gpa) is not guest RAM: \(map.reasonUnmapped(gpa))", .warning, at: now)
            } else {
                state.say("hexdump of \(gpa) (Backspace: back)", at: now)
            }
        case .find:
            state.search = value
            find(value, now: now)
        }
    }

    func findNext(now: Double) {
        guard let value = state.search else { return state.say("n: nothing to find yet; / finds a value", .dim, at: now) }
        find(value, now: now)
    }

    /// Selects the next row of the current view (after the selected one, wrapping) holding `value`.
    func find(_ value: UInt64, now: Double) {
        let content = currentContent()
        let view = state.nav.view
        let name = view.title(for: queues.indices.contains(state.nav.queue) ? queues[state.nav.queue].location.layout : nil)
        guard content.count > 0 else { return state.say("\(Hex.string(value)): \(name) is empty", .warning, at: now) }
        let start = selection(in: content, view: view)
        var matches: [Int] = []
        for i in 0..<content.count where content.row(i).matches(value) { matches.append(i) }
        guard let next = matches.first(where: { $0 > start }) ?? matches.first else {
            return state.say("\(Hex.string(value)) is not in \(name)", .warning, at: now)
        }
        state.nav.focus = .view
        select(next, in: content)
        let ordinal = (matches.firstIndex(of: next) ?? 0) + 1
        state.say("\(Hex.string(value)): match \(ordinal) of \(matches.count) in \(name) (n: next)", .good, at: now)
    }
}
