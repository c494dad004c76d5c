/// A virtqueue with both of its sides simulated in this process: the driver half (adds chains,
/// reclaims used ones) and the device half (fetches available chains, returns them used). Each half
/// keeps its own private state and learns of the other's work only by reading guest memory, in the
/// order the virtio spec (1.2, 2.7 and 2.8) lays down, with a release fence before every index or
/// flags store that publishes work.
protocol SimulatedQueue: Sendable {
    /// Queue size.
    var size: UInt16 { get }
    /// Where the rings are.
    var addresses: QueueAddresses { get }

    /// Allocates the rings in guest RAM (and, with `indirectEntries` > 0, one indirect table of that
    /// many descriptors per chain the driver may have in flight).
    init(size: UInt16, eventIndex: Bool, indirectEntries: Int, allocator: inout GuestAllocator, ram: GuestRAM) throws(DemoError)

    // MARK: Driver half

    /// Whether the driver has room for a chain of `count` buffers.
    func canAdd(buffers count: Int) -> Bool
    /// Chains the driver added and has not reclaimed yet.
    var outstanding: Int { get }
    /// Adds a chain (through an indirect table when the queue uses them and `buffers` has more than
    /// one), with `token` as the driver's private note of what it is. False when there is no room.
    mutating func add(_ buffers: [GuestBuffer], token: Int, ram: GuestRAM) -> Bool
    /// Takes back every chain the device has returned since the last call, oldest first.
    mutating func reclaim(ram: GuestRAM) -> [ReclaimedChain]

    // MARK: Device half

    /// The next available chain, as the device reads it from guest memory, or nil when none.
    mutating func fetch(ram: GuestRAM) -> FetchedChain?
    /// Returns chains to the driver, in this order, with the bytes written into each.
    mutating func complete(_ chains: [(id: UInt16, length: UInt32)], ram: GuestRAM)
    /// The device's own view, as QEMU's `x-query-virtio-queue-status` reports it.
    var deviceView: DeviceQueueView { get }
}

/// Where a queue's rings are: what the driver wrote into the device's queue registers.
struct QueueAddresses: Hashable, Sendable {
    var size: UInt16
    /// The descriptor table (split) or descriptor ring (packed).
    var descriptors: UInt64
    /// The available ring (split) or the driver event suppression area (packed).
    var driverArea: UInt64
    /// The used ring (split) or the device event suppression area (packed).
    var deviceArea: UInt64
}

/// The device-side indexes of a queue (QEMU's VirtQueue fields of the same names).
struct DeviceQueueView: Hashable, Sendable {
    var lastAvailIndex: UInt16
    var shadowAvailIndex: UInt16
    var usedIndex: UInt16
    var signalledUsed: UInt16
    var inUse: Int
}
