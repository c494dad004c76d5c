/// A simulated virtio-blk device (one split queue) and the Linux driver in front of it.
///
/// Every request is an indirect table, as Linux builds one whenever VIRTIO_RING_F_INDIRECT_DESC is
/// negotiated: the 16-byte header (device-readable), the data segments (one per page, readable for
/// writes, writable for reads), and the status byte (writable). The device takes requests as soon as
/// they are available and completes each after its own latency, so completions come out of order
/// and several requests are in flight at any moment; for reads it writes the data first, then the
/// status byte, then returns the chain with the bytes written.
struct BlockDevice: SimulatedDevice {
    private(set) var identity: DeviceIdentity
    private var queue: SplitQueue
    /// Per request slot: the 16-byte header at +0, the status byte at +16.
    private var requestSlots: BufferPool
    private var pages: [UInt64]
    private var freePages: IndexQueue
    /// The pages each request slot's data occupies, nil for a free slot.
    private var requestPages: [[UInt16]?]
    private var inProgress: [InFlight] = []
    private var phase = TrafficPhase(peak: 2.5, idle: 0.15)
    private var cursor: UInt64 = 2048
    /// Requests that completed with a status other than OK (none, unless something is wrong).
    private(set) var failed = 0

    /// The disk's size in 512-byte sectors (2 GiB).
    static let capacity: UInt64 = 4 << 20
    /// Most requests the driver keeps in flight.
    static let depth = 32
    /// Most data segments of a request.
    static let maxSegments = 32

    /// A request the device has taken and not completed.
    private struct InFlight: Sendable {
        var id: UInt16
        var due: UInt64
        var sector: UInt64
        /// The data buffers the device fills (reads).
        var reads: [GuestBuffer]
        /// The status byte's address.
        var status: UInt64
        /// Bytes the device writes in all: the data it reads plus the status byte.
        var length: UInt32
    }

    /// Request types (virtio 1.2, 5.2.6).
    enum RequestType {
        static let read: UInt32 = 0
        static let write: UInt32 = 1
        static let flush: UInt32 = 4
        static let getID: UInt32 = 8
        static let discard: UInt32 = 11
    }

    static let blockFeatures = FeatureBit.bits([1, 2, 4, 6, 9, 10, 11, 12, 13, 14])

    /// A virtio-blk device `id` at PCI slot `slot` with a queue of `queueSize`, allocated in `ram`.
    init(id: String, slot: Int, queueSize: UInt16, allocator: inout GuestAllocator, ram: GuestRAM,
         random: inout DemoRandom) throws(DemoError) {
        let host = FeatureBit.offered | Self.blockFeatures
        identity = DeviceIdentity(name: "virtio-blk", proxyType: "virtio-blk-pci", id: id, deviceID: 2, devfn: slot << 3,
                                  hostFeatures: host, guestFeatures: host & ~(FeatureBit.notifyOnEmpty | FeatureBit.anyLayout))
        queue = try SplitQueue(size: queueSize, eventIndex: true, indirectEntries: Self.maxSegments + 2, allocator: &allocator, ram: ram)
        requestSlots = try BufferPool(count: Int(queueSize), stride: 32, allocator: &allocator)
        pages = try allocator.allocatePages(Self.depth * 24, random: &random)
        freePages = IndexQueue(holdingAllBelow: pages.count)
        requestPages = Array(repeating: nil, count: Int(queueSize))
    }

    var queueReports: [QueueReport] {
        [QueueReport(addresses: queue.addresses, view: queue.deviceView, defaultSize: queue.size)]
    }

    mutating func tick(_ now: UInt64, ram: GuestRAM, random: inout DemoRandom) {
        // Device side: finish what is due (in any order), then take what is new.
        var done: [(id: UInt16, length: UInt32)] = []
        inProgress.removeAll { request in
            guard request.due <= now else { return false }
            var sector = request.sector
            for buffer in request.reads {
                let text = Array("vqscope demo disk, sector \(sector)\n".utf8)
                ram.write(Array(text.prefix(Int(buffer.length))), at: buffer.address)
                sector += UInt64(buffer.length) / 512
            }
            ram.store(UInt8(0), at: request.status)  // VIRTIO_BLK_S_OK
            done.append((request.id, request.length))
            return true
        }
        queue.complete(done, ram: ram)
        while let chain = queue.fetch(ram: ram) {
            accept(chain, now: now, ram: ram, random: &random)
        }

        // Driver side: take back completions, then send new requests.
        for completion in queue.reclaim(ram: ram) {
            let slot = completion.token
            if ram.load(UInt8.self, at: requestSlots.address(slot) + 16) != 0 { failed += 1 }
            for page in requestPages[slot] ?? [] { freePages.push(page) }
            requestPages[slot] = nil
            requestSlots.give(slot)
        }
        let rate = phase.rate(at: now, random: &random)
        for _ in 0..<random.events(rate: rate) where queue.outstanding < Self.depth {
            submit(ram: ram, random: &random)
        }
    }

    /// The device reads a new request's header and schedules its completion.
    private mutating func accept(_ chain: FetchedChain, now: UInt64, ram: GuestRAM, random: inout DemoRandom) {
        guard chain.buffers.count >= 2, let header = chain.buffers.first, let status = chain.buffers.last else {
            queue.complete([(chain.id, 0)], ram: ram)
            return
        }
        let type: UInt32 = ram.load(at: header.address)
        let sector: UInt64 = ram.load(at: header.address + 8)
        let data = chain.buffers.dropFirst().dropLast()
        let reads = type == RequestType.read || type == RequestType.getID ? Array(data) : []
        let written = reads.reduce(UInt32(1)) { $0 + $1.length }
        let latency: ClosedRange<Int>
        switch type {
        case RequestType.read: latency = random.chance(0.05) ? 20...60 : 1...8
        case RequestType.flush: latency = 5...30
        default: latency = 2...15
        }
        inProgress.append(InFlight(id: chain.id, due: now + UInt64(Int.random(in: latency, using: &random)), sector: sector,
                                   reads: reads, status: status.address + UInt64(status.length) - 1, length: written))
    }

    /// The driver builds one request and makes it available.
    private mutating func submit(ram: GuestRAM, random: inout DemoRandom) {
        let type = random.pick([(55.0, RequestType.read), (35.0, RequestType.write), (6.0, RequestType.flush),
                                (3.0, RequestType.discard), (1.0, RequestType.getID)])
        var sizes: [Int] = []
        switch type {
        case RequestType.read, RequestType.write:
            if random.chance(0.1) {
                sizes = [random.pick([(1.0, 512), (1.0, 1024), (1.0, 2048)])]
            } else {
                let count = random.pick([(40.0, 1), (20.0, 2), (15.0, 4), (12.0, 8), (8.0, 16), (5.0, Self.maxSegments)])
                sizes = Array(repeating: 4096, count: count)
            }
        case RequestType.discard: sizes = [16]
        case RequestType.getID: sizes = [20]
        default: sizes = []
        }
        guard freePages.count >= sizes.count, let slot = requestSlots.take() else { return }
        let pageIndexes = sizes.map { _ in freePages.pop()! }
        let sectors = UInt64(sizes.reduce(0, +) / 512)
        var sector: UInt64 = 0
        if type == RequestType.read || type == RequestType.write || type == RequestType.discard {
            if random.chance(0.6) {
                sector = cursor
            } else {
                sector = UInt64.random(in: 0..<(Self.capacity - 256), using: &random) & ~7
            }
            cursor = (sector + max(sectors, 8)) % (Self.capacity - 256)
        }
        let slotAddress = requestSlots.address(slot)
        ram.store(type, at: slotAddress)
        ram.store(UInt32(0), at: slotAddress + 4)
        ram.store(sector, at: slotAddress + 8)
        ram.store(UInt8(0xff), at: slotAddress + 16)
        var buffers: [GuestBuffer] = [.readable(slotAddress, 16)]
        for (page, size) in zip(pageIndexes, sizes) {
            let address = pages[Int(page)]
            switch type {
            case RequestType.write:
                ram.write(Array("vqscope demo write, sector \(sector)\n".utf8), at: address)
                buffers.append(.readable(address, size))
            case RequestType.discard:
                ram.store(sector, at: address)
                ram.store(UInt32(64), at: address + 8)
                ram.store(UInt32(0), at: address + 12)
                buffers.append(.readable(address, size))
            default:
                buffers.append(.writable(address, size))
            }
        }
        buffers.append(.writable(slotAddress + 16, 1))
        requestPages[slot] = pageIndexes
        if !queue.add(buffers, token: slot, ram: ram) {
            for page in pageIndexes { freePages.push(page) }
            requestPages[slot] = nil
            requestSlots.give(slot)
        }
    }
}
