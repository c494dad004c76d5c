/// Equal-sized buffers a simulated driver set aside in guest RAM (receive buffers, transmit
/// buffers, request structures), handed out by index.
struct BufferPool: Sendable {
    let base: UInt64
    let stride: UInt64
    let count: Int
    private var free: IndexQueue

    /// Allocates `count` buffers of `stride` bytes, each `alignment`-aligned, in one block.
    init(count: Int, stride: UInt64, allocator: inout GuestAllocator, alignment: UInt64 = 64) throws(DemoError) {
        precondition(stride % alignment == 0 || alignment % stride == 0)
        base = try allocator.allocate(UInt64(count) * stride, alignment: max(alignment, 4096))
        self.stride = stride
        self.count = count
        free = IndexQueue(holdingAllBelow: count)
    }

    /// Buffers not handed out.
    var available: Int { free.count }

    /// Hands out a buffer: its index.
    mutating func take() -> Int? { free.pop().map(Int.init) }

    /// Takes back buffer `index`.
    mutating func give(_ index: Int) { free.push(UInt16(index)) }

    /// Where buffer `index` starts.
    func address(_ index: Int) -> UInt64 { base + UInt64(index) * stride }
}
