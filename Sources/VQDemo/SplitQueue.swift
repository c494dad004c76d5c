/// A split virtqueue (virtio 1.2, 2.7) laid out as Linux lays one out, with a simulated driver and a
/// simulated device on its two sides.
///
/// Layout (Linux's `vring_init` with 64-byte alignment): the descriptor table page-aligned, the
/// available ring right after it, the used ring after that rounded up to 64 bytes. With
/// VIRTIO_F_EVENT_IDX the driver keeps `used_event` after the available ring's entries and the
/// device keeps `avail_event` after the used ring's, as QEMU and Linux do.
struct SplitQueue: SimulatedQueue {
    let size: UInt16
    let addresses: QueueAddresses
    let eventIndex: Bool
    /// The driver's indirect tables, one per head, when it uses them.
    let indirect: IndirectTables?

    // Driver half.
    private var freeDescriptors: IndexQueue
    /// The descriptors each head's chain holds (Linux keeps the same in `desc_extra`).
    private var chains: [[UInt16]]
    /// The driver's token for each head, -1 when the head is free.
    private var tokens: [Int]
    private var driverAvailIndex: UInt16 = 0
    private var driverLastUsed: UInt16 = 0
    private(set) var outstanding = 0

    // Device half.
    private var lastAvailIndex: UInt16 = 0
    private var shadowAvailIndex: UInt16 = 0
    private var usedIndex: UInt16 = 0
    private var inUse = 0

    var n: UInt64 { UInt64(size) }
    var desc: UInt64 { addresses.descriptors }
    var avail: UInt64 { addresses.driverArea }
    var used: UInt64 { addresses.deviceArea }

    /// Bytes a split ring of `size` entries takes, and where its two rings start in it.
    static func layout(size: UInt16) -> (availOffset: UInt64, usedOffset: UInt64, bytes: UInt64) {
        let n = UInt64(size)
        let availOffset = 16 * n
        let usedOffset = (availOffset + 6 + 2 * n + 63) & ~63
        return (availOffset, usedOffset, usedOffset + 6 + 8 * n)
    }

    /// Allocates the rings (and the driver's indirect tables, with `indirectEntries` > 0) in guest
    /// RAM; the memory is zero, as a fresh ring's is.
    init(size: UInt16, eventIndex: Bool, indirectEntries: Int, allocator: inout GuestAllocator, ram: GuestRAM) throws(DemoError) {
        precondition(size > 0 && size & (size - 1) == 0 && size <= 32768, "a split ring's size is a power of two")
        let layout = Self.layout(size: size)
        let base = try allocator.allocate(layout.bytes, alignment: 4096)
        ram.touch(at: base, count: Int(layout.bytes))
        self.size = size
        self.addresses = QueueAddresses(size: size, descriptors: base, driverArea: base + layout.availOffset,
                                        deviceArea: base + layout.usedOffset)
        self.eventIndex = eventIndex
        self.indirect = indirectEntries > 0
            ? try IndirectTables.allocate(count: Int(size), entries: indirectEntries, allocator: &allocator) : nil
        freeDescriptors = IndexQueue(holdingAllBelow: Int(size))
        chains = Array(repeating: [], count: Int(size))
        tokens = Array(repeating: -1, count: Int(size))
    }

    // MARK: Driver half

    private func descriptorsNeeded(_ count: Int) -> Int { indirect != nil && count > 1 ? 1 : count }

    func canAdd(buffers count: Int) -> Bool {
        count > 0 && freeDescriptors.count >= descriptorsNeeded(count) && count <= (indirect?.entries ?? Int(size))
    }

    mutating func add(_ buffers: [GuestBuffer], token: Int, ram: GuestRAM) -> Bool {
        guard canAdd(buffers: buffers.count) else { return false }
        let head: UInt16
        if let indirect, buffers.count > 1 {
            head = freeDescriptors.pop()!
            let table = indirect.table(for: head)
            for (i, buffer) in buffers.enumerated() {
                let last = i == buffers.count - 1
                writeDescriptor(at: table + UInt64(i) * 16, buffer, flags: last ? 0 : DescriptorFlag.next,
                                next: last ? 0 : UInt16(i + 1), ram: ram)
            }
            writeDescriptor(at: desc + UInt64(head) * 16,
                            GuestBuffer(address: table, length: UInt32(buffers.count * 16), deviceWritable: false),
                            flags: DescriptorFlag.indirect, next: 0, ram: ram)
            chains[Int(head)] = [head]
        } else {
            let taken = (0..<buffers.count).map { _ in freeDescriptors.pop()! }
            for (i, buffer) in buffers.enumerated() {
                let last = i == buffers.count - 1
                writeDescriptor(at: desc + UInt64(taken[i]) * 16, buffer, flags: last ? 0 : DescriptorFlag.next,
                                next: last ? 0 : taken[i + 1], ram: ram)
            }
            head = taken[0]
            chains[Int(head)] = taken
        }
        tokens[Int(head)] = token
        // The entry, then (after the fence) the index that makes it and its descriptors visible.
        ram.store(head, at: avail + 4 + 2 * (UInt64(driverAvailIndex) % n))
        driverAvailIndex &+= 1
        GuestRAM.publish()
        ram.store(driverAvailIndex, at: avail + 2)
        outstanding += 1
        return true
    }

    private func writeDescriptor(at address: UInt64, _ buffer: GuestBuffer, flags: UInt16, next: UInt16, ram: GuestRAM) {
        ram.store(buffer.address, at: address)
        ram.store(buffer.length, at: address + 8)
        ram.store(flags | (buffer.deviceWritable ? DescriptorFlag.write : 0), at: address + 12)
        ram.store(next, at: address + 14)
    }

    mutating func reclaim(ram: GuestRAM) -> [ReclaimedChain] {
        let deviceUsed: UInt16 = ram.load(at: used + 2)
        GuestRAM.acquire()
        var result: [ReclaimedChain] = []
        while driverLastUsed != deviceUsed {
            let entry = used + 4 + 8 * (UInt64(driverLastUsed) % n)
            let id = Int(ram.load(UInt32.self, at: entry))
            let length: UInt32 = ram.load(at: entry + 4)
            precondition(id < Int(size) && tokens[id] >= 0, "the simulated device returned head \(id), which is not in flight")
            result.append(ReclaimedChain(token: tokens[id], length: length))
            tokens[id] = -1
            for descriptor in chains[id] { freeDescriptors.push(descriptor) }
            chains[id] = []
            driverLastUsed &+= 1
            outstanding -= 1
        }
        // Ask for an interrupt at the next used entry (Linux's virtqueue_enable_cb).
        if eventIndex { ram.store(driverLastUsed, at: avail + 4 + 2 * n) }
        return result
    }

    // MARK: Device half

    mutating func fetch(ram: GuestRAM) -> FetchedChain? {
        if lastAvailIndex == shadowAvailIndex {
            shadowAvailIndex = ram.load(at: avail + 2)
            GuestRAM.acquire()
            guard lastAvailIndex != shadowAvailIndex else { return nil }
        }
        let head: UInt16 = ram.load(at: avail + 4 + 2 * (UInt64(lastAvailIndex) % n))
        lastAvailIndex &+= 1
        // QEMU's virtqueue_split_pop: with EVENT_IDX, ask for a kick at the next entry.
        if eventIndex { ram.store(lastAvailIndex, at: used + 4 + 8 * n) }
        inUse += 1
        return FetchedChain(id: head, buffers: walk(head: head, ram: ram))
    }

    /// The buffers of the chain at `head`, read from guest memory as a device reads them.
    private func walk(head: UInt16, ram: GuestRAM) -> [GuestBuffer] {
        var buffers: [GuestBuffer] = []
        var table = desc, limit = Int(size), index = head
        let first = readDescriptor(at: desc + UInt64(head) * 16, ram: ram)
        if first.flags & DescriptorFlag.indirect != 0 {
            table = first.buffer.address
            limit = Int(first.buffer.length / 16)
            index = 0
        }
        for _ in 0..<limit {
            let d = readDescriptor(at: table + UInt64(index) * 16, ram: ram)
            buffers.append(d.buffer)
            guard d.flags & DescriptorFlag.next != 0 else { break }
            index = d.next
        }
        return buffers
    }

    private func readDescriptor(at address: UInt64, ram: GuestRAM) -> (buffer: GuestBuffer, flags: UInt16, next: UInt16) {
        let flags: UInt16 = ram.load(at: address + 12)
        let buffer = GuestBuffer(address: ram.load(at: address), length: ram.load(at: address + 8),
                                 deviceWritable: flags & DescriptorFlag.write != 0)
        return (buffer, flags, ram.load(at: address + 14))
    }

    mutating func complete(_ chains: [(id: UInt16, length: UInt32)], ram: GuestRAM) {
        guard !chains.isEmpty else { return }
        var index = usedIndex
        for chain in chains {
            let entry = used + 4 + 8 * (UInt64(index) % n)
            ram.store(UInt32(chain.id), at: entry)
            ram.store(chain.length, at: entry + 4)
            index &+= 1
        }
        GuestRAM.publish()
        ram.store(index, at: used + 2)
        usedIndex = index
        inUse -= chains.count
    }

    var deviceView: DeviceQueueView {
        DeviceQueueView(lastAvailIndex: lastAvailIndex, shadowAvailIndex: shadowAvailIndex, usedIndex: usedIndex,
                        signalledUsed: usedIndex, inUse: inUse)
    }
}
