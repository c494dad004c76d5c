import Glibc
import Synchronization
import VQCore

/// One line of progress for long work (a capture, a scan of a large guest), drawn on standard
/// error only when standard error is a terminal, so it never mixes into JSON, pcap or a log file.
/// Redrawn in place at most ten times a second; `finish()` clears it. Safe to update from any
/// thread (a RAM scan reports from its worker threads).
final class ProgressLine: Sendable {
    private struct State {
        var lastDrawn = -1.0
        var width = 0
    }

    private let enabled: Bool
    private let state = Mutex(State())

    /// - Parameter enabled: draw at all; by default only when standard error is a terminal.
    init(enabled: Bool = isatty(2) != 0) {
        self.enabled = enabled
    }

    /// Whether anything is drawn.
    var isEnabled: Bool { enabled }

    /// Shows `text` in place of the line drawn last, unless one was drawn less than 0.1 s ago
    /// (`force` draws it anyway).
    func update(_ text: @autoclosure () -> String, force: Bool = false) {
        guard enabled else { return }
        state.withLock { state in
            let now = MonotonicClock.now()
            guard force || now - state.lastDrawn >= 0.1 else { return }
            state.lastDrawn = now
            let line = text()
            let count = line.count
            let pad = max(0, state.width - count)
            state.width = count
            Output.standardError.write("\r" + line + String(repeating: " ", count: pad))
        }
    }

    /// Clears the line, leaving the cursor at its start.
    func finish() {
        guard enabled else { return }
        state.withLock { state in
            guard state.width > 0 else { return }
            Output.standardError.write("\r" + String(repeating: " ", count: state.width) + "\r")
            state.width = 0
        }
    }

    /// A RAM scan's progress drawn on this line (`scanning guest RAM for virtqueues: 1.5 GiB of
    /// 8 GiB (18%)`), or nil when nothing is drawn (the scan then skips the calls).
    var scanProgress: RingScanner.Progress? {
        guard enabled else { return nil }
        return { [self] done, total in
            update(Self.scanText(done: done, total: total))
        }
    }

    /// The text of a scan's progress.
    static func scanText(done: UInt64, total: UInt64) -> String {
        let percent = total == 0 ? 100 : Int(Double(done) / Double(total) * 100)
        return "scanning guest RAM for virtqueues: \(Hex.humanSize(done)) of \(Hex.humanSize(total)) (\(percent)%)"
    }
}
