import VQCore
import VQTUI

/// An ``InspectorSource`` over hand-built rings in memory: a split virtio-blk queue with two chains in
/// flight (one direct, one through an indirect table) and one completed, and a packed virtio-net
/// queue with two available chains. Tests change the bytes, script polls, and read back what the
/// inspector asked of it.
final class FakeSource: InspectorSource {
    static let host: UInt64 = 0x7f00_0000_0000
    static let ramSize = 0x40000

    /// Split ring, 16 entries: descriptors at 0x10000, available ring at 0x11000, used ring at 0x11100.
    static let blk = Virtqueue(device: "virtio-blk", path: "/machine/peripheral-anon/device[0]/virtio-backend", index: 0,
                               location: VirtqueueLocation(layout: .split, size: 16, descriptors: GuestPhysicalAddress(0x10000),
                                                           driverArea: GuestPhysicalAddress(0x11000),
                                                           deviceArea: GuestPhysicalAddress(0x11100),
                                                           features: [.version1, .indirectDescriptors, .eventIndex]))
    /// Packed ring, 8 slots at 0x8000; driver event area at 0x8080, device event area at 0x9000.
    static let net = Virtqueue(device: "virtio-net", path: "/machine/peripheral-anon/device[1]/virtio-backend", index: 0,
                               location: VirtqueueLocation(layout: .packed, size: 8, descriptors: GuestPhysicalAddress(0x8000),
                                                           driverArea: GuestPhysicalAddress(0x8080),
                                                           deviceArea: GuestPhysicalAddress(0x9000),
                                                           features: [.version1, .packedRing, .indirectDescriptors]))

    var summary = TargetSummary(title: "pid 4242 (testvm, kvm, 256 KiB)", slotSource: "qmp", ramBytes: UInt64(FakeSource.ramSize),
                                canPause: true, isLive: true)
    let slotMap: SlotMap
    var ram = BufferMemory(base: FakeSource.host, count: FakeSource.ramSize)
    var queues: [Virtqueue] = [FakeSource.blk, FakeSource.net]
    var discoverError: TargetError?
    /// Poll results handed out first, in order; after them, the indexes read from `ram` and no events.
    var scriptedPolls: [PollResult] = []
    var pollError: MemoryError?
    var snapshotError: MemoryError?
    var alive = true
    var state: VMRunState? = .running
    var pauseError: TargetError?
    /// `pause` and `resume`, in the order called.
    var calls: [String] = []
    var snapshots = 0
    /// QEMU's indexes for the packed queue, as a cached QMP answer (taken before each read).
    var packedDeviceState: DeviceQueueState?
    var reads = 0

    init() {
        slotMap = try! SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(FakeSource.ramSize),
                                                  host: FakeSource.host, name: "pc.ram")])
        buildSplitRing()
        buildPackedRing()
    }

    var memory: GuestMemory { GuestMemory(map: slotMap, reader: ram) }

    // MARK: Building

    func put<T: FixedWidthInteger>(_ value: T, at gpa: UInt64) { ram.store(value, at: Self.host + gpa) }
    func put(_ bytes: [UInt8], at gpa: UInt64) { ram.store(bytes, at: Self.host + gpa) }
    func putSplit(_ d: Descriptor, table: UInt64 = 0x10000, _ index: Int) { put(d.splitBytes, at: table + UInt64(16 * index)) }
    func putPacked(_ d: Descriptor, slot: Int) { put(d.packedBytes, at: 0x8000 + UInt64(16 * slot)) }

    /// Sets the split ring's indexes.
    func setIndexes(avail: UInt16, used: UInt16) {
        put(avail, at: 0x11002)
        put(used, at: 0x11102)
    }

    func setAvailEntry(_ position: Int, head: UInt16) { put(head, at: 0x11004 + UInt64(2 * (position % 16))) }
    func setUsedEntry(_ position: Int, id: UInt32, length: UInt32) {
        put(id, at: 0x11104 + UInt64(8 * (position % 16)))
        put(length, at: 0x11108 + UInt64(8 * (position % 16)))
    }

    /// Head 0: a virtio-blk read of sector 8 through descriptors 0 → 1 → 2 (position 1).
    /// Head 3: the same shape through the indirect table at 0x33000 (position 2).
    /// Head 5: one writable buffer, completed at used position 0 with 64 bytes.
    func buildSplitRing() {
        putSplit(Descriptor(address: GuestPhysicalAddress(0x30000), length: 16, flags: [.next], next: 1), 0)
        putSplit(Descriptor(address: GuestPhysicalAddress(0x31000), length: 512, flags: [.next, .write], next: 2), 1)
        putSplit(Descriptor(address: GuestPhysicalAddress(0x32000), length: 1, flags: [.write]), 2)
        putSplit(Descriptor(address: GuestPhysicalAddress(0x33000), length: 48, flags: [.indirect]), 3)
        putSplit(Descriptor(address: GuestPhysicalAddress(0x30100), length: 16, flags: [.next], next: 1), table: 0x33000, 0)
        putSplit(Descriptor(address: GuestPhysicalAddress(0x34000), length: 4096, flags: [.next, .write], next: 2), table: 0x33000, 1)
        putSplit(Descriptor(address: GuestPhysicalAddress(0x32010), length: 1, flags: [.write]), table: 0x33000, 2)
        putSplit(Descriptor(address: GuestPhysicalAddress(0x35000), length: 64, flags: [.write]), 5)
        // blk request headers: type 0 (read), sector 8; and 1 (write), sector 99.
        put(UInt32(0), at: 0x30000)
        put(UInt64(8), at: 0x30008)
        put(UInt32(1), at: 0x30100)
        put(UInt64(99), at: 0x30108)
        put(Array("Hello, vqscope!".utf8), at: 0x31000)
        setAvailEntry(0, head: 5)
        setAvailEntry(1, head: 0)
        setAvailEntry(2, head: 3)
        setUsedEntry(0, id: 5, length: 64)
        setIndexes(avail: 3, used: 1)
    }

    /// Slot 0 used (id 0, 100 bytes, wrap 1); slots 1 and 2 available in lap 1 (ids 1 and 2, 1514 writable bytes).
    func buildPackedRing() {
        putPacked(Descriptor(address: GuestPhysicalAddress(0x36000), length: 100, flags: [.avail, .used], id: 0), slot: 0)
        putPacked(Descriptor(address: GuestPhysicalAddress(0x37000), length: 1514, flags: [.avail, .write], id: 1), slot: 1)
        putPacked(Descriptor(address: GuestPhysicalAddress(0x38000), length: 1514, flags: [.avail, .write], id: 2), slot: 2)
    }

    // MARK: InspectorSource

    func discoverQueues() throws(TargetError) -> [Virtqueue] {
        if let discoverError { throw discoverError }
        return queues
    }

    func poll() throws(MemoryError) -> PollResult {
        if let pollError { throw pollError }
        if !scriptedPolls.isEmpty { return scriptedPolls.removeFirst() }
        return PollResult(indexes: try currentIndexes(), events: [], packed: try currentPackedPositions())
    }

    /// Each packed queue's positions as its ring reads now (what a follower would have).
    func currentPackedPositions() throws(MemoryError) -> [PackedPositions?] {
        var result: [PackedPositions?] = []
        for q in queues {
            guard q.location.layout == .packed else { result.append(nil); continue }
            let p = try PackedRing.snapshot(memory: memory, location: q.location)
            result.append(PackedPositions(driver: p.driver, deviceUsed: p.deviceUsed))
        }
        return result
    }

    func currentIndexes() throws(MemoryError) -> [RingIndexes] {
        var result: [RingIndexes] = []
        for q in queues { result.append(try RingIndexes.read(q.location, from: memory)) }
        return result
    }

    func snapshot(_ queue: Virtqueue) throws(MemoryError) -> RingSnapshot {
        snapshots += 1
        if let snapshotError { throw snapshotError }
        return try RingSnapshot.read(memory: memory, location: queue.location, hints: packedDeviceState)
    }

    func read(at gpa: GuestPhysicalAddress, count: Int) throws(MemoryError) -> [UInt8] {
        reads += 1
        if !alive { throw .processGone(pid: 4242) }
        return try memory.bytes(at: gpa, count: count)
    }

    func memory(for queue: Virtqueue) throws(MemoryError) -> GuestMemory {
        reads += 1
        if !alive { throw .processGone(pid: 4242) }
        return memory
    }

    func payload(of chain: Chain, queue: Virtqueue, completedLength: UInt32?) -> DevicePayload? {
        PayloadDecoder.decode(chain, device: queue.device, queueIndex: queue.index, queueCount: 2, memory: memory,
                              completedLength: completedLength, features: queue.location.features)
    }

    func runState() -> VMRunState? { state }

    func pause() throws(TargetError) {
        calls.append("pause")
        if let pauseError { throw pauseError }
        state = .paused
    }

    func resume() throws(TargetError) {
        calls.append("resume")
        state = .running
    }

    func isAlive() -> Bool { alive }
}

/// A ring event.
func event(_ queue: Int, _ kind: RingEvent.Kind, index: UInt16, wrap: Bool? = nil) -> RingEvent {
    RingEvent(queue: queue, kind: kind, index: index, wrap: wrap)
}
