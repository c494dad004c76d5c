/// Turns one queue's successive diagnoses into the moments a stall begins and ends, for event logs
/// and event streams: ``update(_:at:)`` answers ``Change/stalled(_:)`` for the first stalled
/// diagnosis and ``Change/recovered(after:)`` for the first one after it that is not stalled.
///
/// ```swift
/// var stalls = StallDetector()
/// if let change = stalls.update(tracker.observe(snapshot, at: now), at: now) { print(change) }
/// ```
public struct StallDetector: Sendable, Hashable {
    /// A stall beginning or ending.
    public enum Change: Sendable, Hashable, CustomStringConvertible {
        /// The queue became stalled; the diagnosis that said so.
        case stalled(QueueDiagnosis)
        /// The queue is no longer stalled, after being stuck for `after` seconds (from when its
        /// oldest request had last seen the device make progress, as far as the tracker saw).
        case recovered(after: Double)

        /// `1 request, oldest head 3 for 1.2 s`, `recovered after 4.1 s`.
        public var description: String {
            switch self {
            case .stalled(let d):
                var text = QueueHealthTracker.count(d.requests, "request")
                if let o = d.oldest {
                    // Packed rings name a slot and a buffer ID; split rings a head descriptor.
                    text += o.bufferID.map { ", oldest slot \(o.head) id \($0)" } ?? ", oldest head \(o.head)"
                    if let age = o.age { text += " for \(QueueHealthTracker.seconds(age))" }
                }
                return text
            case .recovered(let after):
                return "recovered after \(QueueHealthTracker.seconds(after))"
            }
        }
    }

    /// Since when the queue has been stuck, while it is stalled (the tracker's monotonic seconds).
    public private(set) var stuckSince: Double?

    /// A detector that has seen no stall.
    public init() {}

    /// Whether the last diagnosis was stalled.
    public var isStalled: Bool { stuckSince != nil }

    /// Takes in the queue's latest diagnosis, made at `now`; answers when it starts or ends a stall.
    public mutating func update(_ diagnosis: QueueDiagnosis, at now: Double) -> Change? {
        if diagnosis.health == .stalled {
            guard stuckSince == nil else { return nil }
            let waited = [diagnosis.oldest?.age, diagnosis.usedUnmovedFor].compactMap { $0 }.min() ?? 0
            stuckSince = now - waited
            return .stalled(diagnosis)
        }
        guard let since = stuckSince else { return nil }
        stuckSince = nil
        return .recovered(after: max(0, now - since))
    }
}
