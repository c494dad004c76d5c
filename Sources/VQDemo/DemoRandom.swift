/// A small deterministic random number generator (SplitMix64): the simulated guest's traffic is
/// reproducible from its seed, so tests see the same run every time.
struct DemoRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// A whole number of events for a rate of `rate` per tick: its integer part, plus one more with
    /// probability of its fraction.
    mutating func events(rate: Double) -> Int {
        guard rate > 0 else { return 0 }
        let whole = rate.rounded(.down)
        return Int(whole) + (chance(rate - whole) ? 1 : 0)
    }

    /// One of `choices`, each with its weight.
    mutating func pick<T>(_ choices: [(weight: Double, value: T)]) -> T {
        let total = choices.reduce(0) { $0 + $1.weight }
        var x = Double.random(in: 0..<total, using: &self)
        for choice in choices {
            if x < choice.weight { return choice.value }
            x -= choice.weight
        }
        return choices[choices.count - 1].value
    }
}
