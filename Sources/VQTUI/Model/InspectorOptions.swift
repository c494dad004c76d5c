/// How the inspector starts: what the command line can set.
public struct InspectorOptions: Sendable {
    /// Frames per second to start with (the `+` and `-` keys change it while running).
    public var refreshHz: Double = 10

    /// Options with a starting refresh rate (clamped to 0.1...60 Hz when used).
    public init(refreshHz: Double = 10) {
        self.refreshHz = refreshHz
    }
}

/// What the run loop should do after a key press.
public enum InspectorAction: Sendable {
    /// Keep running.
    case none
    /// Leave the inspector (the loop then calls ``Inspector/finish()``).
    case quit
}
