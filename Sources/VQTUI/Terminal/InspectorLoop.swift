import VQCore

/// Runs the inspector on a real terminal: polls the rings often, draws a frame at the refresh rate,
/// and handles keys as they come, until `q` or a stop signal.
public enum InspectorLoop {
    /// How the loop ended.
    public struct Outcome: Sendable {
        /// The stop signal that ended it, or 0 for `q`.
        public var signal: Int32
        /// What to tell the user after the terminal is restored (the VM was continued...).
        public var message: String?
        /// Frames drawn, polls made and seconds the loop ran: what `--stats` prints.
        public var frames: Int
        /// Frames skipped because the screen would not have changed (nothing read or built), and
        /// frames built whose screen was the same as the last one (nothing written).
        public var skipped = 0
        public var unchanged = 0
        public var polls: Int
        public var seconds: Double
        /// Ring entries missed because a ring lapped between two polls.
        public var lappedEntries: Int

        /// `412 frames in 41.2 s (10.0/s), 4120 polls (100.0/s)`.
        public var statistics: String {
            let s = max(seconds, 1e-9)
            return "\(frames) frames in \(String(format1: seconds)) s (\(String(format1: Double(frames) / s))/s: "
                + "\(frames - skipped - unchanged) drawn, \(skipped) skipped unchanged, \(unchanged) built the same), "
                + "\(polls) polls (\(String(format1: Double(polls) / s))/s), \(lappedEntries) ring entries missed"
        }
    }

    public static func run(_ inspector: Inspector, on terminal: NcursesTerminal, clock: () -> Double = MonotonicClock.now) -> Outcome {
        StopSignals.install()
        let started = clock()
        var frames = 0, polls = 0, skipped = 0
        let unchangedBefore = terminal.unchangedGrids
        inspector.start(now: started)
        var nextPoll = clock()
        var nextFrame = nextPoll
        var dirty = true
        while StopSignals.pending == 0 {
            var now = clock()
            var polled = false
            if now >= nextPoll {
                inspector.poll(now: now)
                polls += 1
                polled = true
                nextPoll = max(nextPoll + inspector.pollInterval, now)
            }
            // A frame due before the next poll is drawn now, right after this one: one wake-up for
            // both (frames keep their rate; each is at most a poll interval early).
            if dirty || now >= nextFrame || (polled && nextFrame < nextPoll) {
                let size = terminal.size
                if inspector.needsFrame(now: now, width: size.width, height: size.height, force: dirty) {
                    inspector.refresh(now: now)
                    var grid = ScreenGrid(width: size.width, height: size.height)
                    inspector.render(into: &grid, now: now)
                    terminal.draw(grid)
                } else {
                    skipped += 1
                }
                frames += 1
                nextFrame = max(nextFrame + inspector.refreshInterval, now)
                dirty = false
            }
            now = clock()
            // Round the wait up: a wait rounded down to 0 ms would spin until the next poll is due.
            let wait = Int(((min(nextPoll, nextFrame) - now) * 1000).rounded(.up))
            guard let key = terminal.readKey(timeoutMilliseconds: max(1, wait)) else { continue }
            if inspector.handle(key, now: clock()) == .quit { break }
            dirty = true
        }
        let message = inspector.finish()
        terminal.restore()
        return Outcome(signal: StopSignals.pending, message: message, frames: frames, skipped: skipped, unchanged: terminal.unchangedGrids - unchangedBefore,
                       polls: polls, seconds: clock() - started, lappedEntries: inspector.lappedEntries)
    }

    /// Lets the user pick one of `entries` (the QEMU processes on the host); `nil` when they quit.
    public static func pick(_ picker: inout ProcessPicker, on terminal: NcursesTerminal) -> Int32? {
        StopSignals.install()
        while StopSignals.pending == 0 {
            let size = terminal.size
            var grid = ScreenGrid(width: size.width, height: size.height)
            picker.render(into: &grid)
            terminal.draw(grid)
            guard let key = terminal.readKey(timeoutMilliseconds: 200) else { continue }
            switch picker.handle(key) {
            case .none: continue
            case .quit: return nil
            case .pick(let pid): return pid
            }
        }
        return nil
    }
}

extension String {
    /// A number with one decimal: `12.5`.
    init(format1 value: Double) {
        let tenths = (value * 10).rounded()
        guard tenths.isFinite, abs(tenths) < 1e15 else { self = "\(value)"; return }
        let t = Int(tenths)
        self = "\(t / 10).\(abs(t % 10))"
    }
}
