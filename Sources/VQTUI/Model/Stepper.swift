import VQCore

/// The `s` key's state machine: let the guest run until the selected queue moves, then pause it.
///
/// A split queue is watched through the polls' indexes; a packed queue, which keeps no indexes in
/// memory, through the polls' events for it, and the driver's and device's positions in each
/// frame's snapshot (for sources that do not follow packed rings).
struct Stepper: Hashable, Sendable {
    /// Where the watched queue stood when stepping began.
    enum Baseline: Hashable, Sendable {
        case split(avail: UInt16, used: UInt16)
        case packed(driver: PackedRing.Position, device: PackedRing.Position)
    }

    enum Phase: Hashable, Sendable {
        case idle
        /// Waiting for queue `queue` (labelled `label`) to move from `baseline`.
        case stepping(queue: Int, label: String, baseline: Baseline, since: Double)
        /// vqscope paused the VM after the queue moved; `detail` says how (`used 51→52`).
        case paused(detail: String)
    }

    private(set) var phase: Phase = .idle

    /// Whether vqscope paused the VM (and must resume it on exit).
    var pausedByInspector: Bool {
        if case .paused = phase { return true }
        return false
    }

    var isStepping: Bool {
        if case .stepping = phase { return true }
        return false
    }

    /// Starts watching `queue` from `baseline`.
    mutating func begin(queue: Int, label: String, baseline: Baseline, at time: Double) {
        phase = .stepping(queue: queue, label: label, baseline: baseline, since: time)
    }

    /// Stops stepping or forgets a pause (the VM runs again).
    mutating func reset() { phase = .idle }

    /// Records that vqscope paused the VM.
    mutating func paused(detail: String) { phase = .paused(detail: detail) }

    /// How the watched split queue moved, given its indexes now; `nil` while it has not moved.
    func movement(of queue: Int, indexes: RingIndexes) -> String? {
        guard case let .stepping(watched, _, .split(avail, used), _) = phase, watched == queue,
              let nowAvail = indexes.available, let nowUsed = indexes.used else { return nil }
        var parts: [String] = []
        if nowAvail != avail { parts.append("avail \(avail)→\(nowAvail)") }
        if nowUsed != used { parts.append("used \(used)→\(nowUsed)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// How the watched packed queue moved, from the ring events of one poll (a source that follows
    /// packed rings reports their slots); `nil` when none is the watched queue's.
    func movement(of queue: Int, events: [RingEvent]) -> String? {
        guard case let .stepping(watched, _, .packed, _) = phase, watched == queue else { return nil }
        let mine = events.filter { $0.queue == queue }
        guard !mine.isEmpty else { return nil }
        return mine.prefix(2).map { e in
            switch e.kind {
            case .available(let id): return "slot \(e.index) available (id \(id))"
            case .used(let id, let length): return "slot \(e.index) used (id \(id), len \(length))"
            case .lapped(let ring, let missed): return "\(ring) lapped, \(missed) missed"
            }
        }.joined(separator: ", ") + (mine.count > 2 ? ", …" : "")
    }

    /// How the watched packed queue moved, given a new snapshot; `nil` while it has not moved.
    func movement(of queue: Int, snapshot: PackedRing.Snapshot) -> String? {
        guard case let .stepping(watched, _, .packed(driver, device), _) = phase, watched == queue else { return nil }
        var parts: [String] = []
        if snapshot.driver != driver { parts.append("driver \(driver.index)→\(snapshot.driver.index)") }
        if snapshot.deviceUsed != device { parts.append("device \(device.index)→\(snapshot.deviceUsed.index)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}
