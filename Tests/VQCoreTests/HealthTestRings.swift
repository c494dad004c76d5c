import VQCore

/// Hand-built split and packed rings in memory for the health and notification tests: write the
/// ring's parts, then take a snapshot as vqscope would of a guest.
struct TestSplitRing {
    static let host: UInt64 = 0x6600_0000_0000
    static let ramSize = 0x40000

    var ram = BufferMemory(base: TestSplitRing.host, count: TestSplitRing.ramSize)
    let location: VirtqueueLocation

    /// Sixteen entries at 0x10000 (avail 0x10100, used 0x11000), with or without VIRTIO_F_EVENT_IDX.
    init(size: UInt16 = 16, eventIndex: Bool = true) {
        location = VirtqueueLocation(layout: .split, size: size, descriptors: GuestPhysicalAddress(0x10000),
                                     driverArea: GuestPhysicalAddress(0x10100), deviceArea: GuestPhysicalAddress(0x11000),
                                     features: eventIndex ? [.version1, .eventIndex, .indirectDescriptors] : [.version1])
    }

    var n: UInt64 { UInt64(location.size) }

    mutating func put<T: FixedWidthInteger>(_ value: T, _ gpa: UInt64) { ram.store(value, at: Self.host + gpa) }

    mutating func descriptor(_ index: Int, _ d: Descriptor) {
        ram.store(d.splitBytes, at: Self.host + location.descriptors.rawValue + UInt64(16 * index))
    }

    /// A virtio-blk style request at `head`: a readable header, a writable data buffer and status.
    mutating func request(head: Int) {
        descriptor(head, Descriptor(address: GuestPhysicalAddress(0x20000 + UInt64(head) * 0x1000), length: 16, flags: [.next], next: UInt16(head + 1)))
        descriptor(head + 1, Descriptor(address: GuestPhysicalAddress(0x20100 + UInt64(head) * 0x1000), length: 512, flags: [.next, .write], next: UInt16(head + 2)))
        descriptor(head + 2, Descriptor(address: GuestPhysicalAddress(0x20400 + UInt64(head) * 0x1000), length: 1, flags: [.write]))
    }

    /// A receive buffer at `head`: one writable buffer.
    mutating func receiveBuffer(head: Int) {
        descriptor(head, Descriptor(address: GuestPhysicalAddress(0x30000 + UInt64(head) * 0x800), length: 1526, flags: [.write]))
    }

    /// A readable-only buffer at `head` (a transmit, or a balloon statistics buffer).
    mutating func readableBuffer(head: Int) {
        descriptor(head, Descriptor(address: GuestPhysicalAddress(0x30000 + UInt64(head) * 0x800), length: 64))
    }

    /// The driver publishes `heads` from position `avail` on (the available index moves past them).
    mutating func makeAvailable(_ heads: [UInt16], from position: UInt16) {
        for (k, head) in heads.enumerated() {
            let p = position &+ UInt16(k)
            put(head, location.driverArea.rawValue + 4 + 2 * (UInt64(p) % n))
        }
        setAvailIndex(position &+ UInt16(heads.count))
    }

    /// Sets the available index, and `avail_event` to it, as QEMU does once it has read the ring
    /// (so that the next kick fires; ``events(usedEvent:availEvent:)`` sets other values).
    mutating func setAvailIndex(_ value: UInt16) {
        put(value, location.driverArea.rawValue + 2)
        put(value, location.deviceArea.rawValue + 4 + 8 * n)
    }

    /// The device returns `ids` from used position `position` on.
    mutating func use(_ ids: [UInt32], from position: UInt16, length: UInt32 = 513) {
        for (k, id) in ids.enumerated() {
            let p = UInt64(position &+ UInt16(k)) % n
            put(id, location.deviceArea.rawValue + 4 + 8 * p)
            put(length, location.deviceArea.rawValue + 8 + 8 * p)
        }
        setUsedIndex(position &+ UInt16(ids.count))
    }

    /// Sets the used index, and `used_event` to it, as Linux does once it has taken the used
    /// buffers (so that the next interrupt fires).
    mutating func setUsedIndex(_ value: UInt16) {
        put(value, location.deviceArea.rawValue + 2)
        put(value, location.driverArea.rawValue + 4 + 2 * n)
    }

    /// `avail.flags` (1: NO_INTERRUPT) and `used.flags` (1: NO_NOTIFY).
    mutating func flags(avail: UInt16, used: UInt16) {
        put(avail, location.driverArea.rawValue)
        put(used, location.deviceArea.rawValue)
    }

    /// `used_event` (written by the driver) and `avail_event` (written by the device).
    mutating func events(usedEvent: UInt16, availEvent: UInt16) {
        put(usedEvent, location.driverArea.rawValue + 4 + 2 * n)
        put(availEvent, location.deviceArea.rawValue + 4 + 8 * n)
    }

    func snapshot() throws -> SplitRing.Snapshot {
        let map = try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(Self.ramSize), host: Self.host, name: "pc.ram")])
        return try SplitRing.snapshot(memory: GuestMemory(map: map, reader: ram), location: location)
    }

    func ring() throws -> RingSnapshot { .split(try snapshot()) }

    /// The queue as QMP would list it.
    func queue(_ device: String, index: Int = 0) -> Virtqueue {
        Virtqueue(device: device, path: "/machine/peripheral-anon/device[0]/virtio-backend", index: index, location: location)
    }
}

/// A packed ring of eight slots at 0x8000 (driver event area 0x8080, device event area 0x9000).
struct TestPackedRing {
    static let host: UInt64 = 0x6700_0000_0000
    static let ramSize = 0x40000

    var ram = BufferMemory(base: TestPackedRing.host, count: TestPackedRing.ramSize)
    let location = VirtqueueLocation(layout: .packed, size: 8, descriptors: GuestPhysicalAddress(0x8000),
                                     driverArea: GuestPhysicalAddress(0x8080), deviceArea: GuestPhysicalAddress(0x9000),
                                     features: [.version1, .packedRing, .indirectDescriptors, .eventIndex])

    mutating func put(_ d: Descriptor, slot: Int) {
        ram.store(d.packedBytes, at: Self.host + location.descriptors.rawValue + UInt64(16 * slot))
    }

    /// A one-slot chain the driver made available in the lap `wrap`: a request (one readable
    /// buffer) or a receive buffer (one writable buffer).
    mutating func available(slot: Int, id: UInt16, wrap: Bool, writable: Bool) {
        var flags: Descriptor.Flags = wrap ? [.avail] : [.used]
        if writable { flags.insert(.write) }
        put(Descriptor(address: GuestPhysicalAddress(0x20000 + UInt64(slot) * 0x1000), length: 64, flags: flags, id: id), slot: slot)
    }

    /// A slot the device used in the lap `wrap`.
    mutating func used(slot: Int, id: UInt16, wrap: Bool) {
        put(Descriptor(address: GuestPhysicalAddress(0x20000 + UInt64(slot) * 0x1000), length: 64, flags: wrap ? [.avail, .used] : [], id: id),
            slot: slot)
    }

    /// The driver's event suppression area (read by the device: interrupts).
    mutating func driverEvent(offset: UInt16, wrap: Bool, mode: UInt16) {
        ram.store(offset | (wrap ? 0x8000 : 0), at: Self.host + location.driverArea.rawValue)
        ram.store(mode, at: Self.host + location.driverArea.rawValue + 2)
    }

    /// The device's event suppression area (read by the driver: kicks).
    mutating func deviceEvent(offset: UInt16, wrap: Bool, mode: UInt16) {
        ram.store(offset | (wrap ? 0x8000 : 0), at: Self.host + location.deviceArea.rawValue)
        ram.store(mode, at: Self.host + location.deviceArea.rawValue + 2)
    }

    func snapshot(usedIndex: UInt16? = nil, lastAvailIndex: UInt16? = nil) throws -> PackedRing.Snapshot {
        let map = try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(Self.ramSize), host: Self.host, name: "pc.ram")])
        return try PackedRing.snapshot(memory: GuestMemory(map: map, reader: ram), location: location,
                                       usedIndex: usedIndex.map { PackedRing.Hint(index: $0) },
                                       lastAvailIndex: lastAvailIndex.map { PackedRing.Hint(index: $0) })
    }

    func ring(usedIndex: UInt16? = nil, lastAvailIndex: UInt16? = nil) throws -> RingSnapshot {
        .packed(try snapshot(usedIndex: usedIndex, lastAvailIndex: lastAvailIndex))
    }

    func queue(_ device: String, index: Int = 0) -> Virtqueue {
        Virtqueue(device: device, path: "/machine/peripheral-anon/device[1]/virtio-backend", index: index, location: location)
    }
}
