/// Per-chain indirect tables a driver set aside: one table of `entries` descriptors for each head
/// (split) or buffer ID (packed), so that a table stays intact while its chain is in flight.
struct IndirectTables: Hashable, Sendable {
    var base: UInt64
    var entries: Int

    /// The table of head or buffer ID `id`.
    func table(for id: UInt16) -> UInt64 { base + UInt64(id) * UInt64(entries * 16) }

    /// Sets aside `count` tables of `entries` descriptors in guest RAM.
    static func allocate(count: Int, entries: Int, allocator: inout GuestAllocator) throws(DemoError) -> IndirectTables {
        IndirectTables(base: try allocator.allocate(UInt64(count * entries * 16), alignment: 4096), entries: entries)
    }
}
