import VQCore

/// Kicks, interrupts and suppressed interrupts per queue from QEMU's own events (the eBPF probes),
/// as rates over the last full second: what the Events view shows beside the log. Bounded: two
/// one-second buckets per queue.
struct QEMUEventRates: Sendable, Hashable {
    /// Counts of one queue in one second.
    struct Counts: Sendable, Hashable {
        var kicks = 0
        var interrupts = 0
        var suppressed = 0
    }

    private var second: Int?
    private var current: [Int: Counts] = [:]
    /// The last full second's counts, by queue: the rates shown.
    private(set) var last: [Int: Counts] = [:]

    /// Counts event `kind` of queue `queue` seen at `time` (inspector seconds).
    mutating func record(_ kind: ProbeEvent.Kind, queue: Int, at time: Double) {
        roll(to: time)
        switch kind {
        case .kick: current[queue, default: Counts()].kicks += 1
        case .interrupt: current[queue, default: Counts()].interrupts += 1
        case .suppressed: current[queue, default: Counts()].suppressed += 1
        default: break
        }
    }

    /// Moves to the second of `time`: the one before becomes the shown one (nothing when a
    /// second passed without events).
    mutating func roll(to time: Double) {
        let s = Int(time.rounded(.down))
        guard let second else {
            self.second = s
            return
        }
        if s == second { return }
        last = s == second + 1 ? current : [:]
        current = [:]
        self.second = s
    }
}
