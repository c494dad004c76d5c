/// A one-line bar chart of recent activity: `··▁▂▃▅█▇▅▃`, one cell per value, scaled to the largest.
enum Sparkline {
    /// The eight bar heights, lowest first.
    static let bars: [Unicode.Scalar] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    /// What a zero value is drawn as: a dotted baseline, so an idle queue still shows its chart.
    static let idle: Unicode.Scalar = "·"

    /// The chart of `values` (oldest first), one cell each. Any non-zero value gets at least the
    /// lowest bar, so a single buffer next to a burst still shows.
    static func render(_ values: [Int]) -> String {
        let top = values.max() ?? 0
        var scalars = String.UnicodeScalarView()
        for value in values {
            if value <= 0 || top <= 0 {
                scalars.append(idle)
            } else {
                let level = (value * bars.count + top - 1) / top  // 1...8, rounded up
                scalars.append(bars[min(bars.count, max(1, level)) - 1])
            }
        }
        return String(scalars)
    }
}
