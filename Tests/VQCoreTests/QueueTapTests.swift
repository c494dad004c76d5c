import VQCore
import XCTest

/// Guest RAM that the tests keep writing while a ``RingWatcher`` and a ``QueueTap`` read it: a
/// reference, so that the guest can change between a poll and the tap's read of what it reported.
final class TapGuestRAM: MemoryReader {
    static let host: UInt64 = 0x5500_0000_0000
    /// 2 MiB: rings low, buffers from 0x10000, and ``PackedRingSimulator``'s buffers from 0x101000.
    static let size = 0x20_0000

    var buffer = BufferMemory(base: TapGuestRAM.host, count: TapGuestRAM.size)
    /// Batched reads served so far.
    var reads = 0
    /// Called after each batched read with its number: the guest writing while it is read.
    var afterRead: ((Int) -> Void)?

    func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        try buffer.read(requests)
        reads += 1
        afterRead?(reads)
    }

    /// Guest memory over this RAM: one slot from guest-physical 0.
    func memory() throws -> GuestMemory {
        GuestMemory(map: try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(Self.size), host: Self.host, name: "pc.ram")]),
                    reader: self)
    }

    func put<T: FixedWidthInteger>(_ value: T, _ gpa: UInt64) { buffer.store(value, at: Self.host + gpa) }
    func put(_ bytes: [UInt8], _ gpa: UInt64) { buffer.store(bytes, at: Self.host + gpa) }
}

/// A legacy-layout split ring of `size` in a ``TapGuestRAM``, written by hand as a driver and a
/// device would: descriptors at `base`, the avail ring right after them, the used ring at `base + 0x1000`.
final class SplitTestRing {
    let ram: TapGuestRAM
    let location: VirtqueueLocation
    /// The free-running indexes as written so far.
    private(set) var availIndex: UInt16 = 0
    private(set) var usedIndex: UInt16 = 0

    init(ram: TapGuestRAM, size: UInt16 = 8, base: UInt64 = 0x1000) {
        self.ram = ram
        location = VirtqueueLocation(layout: .split, size: size, descriptors: GuestPhysicalAddress(base),
                                     driverArea: GuestPhysicalAddress(base + 16 * UInt64(size)),
                                     deviceArea: GuestPhysicalAddress(base + 0x1000), features: [.version1, .indirectDescriptors])
    }

    private var n: UInt64 { UInt64(location.size) }

    /// Writes descriptor `index` of the queue's table (or of the indirect table at `table`).
    func describe(_ index: Int, _ address: UInt64, _ length: UInt32, _ flags: Descriptor.Flags = [], next: UInt16 = 0, table: UInt64? = nil) {
        let d = Descriptor(address: GuestPhysicalAddress(address), length: length, flags: flags, next: next)
        ram.put(d.splitBytes, (table ?? location.descriptors.rawValue) + 16 * UInt64(index))
    }

    /// The driver makes `head` available; returns the entry's free-running position.
    @discardableResult
    func post(_ head: UInt16) -> UInt16 {
        let position = availIndex
        ram.put(head, location.driverArea.rawValue + 4 + 2 * (UInt64(position) % n))
        availIndex &+= 1
        ram.put(availIndex, location.driverArea.rawValue + 2)
        return position
    }

    /// The device returns `id` having written `length` bytes; returns the entry's free-running position.
    @discardableResult
    func use(_ id: UInt32, length: UInt32) -> UInt16 {
        let position = usedIndex
        ram.put(id, location.deviceArea.rawValue + 4 + 8 * (UInt64(position) % n))
        ram.put(length, location.deviceArea.rawValue + 8 + 8 * (UInt64(position) % n))
        usedIndex &+= 1
        ram.put(usedIndex, location.deviceArea.rawValue + 2)
        return position
    }
}

/// Recognisable bytes: `count` of them, different for each `seed`.
func tapPattern(_ seed: UInt8, _ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: Int(seed) &* 37 &+ $0 &* 7 &+ ($0 >> 8)) }
}

extension QueueTap.Output {
    /// The buffer of an `available` output.
    var madeAvailable: QueueTap.Buffer? {
        if case .available(let b) = self { return b }
        return nil
    }

    /// The completion of a `used` output.
    var returned: QueueTap.Completion? {
        if case .used(let c) = self { return c }
        return nil
    }
}

/// ``QueueTap`` over split and packed rings in memory that the tests mutate between a poll and the
/// tap's read, as a guest does: exact bytes when nothing moved, dropped bytes when the buffer was
/// handed on, and the buffer recorded when it was made available matched to its return.
final class QueueTapTests: XCTestCase {
    private let ram = TapGuestRAM()

    /// A packed ring of 8 at 0x4000, event areas at 0x4080 and 0x4084.
    private let packed = VirtqueueLocation(layout: .packed, size: 8, descriptors: GuestPhysicalAddress(0x4000),
                                           driverArea: GuestPhysicalAddress(0x4080), deviceArea: GuestPhysicalAddress(0x4084),
                                           features: [.version1, .packedRing])

    private func store(_ sim: PackedRingSimulator) { ram.put(sim.bytes, packed.descriptors.rawValue) }

    // MARK: - Split rings, the driver's bytes

    func testSplitDriverBytesOfOneAndTwoDescriptorAndIndirectChains() throws {
        let ring = SplitTestRing(ram: ram)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        XCTAssertEqual(try watcher.poll(), [])
        let tap = QueueTap(memory: try ram.memory(), location: ring.location, plan: QueueTap.Plan(driverBytes: 64))

        // Head 0: header and data in one descriptor, shorter than the plan.
        ram.put(tapPattern(1, 30), 0x10000)
        ring.describe(0, 0x10000, 30)
        // Head 1: a 12-byte header, then 100 bytes of data: the plan takes 12 + 52.
        ram.put(tapPattern(2, 12), 0x11000)
        ram.put(tapPattern(3, 100), 0x12000)
        ring.describe(1, 0x11000, 12, [.next], next: 2)
        ring.describe(2, 0x12000, 100)
        // Head 3: an indirect table of three, linked 0 -> 2 -> 1, then a device-writable part never read.
        let table: UInt64 = 0x13000
        ram.put(tapPattern(4, 12), 0x14000)
        ram.put(tapPattern(5, 20), 0x15000)
        ram.put(tapPattern(6, 40), 0x16000)
        ring.describe(0, 0x14000, 12, [.next], next: 2, table: table)
        ring.describe(2, 0x15000, 20, [.next], next: 1, table: table)
        ring.describe(1, 0x16000, 40, [.next], next: 3, table: table)
        ring.describe(3, 0x17000, 500, [.write], table: table)
        ring.describe(3, table, 64, [.indirect])
        ring.post(0)
        ring.post(1)
        ring.post(3)

        let events = try watcher.poll()
        XCTAssertEqual(events.map(\.kind), [.available(head: 0), .available(head: 1), .available(head: 3)])
        let outputs = tap.process(events, at: 5)
        let buffers = outputs.compactMap(\.madeAvailable)
        XCTAssertEqual(buffers.count, 3)
        XCTAssertEqual(buffers.map(\.id), [0, 1, 3])
        XCTAssertEqual(buffers.map(\.position), [0, 1, 2])
        XCTAssertEqual(buffers.map(\.missed), [nil, nil, nil])
        XCTAssertEqual(buffers.map(\.time), [5, 5, 5])
        XCTAssertEqual(buffers[0].driverBytes, tapPattern(1, 30))
        XCTAssertEqual(buffers[1].driverBytes, tapPattern(2, 12) + tapPattern(3, 52))
        XCTAssertEqual(buffers[2].driverBytes, tapPattern(4, 12) + tapPattern(5, 20) + tapPattern(6, 32))
        XCTAssertEqual(buffers[2].chain.elements.map(\.address.rawValue), [0x14000, 0x15000, 0x16000, 0x17000])
        XCTAssertEqual(buffers[2].chain.readableBytes, 72)
        XCTAssertEqual(buffers[2].chain.writableBytes, 500)
        XCTAssertEqual(Set(tap.inFlight.map(\.id)), [0, 1, 3])
        XCTAssertEqual(tap.inFlight.first { $0.id == 1 }?.driverBytes, buffers[1].driverBytes, "the book keeps the bytes read")
    }

    func testSplitBytesOfAHeadReusedBeforeTheReadAreDropped() throws {
        let ring = SplitTestRing(ram: ram)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        _ = try watcher.poll()
        let tap = QueueTap(memory: try ram.memory(), location: ring.location, plan: QueueTap.Plan(driverBytes: 32))
        ram.put(tapPattern(1, 32), 0x10000)
        ram.put(tapPattern(2, 32), 0x11000)
        ring.describe(0, 0x10000, 32)
        ring.describe(1, 0x11000, 32)
        ring.post(0)
        ring.post(1)
        let events = try watcher.poll()

        // Before the tap reads: the device returns head 0 and the driver makes it available again
        // for another frame, in other memory.
        ring.use(0, length: 0)
        ram.put(tapPattern(9, 32), 0x18000)
        ring.describe(0, 0x18000, 32)
        ring.post(0)

        let outputs = tap.process(events, at: 1)
        XCTAssertEqual(outputs.count, 2)
        XCTAssertNil(outputs[0].madeAvailable?.driverBytes, "head 0 now names another frame")
        XCTAssertEqual(outputs[0].madeAvailable?.missed, .reused)
        XCTAssertEqual(outputs[1].madeAvailable?.driverBytes, tapPattern(2, 32), "head 1 was left alone")
        XCTAssertNil(outputs[1].madeAvailable?.missed)

        // The next poll reports the new frame, whose bytes are sound (the outputs may be held back
        // for a poll, as head 0 was returned in the same poll).
        let next = tap.process(try watcher.poll(), at: 2) + tap.process([], at: 3)
        XCTAssertEqual(next.compactMap(\.madeAvailable).map(\.driverBytes), [tapPattern(9, 32)])
        XCTAssertEqual(next.compactMap(\.returned).map(\.id), [0])
        XCTAssertEqual(next.compactMap(\.returned).first?.buffer?.position, 0, "the return of the first buffer")
    }

    func testSplitChainChangedWhileTheBytesWereReadIsDropped() throws {
        // Head 0 at the same entry, but its descriptor points elsewhere by the time the ring is read
        // again after the bytes: which bytes were read is not known.
        let ring = SplitTestRing(ram: ram)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        _ = try watcher.poll()
        let tap = QueueTap(memory: try ram.memory(), location: ring.location, plan: QueueTap.Plan(driverBytes: 16))
        ram.put(tapPattern(1, 16), 0x10000)
        ram.put(tapPattern(2, 16), 0x12000)
        ring.describe(0, 0x10000, 16, [.next], next: 1)
        ring.describe(1, 0x11000, 16)
        ring.describe(2, 0x12000, 16)
        ring.post(0)
        ring.post(2)
        let events = try watcher.poll()

        // The tap reads the table, then the bytes, then the ring again: descriptor 0 changes
        // right after the bytes are read.
        ram.reads = 0
        ram.afterRead = { [unowned ram] n in
            if n == 2 { ram.put(Descriptor(address: GuestPhysicalAddress(0x18000), length: 16, flags: [.next], next: 1).splitBytes, 0x1000) }
        }
        defer { ram.afterRead = nil }
        let outputs = tap.process(events, at: 1)
        XCTAssertEqual(ram.reads, 3, "table, bytes, ring: one batch each")
        XCTAssertEqual(outputs.count, 2)
        XCTAssertNil(outputs[0].madeAvailable?.driverBytes)
        XCTAssertEqual(outputs[0].madeAvailable?.missed, .reused)
        XCTAssertEqual(outputs[0].madeAvailable?.chain.ringDescriptors, 2)
        XCTAssertEqual(outputs[1].madeAvailable?.driverBytes, tapPattern(2, 16), "head 2 was left alone")
    }

    func testSplitBytesOfABufferReturnedBeforeTheReadAreHeldForAPoll() throws {
        let ring = SplitTestRing(ram: ram)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        _ = try watcher.poll()
        let tap = QueueTap(memory: try ram.memory(), location: ring.location, plan: QueueTap.Plan(driverBytes: 16))
        for d in 0..<4 {
            ram.put(tapPattern(UInt8(d), 16), 0x10000 + 0x1000 * UInt64(d))
            ring.describe(d, 0x10000 + 0x1000 * UInt64(d), 16)
        }
        // Head 0 made available and returned between two polls (a fast device): its bytes may
        // already be the driver's next frame's, so they wait for the next poll.
        ring.post(0)
        ring.use(0, length: 0)
        XCTAssertEqual(tap.process(try watcher.poll(), at: 1), [], "held back")
        XCTAssertEqual(tap.process([], at: 2).map(\.madeAvailable?.driverBytes), [tapPattern(0, 16), nil],
                       "nothing was made available over them meanwhile: the buffer, then its return")

        // Head 1 likewise; then the driver writes its next frame into the same memory and makes
        // it available with head 2.
        ring.post(1)
        ring.use(1, length: 0)
        XCTAssertEqual(tap.process(try watcher.poll(), at: 3), [])
        ram.put(tapPattern(9, 16), 0x11000)
        ring.describe(2, 0x11000, 16)
        ring.post(2)
        let outputs = tap.process(try watcher.poll(), at: 4)
        let buffers = outputs.compactMap(\.madeAvailable)
        XCTAssertEqual(buffers.map(\.id), [1, 2])
        XCTAssertNil(buffers[0].driverBytes, "head 1's bytes may have been the next frame's")
        XCTAssertEqual(buffers[0].missed, .reused)
        XCTAssertEqual(buffers[1].driverBytes, tapPattern(9, 16))
        XCTAssertEqual(outputs.compactMap(\.returned).map(\.id), [1])

        // Held at the end of a capture: settled by finish(at:).
        ring.post(3)
        ring.use(3, length: 0)
        XCTAssertEqual(tap.process(try watcher.poll(), at: 5), [])
        XCTAssertEqual(tap.finish(at: 6).compactMap(\.madeAvailable).map(\.driverBytes), [tapPattern(3, 16)])
        XCTAssertEqual(tap.finish(at: 7), [])
    }

    func testSplitAvailLappedBetweenPollsGivesALappedOutput() throws {
        let ring = SplitTestRing(ram: ram)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        _ = try watcher.poll()
        let tap = QueueTap(memory: try ram.memory(), location: ring.location, plan: QueueTap.Plan(driverBytes: 8))
        for d in 0..<8 {
            ram.put(tapPattern(UInt8(d), 8), 0x10000 + 0x100 * UInt64(d))
            ring.describe(d, 0x10000 + 0x100 * UInt64(d), 8)
        }
        // Eleven entries on a ring of eight: the first three were overwritten before any poll.
        for p: UInt16 in 0..<11 { ring.post(p % 8) }
        let outputs = tap.process(try watcher.poll(), at: 1)
        XCTAssertEqual(outputs.first, .lapped(ring: .avail, count: 3))
        let buffers = outputs.compactMap(\.madeAvailable)
        XCTAssertEqual(buffers.map(\.position), Array(3..<11))
        XCTAssertEqual(buffers.map(\.id), [3, 4, 5, 6, 7, 0, 1, 2])
        // Entries 4...10 are read; entry 3 is still intact in the ring too (the index is exactly
        // a ring ahead of it): right bytes or none, never others.
        XCTAssertEqual(buffers.dropFirst().map(\.missed), Array(repeating: nil, count: 7))
        XCTAssertEqual(buffers.dropFirst().map(\.driverBytes), buffers.dropFirst().map { tapPattern(UInt8($0.id), 8) })
        XCTAssertTrue(buffers[0].driverBytes == tapPattern(3, 8) || buffers[0].missed == .reused)
    }

    func testSplitUnreadableChainIsMissedUnreadable() throws {
        let ring = SplitTestRing(ram: ram)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        _ = try watcher.poll()
        let tap = QueueTap(memory: try ram.memory(), location: ring.location, plan: QueueTap.Plan(driverBytes: 8))
        ring.describe(0, 0x7000_0000, 64)  // outside guest RAM
        ring.post(0)
        let outputs = tap.process(try watcher.poll(), at: 1)
        XCTAssertNil(outputs.first?.madeAvailable?.driverBytes)
        XCTAssertEqual(outputs.first?.madeAvailable?.missed, .unreadable)
    }

    // MARK: - Split rings, the device's bytes

    /// An rx-like queue: heads 0...3, one device-writable 2 KiB buffer each at 0x20000 + 0x1000 * head,
    /// made available before the watcher and the tap start, then primed.
    private func primedReceiveQueue(limit: Int = 1024) throws -> (SplitTestRing, RingWatcher, QueueTap) {
        let ring = SplitTestRing(ram: ram)
        for h in 0..<4 {
            ram.put([UInt8](repeating: 0xEE, count: 2048), 0x20000 + 0x1000 * UInt64(h))
            ring.describe(h, 0x20000 + 0x1000 * UInt64(h), 2048, [.write])
            ring.post(UInt16(h))
        }
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        XCTAssertEqual(try watcher.poll(), [])
        let tap = QueueTap(memory: try ram.memory(), location: ring.location, plan: QueueTap.Plan(deviceBytes: .written(limit: limit)))
        try tap.prime(at: 1)
        return (ring, watcher, tap)
    }

    func testSplitPrimedBuffersGiveTheDevicesBytesUpToTheUsedLength() throws {
        let (ring, watcher, tap) = try primedReceiveQueue()
        XCTAssertEqual(tap.inFlight.map(\.id), [0, 1, 2, 3])
        XCTAssertEqual(tap.inFlight.map(\.position), [0, 1, 2, 3])
        XCTAssertEqual(tap.inFlight.map(\.time), [1, 1, 1, 1])
        XCTAssertEqual(tap.inFlight.map(\.driverBytes), [nil, nil, nil, nil], "primed buffers' bytes are not read")

        ram.put(tapPattern(7, 100), 0x22000)
        ring.use(2, length: 100)
        ram.put(tapPattern(8, 1500), 0x20000)
        ring.use(0, length: 1500)
        let outputs = tap.process(try watcher.poll(), at: 2)
        let completions = outputs.compactMap(\.returned)
        XCTAssertEqual(completions.map(\.id), [2, 0])
        XCTAssertEqual(completions.map(\.index), [0, 1])
        XCTAssertEqual(completions.map(\.length), [100, 1500])
        XCTAssertEqual(completions.map(\.time), [2, 2])
        XCTAssertEqual(completions.map { $0.buffer?.position }, [2, 0])
        XCTAssertEqual(completions.map { $0.buffer?.time }, [1, 1])
        XCTAssertEqual(completions[0].deviceBytes, tapPattern(7, 100), "the used length, not the buffer's 2 KiB")
        XCTAssertEqual(completions[1].deviceBytes, tapPattern(8, 1024), "at most the plan's limit")
        XCTAssertEqual(completions.map(\.missed), [nil, nil])
        XCTAssertEqual(tap.inFlight.map(\.id), [1, 3])
    }

    func testSplitUsedIdNeverSeenIsAnUnknownBuffer() throws {
        let (ring, watcher, tap) = try primedReceiveQueue()
        ring.describe(6, 0x26000, 2048, [.write])
        ring.use(6, length: 64)  // head 6 was never made available as far as the tap knows
        ring.use(70000, length: 64)  // not even a descriptor index
        let completions = tap.process(try watcher.poll(), at: 2).compactMap(\.returned)
        XCTAssertEqual(completions.map(\.id), [6, 70000])
        XCTAssertEqual(completions.map(\.missed), [.unknownBuffer, .unknownBuffer])
        XCTAssertEqual(completions.map(\.deviceBytes), [nil, nil])
        XCTAssertEqual(completions.map { $0.buffer == nil }, [true, true])
        XCTAssertEqual(tap.inFlight.count, 4)
    }

    func testSplitIdReturnedAgainOverTheSameMemoryBeforeTheReadIsDropped() throws {
        let (ring, watcher, tap) = try primedReceiveQueue()
        ram.put(tapPattern(1, 50), 0x21000)
        ring.use(1, length: 50)
        let events = try watcher.poll()
        // Before the tap reads: the driver makes head 1 available again over the same memory and
        // the device fills it with the next frame.
        ring.post(1)
        ram.put(tapPattern(2, 70), 0x21000)
        ring.use(1, length: 70)
        let completion = tap.process(events, at: 2).first?.returned
        XCTAssertEqual(completion?.id, 1)
        XCTAssertEqual(completion?.length, 50)
        XCTAssertNil(completion?.deviceBytes)
        XCTAssertEqual(completion?.missed, .reused)
    }

    func testSplitIdMadeAvailableAgainBeforeTheReadIsDroppedOnlyOverTheSameMemory() throws {
        let (ring, watcher, tap) = try primedReceiveQueue()
        ram.put(tapPattern(1, 50), 0x21000)
        ring.use(1, length: 50)
        ram.put(tapPattern(3, 60), 0x23000)
        ring.use(3, length: 60)
        let events = try watcher.poll()
        // Head 1 again over the same memory (the device may be writing it now); head 3 again over
        // other memory (its old buffer is the driver's, untouched).
        ring.post(1)
        ring.describe(3, 0x33000, 2048, [.write])
        ring.post(3)
        let completions = tap.process(events, at: 2).compactMap(\.returned)
        XCTAssertEqual(completions.map(\.id), [1, 3])
        XCTAssertEqual(completions.map(\.missed), [.reused, nil])
        XCTAssertNil(completions[0].deviceBytes)
        XCTAssertEqual(completions[1].deviceBytes, tapPattern(3, 60))
    }

    func testSplitHeadReturnedAndMadeAvailableAgainInOnePollCompletesTheOlderBuffer() throws {
        // Between two polls the device returns head 0 and the driver refills it with a new page:
        // the watcher reports the new entry before the used one, and the used one is the old buffer's.
        let (ring, watcher, tap) = try primedReceiveQueue()
        ram.put(tapPattern(1, 60), 0x20000)
        ring.use(0, length: 60)
        ring.describe(0, 0x30000, 2048, [.write])
        ram.put([UInt8](repeating: 0xEE, count: 2048), 0x30000)
        ring.post(0)
        let events = try watcher.poll()
        XCTAssertEqual(events.map(\.kind), [.available(head: 0), .used(id: 0, length: 60)])
        let outputs = tap.process(events, at: 2)
        let completion = outputs.compactMap(\.returned).first
        XCTAssertEqual(completion?.buffer?.position, 0, "the buffer made available at entry 0, before the tap started")
        XCTAssertEqual(completion?.buffer?.chain.elements.first?.address, GuestPhysicalAddress(0x20000))
        XCTAssertEqual(completion?.deviceBytes, tapPattern(1, 60))
        XCTAssertEqual(tap.inFlight.first { $0.id == 0 }?.position, 4, "the new buffer is in flight")

        // The new buffer's return is then known too.
        ram.put(tapPattern(2, 80), 0x30000)
        ring.use(0, length: 80)
        let next = tap.process(try watcher.poll(), at: 3).compactMap(\.returned).first
        XCTAssertEqual(next?.buffer?.position, 4)
        XCTAssertEqual(next?.buffer?.time, 2)
        XCTAssertNil(next?.missed)
        XCTAssertEqual(next?.deviceBytes, tapPattern(2, 80))
    }

    // MARK: - Packed rings

    func testPackedAvailableAndUsedThroughTheWatchersRing() throws {
        var sim = PackedRingSimulator(size: 8)
        store(sim)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [packed])
        _ = try watcher.poll()
        let tap = QueueTap(memory: try ram.memory(), location: packed, plan: QueueTap.Plan(driverBytes: 16, deviceBytes: .written(limit: 64)))

        // Buffer 5: a readable slot (0x101000) and a writable one (0x101100).
        sim.post(id: 5, slots: 2)
        sim.ring[1].flags.insert(.write)
        ram.put(tapPattern(1, 16), 0x101000)
        store(sim)
        var events = try watcher.poll()
        XCTAssertEqual(events, [RingEvent(queue: 0, kind: .available(head: 5), index: 0, wrap: true)])
        let made = tap.process(events, packedRing: watcher.packedRings[0], at: 1).first?.madeAvailable
        XCTAssertEqual(made?.id, 5)
        XCTAssertEqual(made?.position, 0)
        XCTAssertEqual(made?.wrap, true)
        XCTAssertEqual(made?.chain.ringDescriptors, 2)
        XCTAssertEqual(made?.driverBytes, tapPattern(1, 16))
        XCTAssertNil(made?.missed)

        ram.put(tapPattern(2, 40), 0x101100)
        sim.complete(id: 5, length: 40)
        store(sim)
        events = try watcher.poll()
        XCTAssertEqual(events, [RingEvent(queue: 0, kind: .used(id: 5, length: 40), index: 0, wrap: true)])
        let done = tap.process(events, packedRing: watcher.packedRings[0], at: 2).first?.returned
        XCTAssertEqual(done?.buffer?.id, 5)
        XCTAssertEqual(done?.buffer?.driverBytes, tapPattern(1, 16))
        XCTAssertEqual(done?.deviceBytes, tapPattern(2, 40))
        XCTAssertNil(done?.missed)
        XCTAssertEqual(tap.inFlight, [])
    }

    func testPackedBufferMadeAvailableAndUsedBetweenPollsHasItsLengthLost() throws {
        var sim = PackedRingSimulator(size: 8)
        store(sim)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [packed])
        _ = try watcher.poll()
        let tap = QueueTap(memory: try ram.memory(), location: packed, plan: QueueTap.Plan(driverBytes: 16))

        // A tx-like buffer made available and returned before the poll: the used descriptor over
        // its slot keeps only the address.
        sim.post(id: 2)
        ram.put(tapPattern(3, 40), 0x101000)
        sim.complete(id: 2, length: 0)
        store(sim)
        let events = try watcher.poll()
        XCTAssertEqual(events, [RingEvent(queue: 0, kind: .available(head: 2), index: 0, wrap: true),
                                RingEvent(queue: 0, kind: .used(id: 2, length: 0), index: 0, wrap: true)])
        let outputs = tap.process(events, packedRing: watcher.packedRings[0], at: 1)
            + tap.process([], packedRing: watcher.packedRings[0], at: 2)
        XCTAssertEqual(outputs.count, 2)
        let made = try XCTUnwrap(outputs.first?.madeAvailable)
        XCTAssertEqual(made.id, 2)
        XCTAssertEqual(made.wrap, true)
        XCTAssertTrue(made.lengthUnknown)
        XCTAssertEqual(made.driverBytes, tapPattern(3, 16), "the bytes at the address the slot kept")
        XCTAssertEqual(outputs.last?.returned?.id, 2)
        XCTAssertEqual(outputs.last?.returned?.buffer?.lengthUnknown, true)
        XCTAssertEqual(tap.inFlight, [])
    }

    func testPackedSlotMadeAvailableInTheNextLapBeforeTheReadIsDropped() throws {
        var sim = PackedRingSimulator(size: 4)
        let small = VirtqueueLocation(layout: .packed, size: 4, descriptors: packed.descriptors, driverArea: packed.driverArea,
                                      deviceArea: packed.deviceArea, features: packed.features)
        ram.put(sim.bytes, small.descriptors.rawValue)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [small])
        _ = try watcher.poll()
        let tap = QueueTap(memory: try ram.memory(), location: small, plan: QueueTap.Plan(driverBytes: 8))

        sim.post(id: 0, address: 0x30000)
        ram.put(tapPattern(1, 8), 0x30000)
        ram.put(sim.bytes, small.descriptors.rawValue)
        let events = try watcher.poll()
        let seen = watcher.packedRings[0]
        // Before the tap reads: buffer 0 returned, three more through the ring, and slot 0 written
        // again in the next lap, for the same buffer ID and over the same memory, with new bytes.
        sim.complete(id: 0)
        for id: UInt16 in 1...3 {
            sim.post(id: id)
            sim.complete(id: id)
        }
        sim.post(id: 0, address: 0x30000)
        ram.put(tapPattern(2, 8), 0x30000)
        ram.put(sim.bytes, small.descriptors.rawValue)

        let outputs = tap.process(events, packedRing: seen, at: 1)
        XCTAssertEqual(outputs.count, 1)
        XCTAssertEqual(outputs[0].madeAvailable?.id, 0)
        XCTAssertNil(outputs[0].madeAvailable?.driverBytes)
        XCTAssertEqual(outputs[0].madeAvailable?.missed, .reused)
    }

    func testPackedUsedSlotMadeAvailableAgainIsDroppedOnlyOverTheSameMemory() throws {
        for sameMemory in [true, false] {
            var sim = PackedRingSimulator(size: 4)
            let small = VirtqueueLocation(layout: .packed, size: 4, descriptors: packed.descriptors, driverArea: packed.driverArea,
                                          deviceArea: packed.deviceArea, features: packed.features)
            ram.put(sim.bytes, small.descriptors.rawValue)
            let watcher = try RingWatcher(memory: try ram.memory(), queues: [small])
            _ = try watcher.poll()
            let tap = QueueTap(memory: try ram.memory(), location: small, plan: QueueTap.Plan(deviceBytes: .written(limit: 64)))

            sim.post(id: 1, address: 0x30000)
            sim.ring[0].flags.insert(.write)
            ram.put(sim.bytes, small.descriptors.rawValue)
            _ = tap.process(try watcher.poll(), packedRing: watcher.packedRings[0], at: 1)
            ram.put(tapPattern(4, 30), 0x30000)
            sim.complete(id: 1, length: 30)
            ram.put(sim.bytes, small.descriptors.rawValue)
            let events = try watcher.poll()
            let seen = watcher.packedRings[0]
            XCTAssertEqual(events.map(\.kind), [.used(id: 1, length: 30)])

            // Before the tap reads: the driver goes round and writes slot 0 again in the next lap.
            for id: UInt16 in [2, 3, 0] { sim.post(id: id, address: 0x40000 + 0x1000 * UInt64(id)) }
            sim.post(id: 1, address: sameMemory ? 0x30000 : 0x38000)
            ram.put(sim.bytes, small.descriptors.rawValue)

            let completion = tap.process(events, packedRing: seen, at: 2).first?.returned
            XCTAssertEqual(completion?.buffer?.position, 0)
            if sameMemory {
                XCTAssertNil(completion?.deviceBytes, "the device may be writing the same memory again")
                XCTAssertEqual(completion?.missed, .reused)
            } else {
                XCTAssertEqual(completion?.deviceBytes, tapPattern(4, 30), "the old memory is untouched")
                XCTAssertNil(completion?.missed)
            }
        }
    }

    func testPackedPrimedBufferIsKnownWhenReturned() throws {
        var sim = PackedRingSimulator(size: 8)
        sim.post(id: 3, slots: 2, address: 0x30000)
        sim.ring[1].flags.insert(.write)
        store(sim)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [packed])
        _ = try watcher.poll()
        let tap = QueueTap(memory: try ram.memory(), location: packed, plan: QueueTap.Plan(deviceBytes: .written(limit: 64)))
        try tap.prime(at: 1)
        XCTAssertEqual(tap.inFlight.map(\.id), [3])
        XCTAssertEqual(tap.inFlight.first?.wrap, true)

        ram.put(tapPattern(5, 10), 0x30100)
        sim.complete(id: 3, length: 10)
        store(sim)
        let completion = tap.process(try watcher.poll(), packedRing: watcher.packedRings[0], at: 2).first?.returned
        XCTAssertEqual(completion?.buffer?.time, 1)
        XCTAssertEqual(completion?.deviceBytes, tapPattern(5, 10))
        XCTAssertEqual(tap.inFlight, [])
    }
}
