/// Bursts and quiet moments: a rate per tick that holds for a while, then changes. Busy phases last
/// half a second to four seconds at up to a few events a tick; quiet ones a third of a second to
/// two and a half seconds at almost nothing.
struct TrafficPhase: Sendable {
    private(set) var busy = false
    private var endsAt: UInt64 = 0
    private(set) var rate: Double = 0
    /// The highest rate a busy phase may have.
    let peak: Double
    /// The rate of quiet phases.
    let idle: Double

    init(peak: Double, idle: Double) {
        self.peak = peak
        self.idle = idle
    }

    /// The rate at tick `now`, starting a new phase when the current one is over.
    mutating func rate(at now: UInt64, random: inout DemoRandom) -> Double {
        if now >= endsAt {
            busy = random.chance(busy ? 0.3 : 0.75)
            endsAt = now + UInt64(busy ? Int.random(in: 50...400, using: &random) : Int.random(in: 30...250, using: &random))
            rate = busy ? Double.random(in: peak / 5...peak, using: &random) : idle * Double.random(in: 0...1, using: &random)
        }
        return rate
    }
}
