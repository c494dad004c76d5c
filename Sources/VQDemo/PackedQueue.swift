/// A packed virtqueue (virtio 1.2, 2.8) laid out as Linux lays one out, with a simulated driver and a
/// simulated device on its two sides.
///
/// Layout (Linux's `vring_alloc_queue_packed`): the descriptor ring, the driver event suppression
/// area and the device event suppression area are three separate allocations. Every chain takes one
/// ring slot: a single buffer, or an indirect table when there are more (Linux uses an indirect
/// table for every multi-buffer chain once VIRTIO_F_INDIRECT_DESC is negotiated). The device returns
/// chains in the order it took them.
struct PackedQueue: SimulatedQueue {
    let size: UInt16
    let addresses: QueueAddresses
    let eventIndex: Bool
    /// The driver's indirect tables, one per buffer ID, when it uses them.
    let indirect: IndirectTables?

    // Driver half.
    private var freeIDs: IndexQueue
    private var tokens: [Int]
    private var driverNext = Position()
    private var driverLastUsed = Position()
    private var freeSlots: Int
    private(set) var outstanding = 0

    // Device half.
    private var deviceNextAvail = Position()
    private var deviceNextUsed = Position()
    private var inUse = 0

    /// A slot and the wrap counter of the lap it belongs to.
    struct Position: Hashable, Sendable {
        var slot: UInt16 = 0
        var wrap = true

        mutating func advance(size: UInt16) {
            slot += 1
            if slot == size { slot = 0; wrap.toggle() }
        }

        /// `slot | wrap << 15`, the form of event suppression offsets.
        var encoded: UInt16 { slot | (wrap ? 0x8000 : 0) }
    }

    /// Event suppression flags (virtio 1.2, 2.8.10).
    enum EventFlags {
        static let enable: UInt16 = 0
        static let descriptor: UInt16 = 2
    }

    /// Allocates the ring, the two event areas and (with `indirectEntries` > 0) `size` indirect
    /// tables of `indirectEntries` descriptors.
    init(size: UInt16, eventIndex: Bool, indirectEntries: Int, allocator: inout GuestAllocator, ram: GuestRAM) throws(DemoError) {
        precondition(size > 0 && size <= 32768)
        let ring = try allocator.allocate(UInt64(size) * 16, alignment: 4096)
        let driverEvent = try allocator.allocate(4, alignment: 4096)
        let deviceEvent = try allocator.allocate(4, alignment: 4096)
        ram.touch(at: ring, count: Int(size) * 16)
        self.size = size
        self.addresses = QueueAddresses(size: size, descriptors: ring, driverArea: driverEvent, deviceArea: deviceEvent)
        self.eventIndex = eventIndex
        self.indirect = indirectEntries > 0
            ? try IndirectTables.allocate(count: Int(size), entries: indirectEntries, allocator: &allocator) : nil
        freeIDs = IndexQueue(holdingAllBelow: Int(size))
        tokens = Array(repeating: -1, count: Int(size))
        freeSlots = Int(size)
        // Both sides start with notifications on, as Linux and QEMU leave them after set-up.
        ram.store(eventIndex ? EventFlags.descriptor : EventFlags.enable, at: driverEvent + 2)
        ram.store(eventIndex ? EventFlags.descriptor : EventFlags.enable, at: deviceEvent + 2)
        ram.store(Position().encoded, at: driverEvent)
        ram.store(Position().encoded, at: deviceEvent)
    }

    private var ring: UInt64 { addresses.descriptors }
    private func slotAddress(_ slot: UInt16) -> UInt64 { ring + UInt64(slot) * 16 }

    // MARK: Driver half

    func canAdd(buffers count: Int) -> Bool {
        count > 0 && (count == 1 || count <= indirect?.entries ?? 0) && freeSlots >= 1 && !freeIDs.isEmpty
    }

    mutating func add(_ buffers: [GuestBuffer], token: Int, ram: GuestRAM) -> Bool {
        guard canAdd(buffers: buffers.count), let id = freeIDs.pop() else { return false }
        let slot = slotAddress(driverNext.slot)
        var flags: UInt16 = driverNext.wrap ? DescriptorFlag.avail : DescriptorFlag.used
        if buffers.count > 1, let indirect {
            let table = indirect.table(for: id)
            for (i, buffer) in buffers.enumerated() {
                let entry = table + UInt64(i) * 16
                ram.store(buffer.address, at: entry)
                ram.store(buffer.length, at: entry + 8)
                ram.store(UInt16(0), at: entry + 12)
                ram.store(buffer.deviceWritable ? DescriptorFlag.write : 0, at: entry + 14)
            }
            ram.store(table, at: slot)
            ram.store(UInt32(buffers.count * 16), at: slot + 8)
            flags |= DescriptorFlag.indirect
        } else {
            ram.store(buffers[0].address, at: slot)
            ram.store(buffers[0].length, at: slot + 8)
            if buffers[0].deviceWritable { flags |= DescriptorFlag.write }
        }
        ram.store(id, at: slot + 12)
        // addr, len and id first; the flags hand the slot to the device.
        GuestRAM.publish()
        ram.store(flags, at: slot + 14)
        tokens[Int(id)] = token
        driverNext.advance(size: size)
        freeSlots -= 1
        outstanding += 1
        return true
    }

    mutating func reclaim(ram: GuestRAM) -> [ReclaimedChain] {
        var result: [ReclaimedChain] = []
        while outstanding > 0 {
            let slot = slotAddress(driverLastUsed.slot)
            let flags: UInt16 = ram.load(at: slot + 14)
            let isAvail = flags & DescriptorFlag.avail != 0, isUsed = flags & DescriptorFlag.used != 0
            guard isAvail == driverLastUsed.wrap && isUsed == driverLastUsed.wrap else { break }
            GuestRAM.acquire()
            let id: UInt16 = ram.load(at: slot + 12)
            let length: UInt32 = ram.load(at: slot + 8)
            precondition(Int(id) < Int(size) && tokens[Int(id)] >= 0, "the simulated device returned buffer \(id), which is not in flight")
            result.append(ReclaimedChain(token: tokens[Int(id)], length: length))
            tokens[Int(id)] = -1
            freeIDs.push(id)
            freeSlots += 1
            outstanding -= 1
            driverLastUsed.advance(size: size)
        }
        // Ask for an interrupt at the next used slot (Linux's virtqueue_enable_cb_prepare_packed).
        if eventIndex { ram.store(driverLastUsed.encoded, at: addresses.driverArea) }
        return result
    }

    // MARK: Device half

    mutating func fetch(ram: GuestRAM) -> FetchedChain? {
        let slot = slotAddress(deviceNextAvail.slot)
        let flags: UInt16 = ram.load(at: slot + 14)
        let isAvail = flags & DescriptorFlag.avail != 0, isUsed = flags & DescriptorFlag.used != 0
        guard isAvail == deviceNextAvail.wrap && isUsed != deviceNextAvail.wrap else { return nil }
        GuestRAM.acquire()
        let address: UInt64 = ram.load(at: slot), length: UInt32 = ram.load(at: slot + 8)
        let id: UInt16 = ram.load(at: slot + 12)
        var buffers: [GuestBuffer] = []
        if flags & DescriptorFlag.indirect != 0 {
            for i in 0..<UInt64(length / 16) {
                let entry = address + i * 16
                let entryFlags: UInt16 = ram.load(at: entry + 14)
                buffers.append(GuestBuffer(address: ram.load(at: entry), length: ram.load(at: entry + 8),
                                           deviceWritable: entryFlags & DescriptorFlag.write != 0))
            }
        } else {
            buffers.append(GuestBuffer(address: address, length: length, deviceWritable: flags & DescriptorFlag.write != 0))
        }
        deviceNextAvail.advance(size: size)
        // QEMU's virtio_queue_packed_set_notification: kick me at the next slot.
        if eventIndex { ram.store(deviceNextAvail.encoded, at: addresses.deviceArea) }
        inUse += 1
        return FetchedChain(id: id, buffers: buffers)
    }

    mutating func complete(_ chains: [(id: UInt16, length: UInt32)], ram: GuestRAM) {
        guard !chains.isEmpty else { return }
        // Each chain's id and len, then its flags; the first chain's flags last of all, so that the
        // driver sees the batch at once (QEMU's virtqueue_packed_flush).
        var position = deviceNextUsed
        var firstFlags: (slot: UInt64, flags: UInt16)?
        for chain in chains {
            let slot = slotAddress(position.slot)
            ram.store(chain.id, at: slot + 12)
            ram.store(chain.length, at: slot + 8)
            var flags: UInt16 = position.wrap ? DescriptorFlag.avail | DescriptorFlag.used : 0
            if chain.length > 0 { flags |= DescriptorFlag.write }
            if firstFlags == nil {
                firstFlags = (slot, flags)
            } else {
                GuestRAM.publish()
                ram.store(flags, at: slot + 14)
            }
            position.advance(size: size)
        }
        GuestRAM.publish()
        ram.store(firstFlags!.flags, at: firstFlags!.slot + 14)
        deviceNextUsed = position
        inUse -= chains.count
    }

    var deviceView: DeviceQueueView {
        DeviceQueueView(lastAvailIndex: deviceNextAvail.slot, shadowAvailIndex: deviceNextAvail.slot,
                        usedIndex: deviceNextUsed.slot, signalledUsed: deviceNextUsed.slot, inUse: inUse)
    }
}
