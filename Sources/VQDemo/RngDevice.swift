/// A simulated virtio-rng device with a packed queue, and the driver in front of it: the driver asks
/// for 64 bytes at a time (one device-writable buffer), now and then; the device fills the buffer
/// with random bytes a few ticks later.
struct RngDevice: SimulatedDevice {
    private(set) var identity: DeviceIdentity
    private var queue: PackedQueue
    private var buffers: BufferPool
    private var inProgress: [(chain: FetchedChain, due: UInt64)] = []
    private var phase = TrafficPhase(peak: 0.6, idle: 0.02)

    static let requestSize = 64

    /// A virtio-rng device `id` at PCI slot `slot` (QEMU's queue size is 8).
    init(id: String, slot: Int, allocator: inout GuestAllocator, ram: GuestRAM) throws(DemoError) {
        let host = FeatureBit.offered | FeatureBit.ringPacked
        identity = DeviceIdentity(name: "virtio-rng", proxyType: "virtio-rng-pci", id: id, deviceID: 4, devfn: slot << 3,
                                  hostFeatures: host, guestFeatures: host & ~(FeatureBit.notifyOnEmpty | FeatureBit.anyLayout))
        queue = try PackedQueue(size: 8, eventIndex: true, indirectEntries: 0, allocator: &allocator, ram: ram)
        buffers = try BufferPool(count: 8, stride: UInt64(Self.requestSize), allocator: &allocator)
    }

    var queueReports: [QueueReport] {
        [QueueReport(addresses: queue.addresses, view: queue.deviceView, defaultSize: queue.size)]
    }

    mutating func tick(_ now: UInt64, ram: GuestRAM, random: inout DemoRandom) {
        var done: [(id: UInt16, length: UInt32)] = []
        while let first = inProgress.first, first.due <= now {
            inProgress.removeFirst()
            let target = first.chain.writable.first
            let count = Int(target?.length ?? 0)
            if let target { ram.write((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }, at: target.address) }
            done.append((first.chain.id, UInt32(count)))
        }
        queue.complete(done, ram: ram)
        while let chain = queue.fetch(ram: ram) {
            inProgress.append((chain, now + UInt64(Int.random(in: 1...5, using: &random))))
        }
        for completion in queue.reclaim(ram: ram) { buffers.give(completion.token) }
        for _ in 0..<random.events(rate: phase.rate(at: now, random: &random)) {
            guard queue.canAdd(buffers: 1), let index = buffers.take() else { break }
            if !queue.add([.writable(buffers.address(index), Self.requestSize)], token: index, ram: ram) { buffers.give(index) }
        }
    }
}
