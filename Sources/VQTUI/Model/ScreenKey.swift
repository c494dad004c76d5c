import VQCore

/// What a frame would show, as a value: when the next frame's key equals the last drawn frame's,
/// the frame is skipped (nothing read, built or written). Everything that can change between two
/// frames without a key press is here: the terminal's size, the queue list's visible rows (indexes,
/// rate, activity, health), the selected queue's health line, the run state, the status line and
/// the header's chips. What the key cannot see (bytes rewritten under unchanged indexes, a buffer's
/// contents) is caught by drawing at least once every ``Inspector/stillFrameInterval``.
struct ScreenKey: Hashable {
    var width: Int
    var height: Int
    var nav: NavState
    var prompt: Prompt?
    var helpVisible: Bool
    var helpScroll: Int
    var frozen: Bool
    var message: StatusMessage?
    var rate: RefreshRate
    var allQueueEvents: Bool
    var exitReason: String?
    var discoveryError: String?
    var runState: VMRunState?
    var stepper: Stepper
    var queueCount: Int
    /// The log's next sequence, where the screen shows it (the event view, the FROZEN chip); else 0.
    var events: Int
    /// The queue list's rows on screen.
    var rows: [RowKey]
    /// The selected queue's health line, its digits left out: a stall's age counting up (`for
    /// 1.2 s`) is drawn with the once-a-second frame, not every frame; a new health or reason draws.
    var healthLine: String?
}

/// What a queue row shows, as ``Inspector/rowKey(_:at:)`` sees it.
struct RowKey: Hashable {
    var avail: UInt16?
    var used: UInt16?
    var packed: PackedPositions?
    var completions: Int
    var additions: Int
    /// The tenth of a second, while the queue's rate and sparkline move with time.
    var moving: Int?
    /// Whether the row would mark an index as changed (moved since the last frame drawn).
    var changed: Bool
    var health: HealthBadge?
}

extension Inspector {
    /// Seconds a screen may stay undrawn while its key does not change: a buffer rewritten under
    /// unchanged indexes shows within this time.
    static let stillFrameInterval = 1.0

    /// The key of the frame a `width`×`height` terminal would show at `now`.
    func screenKey(now: Double, width: Int, height: Int) -> ScreenKey {
        let t = state.frozen ? frame.time : seconds(now)
        let showsEvents = state.nav.view == .events || state.frozen
        let rows = state.frozen ? [] : visibleQueueRows(height: height).map { rowKey($0, at: t) }
        return ScreenKey(width: width, height: height, nav: state.nav, prompt: state.prompt, helpVisible: state.helpVisible,
                         helpScroll: state.helpScroll, frozen: state.frozen, message: state.currentMessage(at: now), rate: state.rate,
                         allQueueEvents: state.allQueueEvents, exitReason: exitReason, discoveryError: discoveryError, runState: runState,
                         stepper: stepper, queueCount: queues.count, events: showsEvents ? log.nextSequence : 0,
                         rows: rows, healthLine: healthLine(now: now).map(Self.withoutDigits))
    }

    /// Whether a frame must be drawn at `now` on a `width`×`height` terminal: `force` (a key was
    /// pressed), a screen key different from the last drawn frame's, stepping (its packed rings are
    /// watched through the frames' snapshots), or ``stillFrameInterval`` since the last frame drawn.
    /// Records the key when it says yes.
    public func needsFrame(now: Double, width: Int, height: Int, force: Bool = false) -> Bool {
        if !force, selectedQueueMoved() {
            // Its row and its ring's view change: a frame without working the key out (the next
            // frame works it out again, as nothing is recorded to compare with).
            lastDrawn = nil
            screenHeight = height
            return true
        }
        let key = screenKey(now: now, width: width, height: height)
        if !force, !stepper.isStepping, let last = lastDrawn, last.key == key,
           now - last.time < Self.stillFrameInterval, now >= last.time {
            return false
        }
        lastDrawn = (key, now)
        screenHeight = height
        return true
    }

    /// Whether the selected queue's indexes moved since the last frame showed them (not while the
    /// display is frozen, which keeps what it showed).
    func selectedQueueMoved() -> Bool {
        !state.frozen && activity.indices.contains(state.nav.queue) && indexesMoved(state.nav.queue)
    }

    /// Whether queue `i`'s indexes moved since the last frame's row showed them.
    func indexesMoved(_ i: Int) -> Bool {
        guard frame.queues.count == queues.count else { return false }
        let shown = frame.queues[i]
        return shown.avail != activity[i].availIndex || shown.used != activity[i].usedIndex
            || shown.packed?.driver != activity[i].packed?.driver || shown.packed?.deviceUsed != activity[i].packed?.deviceUsed
    }

    /// What queue `i`'s row in the list shows at inspector time `t`, cheaply: its indexes, what it
    /// completed, its health, and while it completed anything in the sparkline's window, the time
    /// (its rate and sparkline move with it: every tenth of a second while the rate counts a
    /// completion, every second after).
    func rowKey(_ i: Int, at t: Double) -> RowKey {
        // The marks the next frame's row would get: its indexes moved since the last frame's.
        let changed = indexesMoved(i)
        var moving: Int?
        if let last = activity[i].lastCompletion {
            if t - last <= QueueActivity.rateWindow + QueueActivity.bucketSeconds {
                // Its rate counts the last two seconds: it moves every tenth.
                moving = Int((t / QueueActivity.bucketSeconds).rounded(.down))
            } else if t - last <= Double(QueueListPane.sparklineSeconds + 1) {
                // Only its sparkline moves, a cell a second.
                moving = -Int(t.rounded(.down))
            }
        }
        return RowKey(avail: activity[i].availIndex, used: activity[i].usedIndex, packed: activity[i].packed,
                      completions: activity[i].completions, additions: activity[i].additions, moving: moving, changed: changed,
                      health: i < health.count ? health[i].monitor.badge(at: t) : nil)
    }

    /// A line's text and styles, digits left out.
    static func withoutDigits(_ line: StyledLine) -> String {
        var text = String.UnicodeScalarView()
        for span in line.spans {
            // Each span's style as two scalars after a separator: U+0001, its role, bold or not.
            text.append("\u{1}")
            text.append(Unicode.Scalar(0x100 + UInt32(span.style.role.rawValue))!)
            text.append(span.style.bold ? "b" : "n")
            for scalar in span.text.unicodeScalars where !(scalar >= "0" && scalar <= "9") { text.append(scalar) }
        }
        return String(text)
    }

    /// The queue list's rows worth building at a terminal `height` rows high: those on screen
    /// (where the last render put them), and a few around them.
    func visibleQueueRows(height: Int) -> Range<Int> {
        let layout = ScreenLayout(width: ScreenLayout.minimumWidth, height: height, queueCount: queues.count, focus: state.nav.focus)
        let visible = max(1, layout.queueRows)
        let first = Scroll.top(selection: state.nav.queue, count: queues.count, visible: visible, previous: state.nav.queueTop)
        return max(0, first - 2)..<min(queues.count, first + visible + 2)
    }
}
