import VQCore
import XCTest

/// ``RingEventPayloads`` on packed rings: what the device wrote into a receive buffer, read at the
/// addresses the driver posted, only where it is that used event's own.
final class PackedRingEventPayloadsTests: XCTestCase {
    static let host: UInt64 = 0x6900_0000_0000
    private let ram = LiveTestRAM(host: PackedRingEventPayloadsTests.host, count: 0x20000)
    /// A packed ring of 16 at 0x4000, event areas at 0x4100 and 0x4104.
    private let packed = VirtqueueLocation(layout: .packed, size: 16, descriptors: GuestPhysicalAddress(0x4000),
                                           driverArea: GuestPhysicalAddress(0x4100), deviceArea: GuestPhysicalAddress(0x4104),
                                           features: [.version1, .packedRing])
    private let input = PayloadRole(device: "virtio-input", queueIndex: 0, queueCount: 2)

    private func store(_ sim: PackedRingSimulator) { ram.buffer.store(sim.bytes, at: Self.host + packed.descriptors.rawValue) }

    /// An input event written by the device at `gpa`.
    private func event(_ gpa: UInt64, type: UInt16 = 1, code: UInt16 = 30, value: UInt32) {
        ram.put(type, gpa); ram.put(code, gpa + 2); ram.put(value, gpa + 4)
    }

    private func decode(_ decoder: inout RingEventPayloads, _ watcher: RingWatcher) throws -> [String?] {
        let events = RingWatcher.inRingOrder(try watcher.poll(), queues: watcher.queues)
        return decoder.decode(events, watcher: watcher, roles: [input]).map { $0?.summary }
    }

    private func started() throws -> (RingWatcher, RingEventPayloads, PackedRingSimulator) {
        let sim = PackedRingSimulator(size: 16)
        store(sim)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [packed])
        var decoder = RingEventPayloads()
        XCTAssertEqual(try decode(&decoder, watcher), [])
        return (watcher, decoder, sim)
    }

    static let room = "input: room for 1 event, posted for the device to fill"

    func testAUsedReceiveBufferIsDecodedFromWhatTheDeviceWrote() throws {
        var (watcher, decoder, sim) = try started()
        sim.post(id: 5, address: 0xa000, writable: true, length: 8)
        store(sim)
        XCTAssertEqual(try decode(&decoder, watcher), [Self.room])
        // The device writes the event and a used descriptor over the chain's slot.
        event(0xa000, value: 1)
        sim.complete(id: 5, length: 8)
        store(sim)
        XCTAssertEqual(try decode(&decoder, watcher), ["input EV_KEY KEY_A 1"])
    }

    func testMadeAvailableAndUsedWithinOnePollIsReadFromThePollsRing() throws {
        var (watcher, decoder, sim) = try started()
        // The chain's slot still reads as available (the used descriptor lands on an earlier slot).
        sim.post(id: 1, address: 0xa000, writable: true, length: 8)
        store(sim)
        XCTAssertEqual(try decode(&decoder, watcher), [Self.room])
        sim.post(id: 2, address: 0xa010, writable: true, length: 8)
        event(0xa010, value: 0)
        sim.complete(id: 2, length: 8)
        store(sim)
        // Buffer 2 was made available and used: its bytes are the device's, at the address posted.
        XCTAssertEqual(try decode(&decoder, watcher), [nil, "input EV_KEY KEY_A 0"])
    }

    func testABufferPostedAgainWithinThePollHasNoDeviceBytes() throws {
        var (watcher, decoder, sim) = try started()
        sim.post(id: 5, address: 0xa000, writable: true, length: 8)
        store(sim)
        XCTAssertEqual(try decode(&decoder, watcher), [Self.room])
        event(0xa000, value: 1)
        sim.complete(id: 5, length: 8)
        sim.post(id: 5, address: 0xa000, writable: true, length: 8)
        store(sim)
        // Used, then posted again: the device may already be writing the next event into it. The used
        // event keeps what was seen in flight; the new chain is in flight.
        XCTAssertEqual(try decode(&decoder, watcher), [Self.room, Self.room])
    }

    func testNothingWhenTheDriverPostsWhileTheBytesAreRead() throws {
        var (watcher, decoder, sim) = try started()
        sim.post(id: 5, address: 0xa000, writable: true, length: 8)
        store(sim)
        XCTAssertEqual(try decode(&decoder, watcher), [Self.room])
        event(0xa000, value: 1)
        sim.complete(id: 5, length: 8)
        store(sim)
        let events = RingWatcher.inRingOrder(try watcher.poll(), queues: watcher.queues)
        // After the poll, the driver posts the buffer again and the device writes the next event.
        ram.afterRead = { [self] in
            sim.post(id: 6, address: 0xa000, writable: true, length: 8)
            store(sim)
            event(0xa000, value: 0)
            ram.afterRead = nil
        }
        XCTAssertEqual(decoder.decode(events, watcher: watcher, roles: [input]).map { $0?.summary }, [Self.room])
    }

    func testAChainUsedBeforeTheConfirmingReadIsDropped() throws {
        var (watcher, decoder, sim) = try started()
        sim.post(id: 3, address: 0xa000, writable: true, length: 8)
        store(sim)
        let events = RingWatcher.inRingOrder(try watcher.poll(), queues: watcher.queues)
        // After the poll's read, before the chain is read and the ring read again, the device uses it.
        event(0xa000, value: 1)
        sim.complete(id: 3, length: 8)
        store(sim)
        XCTAssertEqual(decoder.decode(events, watcher: watcher, roles: [input]).map { $0?.summary }, [nil])
        // Its chain was not confirmed in flight: nothing is kept or read for its used event either.
        XCTAssertEqual(try decode(&decoder, watcher), [nil])
    }

    func testAChainUsedAndItsSlotPostedAgainWhileItIsReadIsDropped() throws {
        var (watcher, decoder, sim) = try started()
        sim.post(id: 3, address: 0xa000, writable: true, length: 8)
        store(sim)
        let events = RingWatcher.inRingOrder(try watcher.poll(), queues: watcher.queues)
        // Before the confirming read the device uses buffer 3 and the driver posts buffer 4 over the
        // slot of that used descriptor: the ring shows no used descriptor, only a new available one.
        sim.complete(id: 3, length: 8)
        for _ in 1..<16 {
            sim.post(id: 4, address: 0xb000, writable: true, length: 8)
            sim.complete(id: 4, length: 8)
        }
        sim.post(id: 4, address: 0xb000, writable: true, length: 8)
        store(sim)
        XCTAssertEqual(decoder.decode(events, watcher: watcher, roles: [input]).map { $0?.summary }, [nil])
    }

    /// A driver posting buffers (each ID at its own address, posted again and again) and a device
    /// writing an event into the oldest and completing it later, all at random, between polls and
    /// while vqscope reads: every used payload is the event written for that completion.
    func testRandomizedUsedPayloadsAreTheDevicesBytesForThatCompletion() throws {
        var wrong: [String] = [], used = 0, usedNamed = 0, avail = 0, availNamed = 0
        for seed in UInt64(1)...12 {
            let ram = LiveTestRAM(host: Self.host, count: 0x20000)
            final class Box { var sim = PackedRingSimulator(size: 16); var written: [UInt16: UInt32] = [:]; var serial: UInt32 = 1000
                var truth: [Int: UInt32] = [:]; var random: TestRandom; init(_ s: UInt64) { random = TestRandom(seed: s) } }
            let box = Box(seed)
            let ring = packed
            func store() { ram.buffer.store(box.sim.bytes, at: Self.host + ring.descriptors.rawValue) }
            func step() {
                switch box.random.below(3) {
                case 0:
                    guard box.sim.freeSlots > 0, let id = box.sim.randomFreeID(&box.random), id < 8 else { return }
                    box.sim.post(id: id, address: 0xa000 + UInt64(id) * 0x10, writable: true, length: 8)
                case 1:
                    // The device writes an event into a buffer in flight (not yet completed).
                    guard let b = box.sim.inFlight.first(where: { box.written[$0.id] == nil }) else { return }
                    box.serial += 1
                    box.written[b.id] = box.serial
                    ram.put(UInt16(1), b.address); ram.put(UInt16(30), b.address + 2); ram.put(box.serial, b.address + 4)
                default:
                    guard let b = box.sim.inFlight.first(where: { box.written[$0.id] != nil }) else { return }
                    box.truth[box.sim.used] = box.written.removeValue(forKey: b.id)!
                    box.sim.complete(id: b.id, length: 8)
                }
                store()
            }
            store()
            let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring])
            var decoder = RingEventPayloads()
            var moves = TestRandom(seed: seed ^ 0x5151)
            ram.afterRead = { if moves.chance(15) { step() } }
            var usedSeen = 0
            // The used events in order: the follower's count of them maps each to its completion.
            var usedPositions: [Int] = []
            for _ in 0..<300 {
                for _ in 0..<box.random.below(4) { step() }
                let events = RingWatcher.inRingOrder(try watcher.poll(), queues: watcher.queues)
                let payloads = decoder.decode(events, watcher: watcher, roles: [input])
                for (e, p) in zip(events, payloads) {
                    switch e.kind {
                    case .available:
                        avail += 1
                        if let p { availNamed += 1; if p.summary != Self.room { wrong.append("avail \(p.summary)") } }
                    case .used:
                        used += 1
                        // The completions in ring order: the k-th used event seen is the k-th completion after the first poll.
                        defer { usedSeen += 1 }
                        guard let p else { continue }
                        if p.summary == Self.room { continue }
                        usedNamed += 1
                        usedPositions.append(usedSeen)
                        let value = p.summary.split(separator: " ").last.flatMap { UInt32($0) }
                        let candidates = box.truth.filter { $0.value == value }
                        // The value is the serial the device wrote for exactly this completion (slot and lap).
                        if candidates.count != 1 || UInt16(candidates.first!.key % 16) != e.index || (candidates.first!.key / 16 % 2 == 0) != e.wrap {
                            wrong.append("used at \(e.index) \(String(describing: e.wrap)): \(p.summary)")
                        }
                    case .lapped: break
                    }
                }
            }
        }
        print("PackedRingEventPayloadsTests random: avail \(availNamed)/\(avail) named, used \(usedNamed)/\(used) with the device's bytes, wrong \(wrong.count)")
        XCTAssertEqual(wrong, [])
        XCTAssertGreaterThan(usedNamed * 5, used, "used events with the device's bytes")
    }
}
