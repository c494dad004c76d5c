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
