/// A one-line message on the bottom line, shown for a few seconds.
struct StatusMessage: Hashable, Sendable {
    /// Seconds a message stays.
    static let lifetime = 6.0

    var text: String
    var role: CellStyle.Role
    /// Monotonic seconds when it was set.
    var time: Double
}

/// Everything the user controls: where they are, what is open, how fast frames come. No data from
/// the target lives here (that is ``FrameData``).
struct InspectorState: Sendable {
    var nav = NavState()
    var history = NavigationStack()
    var prompt: Prompt?
    var helpVisible = false
    /// Lines the help overlay is scrolled by (on short terminals).
    var helpScroll = 0
    /// Space: the display keeps its last frame while polling goes on.
    var frozen = false
    var message: StatusMessage?
    var rate: RefreshRate
    /// The value of the last `/` search, which `n` looks for again (in the current view).
    var search: UInt64?
    /// `a` in the event view: every queue's events instead of the selected queue's.
    var allQueueEvents = false

    init(rate: RefreshRate) { self.rate = rate }

    /// Shows `text` on the bottom line.
    mutating func say(_ text: String, _ role: CellStyle.Role = .normal, at time: Double) {
        message = StatusMessage(text: text, role: role, time: time)
    }

    /// The message to show at `time`, if it has not expired.
    func currentMessage(at time: Double) -> StatusMessage? {
        guard let message, time - message.time < StatusMessage.lifetime else { return nil }
        return message
    }
}
