import VQCore

/// What the polls saw of one queue: its latest indexes and how many buffers the device completed
/// in each tenth of a second of the last half minute, for the rate and the sparkline.
struct QueueActivity: Hashable, Sendable {
    /// Length of one counting bucket, in seconds.
    static let bucketSeconds = 0.1
    /// Buckets kept: a little over the sparkline's 30 s.
    static let bucketCount = 320
    /// Seconds the rate is averaged over.
    static let rateWindow = 2.0

    /// `avail.idx` at the last poll (`nil` for packed rings, or before the first poll).
    private(set) var availIndex: UInt16?
    /// `used.idx` at the last poll.
    private(set) var usedIndex: UInt16?
    /// A packed ring's positions at the last poll that followed them.
    var packed: PackedPositions?
    /// Completions counted since the inspector started.
    private(set) var completions = 0
    /// Buffers made available counted since the inspector started.
    private(set) var additions = 0
    /// When counting started (the first poll), in inspector seconds.
    private(set) var since: Double?
    /// When the last completion was counted.
    private(set) var lastCompletion: Double?

    private var buckets = [Int](repeating: 0, count: QueueActivity.bucketCount)
    /// The absolute number of the newest bucket touched.
    private var newest: Int?

    /// Chains the indexes say are in flight (`avail.idx - used.idx`), when both are known.
    var inFlight: Int? {
        guard let availIndex, let usedIndex else { return nil }
        return Int(availIndex &- usedIndex)
    }

    /// Records the indexes one poll read. Unchanged indexes change nothing: the buckets the clock
    /// moved past are cleared by the next completion, and the sums count none past the newest.
    mutating func update(_ indexes: RingIndexes, at time: Double) {
        if since != nil, indexes == RingIndexes(available: availIndex, used: usedIndex) { return }
        if since == nil { since = time }
        availIndex = indexes.available
        usedIndex = indexes.used
        advance(to: time)
    }

    /// Counts one ring event.
    mutating func record(_ kind: RingEvent.Kind, at time: Double) {
        if since == nil { since = time }
        switch kind {
        case .available: additions += 1
        case .used: add(1, at: time)
        case .lapped(let ring, let missed):
            if ring == .used { add(missed, at: time) } else { additions += missed }
        }
    }

    private mutating func add(_ count: Int, at time: Double) {
        completions += count
        lastCompletion = time
        advance(to: time)
        let b = Self.bucket(time)
        if let newest, b < newest - Self.bucketCount + 1 { return }  // too old to count
        buckets[Self.slot(b)] += count
    }

    /// Clears the buckets the clock has moved past since the last one touched.
    private mutating func advance(to time: Double) {
        let b = Self.bucket(time)
        guard let last = newest else {
            newest = b
            return
        }
        guard b > last else { return }
        for k in (last + 1)...min(b, last + Self.bucketCount) { buckets[Self.slot(k)] = 0 }
        newest = b
    }

    /// Completions per second over the last ``rateWindow`` seconds (at least one second right after
    /// the start, so that the first event does not read as a burst).
    func rate(at time: Double) -> Double {
        guard let since else { return 0 }
        let window = min(Self.rateWindow, max(1, time - since))
        let count = Int((window / Self.bucketSeconds).rounded())
        return Double(sum(lastBuckets: count, endingAt: Self.bucket(time))) / window
    }

    /// Completions in each of the last `seconds` seconds, oldest first (at most 30 s).
    func perSecond(last seconds: Int, at time: Double) -> [Int] {
        let perSecond = Int((1 / Self.bucketSeconds).rounded())
        let n = max(0, min(seconds, (Self.bucketCount - 1) / perSecond))
        let end = Self.bucket(time)
        guard let newest, n > 0 else { return [Int](repeating: 0, count: n) }
        // One pass over the kept buckets of the window, oldest first, without a division per bucket.
        var result = [Int](repeating: 0, count: n)
        let first = end - n * perSecond + 1
        let lower = max(first, newest - Self.bucketCount + 1), upper = min(end, newest)
        guard lower <= upper else { return result }
        var slot = Self.slot(lower)
        var k = (lower - first) / perSecond, inSecond = (lower - first) % perSecond
        buckets.withUnsafeBufferPointer { kept in
            result.withUnsafeMutableBufferPointer { sums in
                for _ in lower...upper {
                    sums[k] &+= kept[slot]
                    slot += 1
                    if slot == Self.bucketCount { slot = 0 }
                    inSecond += 1
                    if inSecond == perSecond { inSecond = 0; k += 1 }
                }
            }
        }
        return result
    }

    /// The sum of `count` buckets ending with bucket `end` (buckets outside what is kept count 0).
    private func sum(lastBuckets count: Int, endingAt end: Int) -> Int {
        guard let newest else { return 0 }
        let lower = max(end - count + 1, newest - Self.bucketCount + 1), upper = min(end, newest)
        guard lower <= upper else { return 0 }
        var total = 0
        for b in lower...upper { total += buckets[Self.slot(b)] }
        return total
    }

    private static func bucket(_ time: Double) -> Int {
        let b = (time / bucketSeconds).rounded(.down)
        return b.isFinite && abs(b) < 1e15 ? Int(b) : 0
    }
    private static func slot(_ bucket: Int) -> Int { ((bucket % bucketCount) + bucketCount) % bucketCount }
}
