/// The refresh rate and the steps `+` and `-` move it along.
struct RefreshRate: Hashable, Sendable {
    /// The rates offered by `+` and `-`, in frames per second.
    static let steps: [Double] = [1, 2, 5, 10, 20, 30]
    /// The slowest and fastest rates accepted from the command line.
    static let range: ClosedRange<Double> = 0.1...60

    /// Frames per second.
    private(set) var hz: Double

    /// A rate clamped to ``range`` (a value that is not a number falls back to 10 Hz).
    init(hz: Double) {
        self.hz = hz.isFinite ? min(max(hz, Self.range.lowerBound), Self.range.upperBound) : 10
    }

    /// Seconds between frames.
    var interval: Double { 1 / hz }

    /// The next step up; stays at the top step.
    mutating func faster() {
        hz = Self.steps.first { $0 > hz + 1e-9 } ?? max(hz, Self.steps.last!)
    }

    /// The next step down; stays at the bottom step.
    mutating func slower() {
        hz = Self.steps.last { $0 < hz - 1e-9 } ?? min(hz, Self.steps.first!)
    }

    /// `10 Hz`, `0.5 Hz`.
    var label: String {
        hz == hz.rounded() ? "\(Int(hz)) Hz" : "\(TextFormat.decimal(hz, places: 1)) Hz"
    }
}
