import VQCore
import XCTest

/// ``RingEventPayloads``: a payload only where the bytes read are the event's own chain's.
final class RingEventPayloadsTests: XCTestCase {
    /// Guest RAM the test keeps writing (`afterRead`: the guest moving while vqscope reads).
    private let ram = LiveTestRAM(host: 0x6700_0000_0000, count: 0x20000)
    /// A split ring of 8 at 0x1000 (avail 0x1080, used 0x2000).
    private let ring = VirtqueueLocation(layout: .split, size: 8, descriptors: GuestPhysicalAddress(0x1000),
                                         driverArea: GuestPhysicalAddress(0x1080), deviceArea: GuestPhysicalAddress(0x2000))

    private func memory() throws -> GuestMemory { try ram.memory() }

    private func put<T: FixedWidthInteger>(_ value: T, _ gpa: UInt64) { ram.put(value, gpa) }

    private func descriptor(_ index: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16 = 0) {
        let at = ring.descriptors.rawValue + 16 * UInt64(index)
        put(address, at); put(length, at + 8); put(flags, at + 12); put(next, at + 14)
    }

    private func avail(_ position: UInt16, head: UInt16) { ram.splitAvail(ring, position, head: head) }
    private func used(_ position: UInt16, id: UInt32, length: UInt32) { ram.splitUsed(ring, position, id: id, length: length) }

    /// A virtio-blk read of `sector` in head 0's chain: header, 512 bytes of data, status.
    private func blockRead(sector: UInt64) {
        put(UInt32(0), 0x8000); put(UInt32(0), 0x8004); put(sector, 0x8008)
        descriptor(0, address: 0x8000, length: 16, flags: 1, next: 1)
        descriptor(1, address: 0x9000, length: 512, flags: 3, next: 2)
        descriptor(2, address: 0x8010, length: 1, flags: 2)
    }

    private func decode(_ decoder: inout RingEventPayloads, _ watcher: RingWatcher, device: String, queueIndex: Int = 0) throws -> [String?] {
        let events = RingWatcher.inRingOrder(try watcher.poll(), queues: watcher.queues)
        let role = PayloadRole(device: device, queueIndex: queueIndex, queueCount: 1)
        return decoder.decode(events, watcher: watcher, roles: [role]).map { $0?.summary }
    }

    /// A watch of the ring after its first poll, and the driver making a read of sector 8 available.
    private func watchingARead() throws -> (RingWatcher, RingEventPayloads) {
        let watcher = try RingWatcher(memory: try memory(), queues: [ring])
        var decoder = RingEventPayloads()
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-blk"), [])
        blockRead(sector: 8)
        avail(0, head: 0)
        return (watcher, decoder)
    }

    func testARequestSeenInFlightKeepsItsPayloadWhenUsedAfterItsBytesChanged() throws {
        var (watcher, decoder) = try watchingARead()
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-blk"), ["blk read sector 8 len 512"])
        // The device answers; the driver frees the header and writes the next request into it
        // before making it available: the used event keeps the request seen in flight.
        used(0, id: 0, length: 513)
        put(UInt64(99), 0x8008)
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-blk"), ["blk read sector 8 len 512"])
    }

    func testARequestUsedWithinThePollHasNoPayload() throws {
        var (watcher, decoder) = try watchingARead()
        used(0, id: 0, length: 513)
        blockRead(sector: 16)
        avail(1, head: 0)
        // Head 0 twice: the first chain's bytes are gone; the second is in flight.
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-blk"), [nil, nil, "blk read sector 16 len 512"])
    }

    func testNothingWhenTheRingMovesWhileTheChainsAreRead() throws {
        var (watcher, decoder) = try watchingARead()
        let events = RingWatcher.inRingOrder(try watcher.poll(), queues: watcher.queues)
        // Between the poll and the check after the chain's read, the request completes.
        ram.afterRead = { [unowned self] in self.used(0, id: 0, length: 513); self.ram.afterRead = nil }
        let payloads = decoder.decode(events, watcher: watcher, roles: [PayloadRole(device: "virtio-blk", queueIndex: 0, queueCount: 1)])
        XCTAssertEqual(payloads.map { $0?.summary }, [nil])
        // Nor is it kept for the used event.
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-blk"), [nil])
    }

    /// A request queue's used chain, not seen in flight, whose descriptor now reads as a buffer with
    /// nothing device-readable (its indirect table freed and zeroed): no payload.
    func testAUsedRequestNotSeenInFlightHasNoPayload() throws {
        // Made available before the watch began: its used event is the first the watch sees of it.
        descriptor(0, address: 0xb000, length: 64, flags: 2)
        avail(0, head: 0)
        let watcher = try RingWatcher(memory: try memory(), queues: [ring])
        var decoder = RingEventPayloads()
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-9p"), [])
        used(0, id: 0, length: 7)
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-9p"), [nil])
        // Made available and used within one poll: neither read.
        avail(1, head: 0)
        used(1, id: 0, length: 7)
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-9p"), [nil, nil])
    }

    func testAReceiveBufferIsDecodedFromWhatTheDeviceWrote() throws {
        let watcher = try RingWatcher(memory: try memory(), queues: [ring])
        var decoder = RingEventPayloads()
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-input"), [])
        descriptor(3, address: 0xa000, length: 8, flags: 2)
        avail(0, head: 3)
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-input"), ["input: room for 1 event, posted for the device to fill"])
        // EV_KEY KEY_A 1 in the posted buffer, then used.
        put(UInt16(1), 0xa000); put(UInt16(30), 0xa002); put(UInt32(1), 0xa004)
        used(0, id: 3, length: 8)
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-input"), ["input EV_KEY KEY_A 1"])
        // Posted again: room for an event, its old bytes not read as one.
        avail(1, head: 3)
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-input"), ["input: room for 1 event, posted for the device to fill"])
    }

    /// A receive buffer posted before the watch began: its chain is known only once the ring shows
    /// which heads are in flight (here: all of them).
    func testAReceiveBufferPostedBeforeTheWatchIsReadOnlyWhenTheRingSaysItWasInFlight() throws {
        descriptor(3, address: 0xa000, length: 8, flags: 2)
        avail(0, head: 3)
        let watcher = try RingWatcher(memory: try memory(), queues: [ring])
        var decoder = RingEventPayloads()
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-input"), [])
        put(UInt16(1), 0xa000); put(UInt16(30), 0xa002); put(UInt32(1), 0xa004)
        used(0, id: 3, length: 8)
        // One of eight descriptors in flight: which head it was is not known, so nothing is read.
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-input"), [nil])

        // A full ring, as virtio-input keeps it: every head in flight.
        for h in UInt16(0)..<8 { descriptor(h, address: 0xc000 + UInt64(h) * 8, length: 8, flags: 2) }
        for k in UInt16(1)...8 { avail(k, head: (k + 2) % 8) }
        let full = try RingWatcher(memory: try memory(), queues: [ring])
        var fullDecoder = RingEventPayloads()
        XCTAssertEqual(try decode(&fullDecoder, full, device: "virtio-input"), [])
        put(UInt16(1), 0xc028); put(UInt16(30), 0xc02a); put(UInt32(0), 0xc02c)
        used(1, id: 5, length: 8)
        XCTAssertEqual(try decode(&fullDecoder, full, device: "virtio-input"), ["input EV_KEY KEY_A 0"])
    }

    /// A receive buffer used and posted again within one poll: the device may be writing it again.
    func testAReceiveBufferPostedAgainWithinThePollHasNoPayload() throws {
        let watcher = try RingWatcher(memory: try memory(), queues: [ring])
        var decoder = RingEventPayloads()
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-input"), [])
        descriptor(3, address: 0xa000, length: 8, flags: 2)
        avail(0, head: 3)
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-input"), ["input: room for 1 event, posted for the device to fill"])
        put(UInt16(1), 0xa000); put(UInt16(30), 0xa002); put(UInt32(1), 0xa004)
        used(0, id: 3, length: 8)
        avail(1, head: 3)
        // The used event keeps what was posted; the device's bytes are not read as this event's.
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-input"),
                       ["input: room for 1 event, posted for the device to fill", "input: room for 1 event, posted for the device to fill"])
    }

    /// A request in flight whose completion comes between the poll's two reads of the indexes: the
    /// events end before it, the ring read afterwards is past it, so the chain is not read as in flight.
    func testACompletionBetweenThePollsReadsDropsThePayload() throws {
        var (watcher, decoder) = try watchingARead()
        var reads = 0
        ram.afterRead = { [unowned self] in
            reads += 1
            if reads == 1 { self.used(0, id: 0, length: 513); self.blockRead(sector: 99) }
        }
        XCTAssertEqual(try decode(&decoder, watcher, device: "virtio-blk"), [nil])
        ram.afterRead = nil
    }
}
