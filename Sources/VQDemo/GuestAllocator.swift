/// Hands out guest-physical memory for rings and buffers, as a guest kernel's page allocator would:
/// from the top of RAM downwards, each allocation aligned as asked. Nothing is ever freed (the
/// simulated drivers allocate everything they need when they start, then recycle it themselves).
struct GuestAllocator {
    /// The lowest address the allocator may hand out.
    let floor: UInt64
    /// One past the highest free byte.
    private(set) var top: UInt64

    /// An allocator over guest-physical `floor ..< ceiling`.
    init(floor: UInt64, ceiling: UInt64) {
        self.floor = floor
        self.top = ceiling
    }

    /// `size` bytes aligned to `alignment` (a power of two), or an error when RAM is full.
    mutating func allocate(_ size: UInt64, alignment: UInt64 = 4096) throws(DemoError) -> UInt64 {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        guard size <= top - floor else { throw .outOfGuestMemory(needed: size) }
        let start = (top - size) & ~(alignment - 1)
        guard start >= floor else { throw .outOfGuestMemory(needed: size) }
        top = start
        return start
    }

    /// `count` separate pages, as scattered page-cache or slab pages would be: each page-aligned,
    /// with one page skipped after every few so that neighbours are not always adjacent.
    mutating func allocatePages(_ count: Int, random: inout DemoRandom) throws(DemoError) -> [UInt64] {
        var pages: [UInt64] = []
        pages.reserveCapacity(count)
        for _ in 0..<count {
            if random.chance(0.2) { _ = try allocate(4096) }
            pages.append(try allocate(4096))
        }
        return pages.shuffled(using: &random)
    }
}
