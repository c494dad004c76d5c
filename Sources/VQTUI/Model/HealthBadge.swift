import VQCore

/// A queue's health as the queue list shows it: a short word and a color.
struct HealthBadge: Hashable, Sendable {
    /// Cells the badge takes.
    static let width = 6

    var health: QueueHealth
    /// Whether the queue has been watched less than the threshold (ages are lower bounds).
    var provisional: Bool

    init(_ health: QueueHealth, provisional: Bool) {
        self.health = health
        self.provisional = provisional
    }

    /// `idle`, `busy`, `wait`, `STALL`, `starv`, `BROKEN`; trouble in capitals.
    var text: String {
        let word: String
        switch health {
        case .idle: word = "idle"
        case .busy: word = "busy"
        case .waiting: word = "wait"
        case .stalled: word = "STALL"
        case .starved: word = "starv"
        case .broken: word = "BROKEN"
        }
        return provisional && word.count < Self.width ? word + "?" : word
    }

    /// The badge's color.
    var role: CellStyle.Role {
        if provisional && !health.isTrouble { return .dim }
        switch health {
        case .idle, .waiting: return .dim
        case .busy: return .good
        case .starved: return .warning
        case .stalled, .broken: return .error
        }
    }
}

extension QueueHealthMonitor {
    /// The health to show at `now`: the latest diagnosis while nothing moved since, else what the
    /// polled indexes say (split rings), else the latest diagnosis; `nil` before anything is known.
    func badge(at now: Double) -> HealthBadge? {
        let provisional = isProvisional(at: now)
        if let d = diagnosis, !movedSinceObserved || queue.location.layout == .packed {
            return HealthBadge(d.health, provisional: provisional)
        }
        guard let n = inFlight else { return diagnosis.map { HealthBadge($0.health, provisional: provisional) } }
        if n == 0 {
            let usedLately = deviceMovedAt > started && now - deviceMovedAt < threshold
            return HealthBadge(usedLately ? .busy : .idle, provisional: provisional)
        }
        return HealthBadge(tracker.role.flow == .receive ? .waiting : .busy, provisional: provisional)
    }
}
