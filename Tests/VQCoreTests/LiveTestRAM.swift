import VQCore

/// Guest RAM in a buffer that a test keeps writing while a reader follows it (the guest changing
/// under vqscope), with the writes a driver and a device make to a split ring.
final class LiveTestRAM: MemoryReader {
    let host: UInt64
    var buffer: BufferMemory
    /// Batched reads so far.
    var calls = 0
    /// Runs after each batched read: the guest moving while vqscope reads.
    var afterRead: (() -> Void)?

    /// `count` bytes of RAM from GPA 0, at host address `host`.
    init(host: UInt64, count: Int) {
        self.host = host
        buffer = BufferMemory(base: host, count: count)
    }

    func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        calls += 1
        try buffer.read(requests)
        afterRead?()
    }

    /// The RAM as one slot, `pc.ram`.
    func memory() throws -> GuestMemory {
        GuestMemory(map: try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(buffer.bytes.count), host: host, name: "pc.ram")]),
                    reader: self)
    }

    func put<T: FixedWidthInteger>(_ value: T, _ gpa: UInt64) { buffer.store(value, at: host + gpa) }

    /// The driver makes head `head` available at free-running position `position` of `ring`.
    func splitAvail(_ ring: VirtqueueLocation, _ position: UInt16, head: UInt16) {
        put(head, ring.driverArea.rawValue + 4 + 2 * UInt64(position % ring.size))
        put(position &+ 1, ring.driverArea.rawValue + 2)
    }

    /// The device returns `id` with `length` bytes written at free-running position `position` of `ring`.
    func splitUsed(_ ring: VirtqueueLocation, _ position: UInt16, id: UInt32, length: UInt32) {
        put(id, ring.deviceArea.rawValue + 4 + 8 * UInt64(position % ring.size))
        put(length, ring.deviceArea.rawValue + 8 + 8 * UInt64(position % ring.size))
        put(position &+ 1, ring.deviceArea.rawValue + 2)
    }
}
