/// A first-in first-out queue of 16-bit indexes over a fixed ring buffer: a driver's free list of
/// descriptors or buffer IDs. Taking the least recently freed index (rather than the most recent,
/// as Linux's free list does) keeps a just-returned head out of the ring for a while, so that a
/// device completing out of order never shows the same head twice among the chains in flight.
struct IndexQueue: Sendable {
    private var storage: [UInt16]
    private var start = 0
    private(set) var count: Int

    /// A queue holding `0 ..< capacity`, in order.
    init(holdingAllBelow capacity: Int) {
        storage = (0..<capacity).map { UInt16(truncatingIfNeeded: $0) }
        count = capacity
    }

    var isEmpty: Bool { count == 0 }

    /// Takes the oldest index.
    mutating func pop() -> UInt16? {
        guard count > 0 else { return nil }
        let value = storage[start]
        start = (start + 1) % storage.count
        count -= 1
        return value
    }

    /// Gives an index back; the queue never holds more than its capacity.
    mutating func push(_ value: UInt16) {
        precondition(count < storage.count, "an index was freed twice")
        storage[(start + count) % storage.count] = value
        count += 1
    }
}
