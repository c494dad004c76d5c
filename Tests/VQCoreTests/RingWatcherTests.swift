import VQCore
import XCTest

/// ``RingWatcher`` over guest memory in a buffer: split and packed queues together, what each poll
/// reads, and what it reports.
final class RingWatcherTests: XCTestCase {
    static let host: UInt64 = 0x6600_0000_0000
    static let ramSize = 0x20000

    /// Guest RAM the watcher reads and the test keeps writing (the guest changes under the watcher).
    private let ram = LiveTestRAM(host: RingWatcherTests.host, count: RingWatcherTests.ramSize)

    /// A legacy-layout split ring of 8 at 0x1000 (avail 0x1080, used 0x2000).
    private let split = VirtqueueLocation(layout: .split, size: 8, descriptors: GuestPhysicalAddress(0x1000),
                                          driverArea: GuestPhysicalAddress(0x1080), deviceArea: GuestPhysicalAddress(0x2000))
    /// A packed ring of 8 at 0x4000, event areas at 0x4080 and 0x4084.
    private let packed = VirtqueueLocation(layout: .packed, size: 8, descriptors: GuestPhysicalAddress(0x4000),
                                           driverArea: GuestPhysicalAddress(0x4080), deviceArea: GuestPhysicalAddress(0x4084),
                                           features: [.version1, .packedRing])

    private func memory() throws -> GuestMemory { try ram.memory() }

    private func put<T: FixedWidthInteger>(_ value: T, _ gpa: UInt64) { ram.put(value, gpa) }
    private func store(_ sim: PackedRingSimulator) { ram.buffer.store(sim.bytes, at: Self.host + packed.descriptors.rawValue) }

    private func splitAvail(_ position: UInt16, head: UInt16) { ram.splitAvail(split, position, head: head) }
    private func splitUsed(_ position: UInt16, id: UInt32, length: UInt32) { ram.splitUsed(split, position, id: id, length: length) }

    func testOnePollsSplitEventsComeInRingOrder() throws {
        let watcher = try RingWatcher(memory: try memory(), queues: [split])
        splitAvail(0, head: 5)
        XCTAssertEqual(try watcher.poll(), [])
        XCTAssertEqual(watcher.current, [RingIndexes(available: 1, used: 0)])
        // Between two polls: head 5 completes, is made available again, 2 is made available and completes.
        splitUsed(0, id: 5, length: 64)
        splitAvail(1, head: 5)
        splitAvail(2, head: 2)
        splitUsed(1, id: 5, length: 64)
        splitUsed(2, id: 2, length: 16)
        splitAvail(3, head: 7)
        let events = try watcher.poll()
        // The poll itself: avail entries, then used ones (as the tap expects them).
        XCTAssertEqual(events.map(\.index), [1, 2, 3, 0, 1, 2])
        XCTAssertEqual(RingWatcher.inRingOrder(events, queues: [split]), [
            RingEvent(queue: 0, kind: .used(id: 5, length: 64), index: 0),  // the head from before: not in flight twice
            RingEvent(queue: 0, kind: .available(head: 5), index: 1),
            RingEvent(queue: 0, kind: .used(id: 5, length: 64), index: 1),
            RingEvent(queue: 0, kind: .available(head: 2), index: 2),
            RingEvent(queue: 0, kind: .used(id: 2, length: 16), index: 2),
            RingEvent(queue: 0, kind: .available(head: 7), index: 3),
        ])
    }

    func testRingOrderAcrossTheIndexWrap() {
        let events = [RingEvent(queue: 0, kind: .lapped(ring: .avail, missed: 2), index: 65530),
                      RingEvent(queue: 0, kind: .available(head: 1), index: 65535),
                      RingEvent(queue: 0, kind: .available(head: 2), index: 0),
                      RingEvent(queue: 0, kind: .used(id: 9, length: 1), index: 65534),
                      RingEvent(queue: 0, kind: .used(id: 1, length: 1), index: 65535),
                      RingEvent(queue: 0, kind: .used(id: 2, length: 1), index: 0)]
        XCTAssertEqual(RingWatcher.inRingOrder(events).map(\.index), [65530, 65534, 65535, 65535, 0, 0])
        XCTAssertEqual(RingWatcher.inRingOrder(events).map(\.kind).prefix(3),
                       [.lapped(ring: .avail, missed: 2), .used(id: 9, length: 1), .available(head: 1)])
    }

    func testSplitAndPackedQueuesTogether() throws {
        var sim = PackedRingSimulator(size: 8)
        sim.post(id: 3)
        store(sim)
        let watcher = try RingWatcher(memory: try memory(), queues: [split, packed])
        XCTAssertEqual(watcher.current, [RingIndexes(available: nil, used: nil), RingIndexes(available: nil, used: nil)])
        XCTAssertEqual(try watcher.poll(), [], "the first poll only records where the rings are")
        XCTAssertEqual(watcher.current, [RingIndexes(available: 0, used: 0), RingIndexes(available: nil, used: nil)])
        XCTAssertEqual(watcher.packedPositions(of: 1)?.driver, PackedRing.Position(index: 1, wrap: true))
        XCTAssertNil(watcher.packedPositions(of: 0))

        splitAvail(0, head: 5)
        sim.complete(id: 3, length: 16)
        sim.post(id: 1, slots: 2)
        store(sim)
        XCTAssertEqual(try watcher.poll(), [
            RingEvent(queue: 0, kind: .available(head: 5), index: 0),
            RingEvent(queue: 1, kind: .used(id: 3, length: 16), index: 0, wrap: true),
            RingEvent(queue: 1, kind: .available(head: 1), index: 1, wrap: true),
        ])
        XCTAssertEqual(watcher.current[0], RingIndexes(available: 1, used: 0))

        splitUsed(0, id: 5, length: 4097)
        sim.complete(id: 1, length: 2)
        store(sim)
        XCTAssertEqual(try watcher.poll(), [
            RingEvent(queue: 0, kind: .used(id: 5, length: 4097), index: 0),
            RingEvent(queue: 1, kind: .used(id: 1, length: 2), index: 1, wrap: true),
        ])
        XCTAssertEqual(watcher.current[0], RingIndexes(available: 1, used: 1))
        XCTAssertEqual(watcher.packedPositions(of: 1)?.deviceUsed, PackedRing.Position(index: 3, wrap: true))
    }

    func testAPollOfSomeQueuesLeavesTheOthersForTheirNextPoll() throws {
        var sim = PackedRingSimulator(size: 8)
        store(sim)
        let watcher = try RingWatcher(memory: try memory(), queues: [split, packed])
        XCTAssertEqual(try watcher.poll(), [])
        splitAvail(0, head: 5)
        sim.post(id: 2)
        store(sim)
        XCTAssertEqual(try watcher.poll(only: [false, true]), [RingEvent(queue: 1, kind: .available(head: 2), index: 0, wrap: true)])
        XCTAssertEqual(watcher.current[0], RingIndexes(available: 0, used: 0), "the split ring was not read")
        splitUsed(0, id: 5, length: 9)
        XCTAssertEqual(try watcher.poll(only: [true, false]), [
            RingEvent(queue: 0, kind: .available(head: 5), index: 0),
            RingEvent(queue: 0, kind: .used(id: 5, length: 9), index: 0),
        ], "what happened since the queue's last read")
        XCTAssertEqual(watcher.indexes(of: 0), RingIndexes(available: 1, used: 1))
        sim.complete(id: 2, length: 1)
        store(sim)
        XCTAssertEqual(try watcher.poll(), [RingEvent(queue: 1, kind: .used(id: 2, length: 1), index: 0, wrap: true)])
    }

    func testOneBatchedReadPerPollUnlessSplitEntriesAreNew() throws {
        var sim = PackedRingSimulator(size: 8)
        store(sim)
        let watcher = try RingWatcher(memory: try memory(), queues: [split, packed, packed])
        _ = try watcher.poll()
        XCTAssertEqual(ram.calls, 1)
        sim.post(id: 0)
        store(sim)
        XCTAssertEqual(try watcher.poll().count, 2, "both packed queues read the same ring here")
        XCTAssertEqual(ram.calls, 2, "packed rings: the whole ring, in the one batch")
        splitAvail(0, head: 1)
        XCTAssertEqual(try watcher.poll(), [RingEvent(queue: 0, kind: .available(head: 1), index: 0)])
        XCTAssertEqual(ram.calls, 4, "new split entries: a second batch, entries then indexes")
    }

    func testAStillGuestReportsNothing() throws {
        var sim = PackedRingSimulator(size: 8)
        sim.post(id: 0, slots: 3)
        sim.post(id: 1)
        sim.complete(id: 0)
        store(sim)
        splitAvail(0, head: 2)
        splitAvail(1, head: 3)
        splitUsed(0, id: 2, length: 1)
        let watcher = try RingWatcher(memory: try memory(), queues: [split, packed])
        for _ in 0..<20 { XCTAssertEqual(try watcher.poll(), []) }
    }

    func testTheDeviceStateHintStartsPackedRingsWhereTheDeviceIs() throws {
        var sim = PackedRingSimulator(size: 8)
        sim.post(id: 0, slots: 3)
        sim.complete(id: 0)  // the device is at slot 3; the ring alone says 1
        store(sim)
        let state = DeviceQueueState(lastAvailIndex: 3, shadowAvailIndex: 3, usedIndex: 3, inUse: 0)
        let hinted = try RingWatcher(memory: try memory(), queues: [split, packed], deviceStates: [nil, state])
        _ = try hinted.poll()
        XCTAssertEqual(hinted.packedPositions(of: 1)?.deviceUsed, PackedRing.Position(index: 3, wrap: true))
        let plain = try RingWatcher(memory: try memory(), queues: [split, packed])
        _ = try plain.poll()
        XCTAssertEqual(plain.packedPositions(of: 1)?.deviceUsed, PackedRing.Position(index: 1, wrap: true))
    }

    func testSplitRingMovingMoreThanItsSizeIsLapped() throws {
        let watcher = try RingWatcher(memory: try memory(), queues: [split])
        _ = try watcher.poll()
        for p: UInt16 in 0..<11 { splitAvail(p, head: p % 8) }
        let events = try watcher.poll()
        XCTAssertEqual(events.first, RingEvent(queue: 0, kind: .lapped(ring: .avail, missed: 3), index: 0))
        XCTAssertEqual(events.dropFirst().map(\.index), Array(3..<11))
        XCTAssertEqual(watcher.current[0], RingIndexes(available: 11, used: 0))
    }

    func testQueuesOfSizeZeroAreRefused() throws {
        var empty = packed
        empty.size = 0
        XCTAssertThrowsError(try RingWatcher(memory: try memory(), queues: [split, empty])) {
            XCTAssertEqual("\($0)", "queue 1 has size 0: there is no ring")
        }
    }

    /// A split ring's indexes wrap at a power of two: any other size would read the wrong entries.
    /// A packed ring may have any size.
    func testSplitQueuesWhoseSizeIsNotAPowerOfTwoAreRefused() throws {
        var odd = split
        odd.size = 255
        XCTAssertThrowsError(try RingWatcher(memory: try memory(), queues: [odd])) {
            XCTAssertEqual("\($0)", "queue 0 has size 255, not a power of two as a split ring's must be")
        }
        var packedOdd = packed
        packedOdd.size = 7
        XCTAssertNil(packedOdd.sizeProblem)
    }

    func testAnUnreadableRingThrowsAndLeavesTheWatcherAsItWas() throws {
        var far = packed
        far.descriptors = GuestPhysicalAddress(0x100_0000)
        let watcher = try RingWatcher(memory: try memory(), queues: [split, far])
        XCTAssertThrowsError(try watcher.poll())
        XCTAssertEqual(watcher.current[0], RingIndexes(available: nil, used: nil))
    }

    func testGarbageNeverTrapsAndWorkStaysBounded() throws {
        // Random bytes rewritten between polls: packed and split rings of several sizes.
        var random = TestRandom(seed: 7)
        let queues = [
            VirtqueueLocation(layout: .packed, size: 1, descriptors: GuestPhysicalAddress(0x8000), driverArea: GuestPhysicalAddress(0), deviceArea: GuestPhysicalAddress(0)),
            VirtqueueLocation(layout: .packed, size: 7, descriptors: GuestPhysicalAddress(0x8100), driverArea: GuestPhysicalAddress(0), deviceArea: GuestPhysicalAddress(0)),
            VirtqueueLocation(layout: .packed, size: 256, descriptors: GuestPhysicalAddress(0x9000), driverArea: GuestPhysicalAddress(0), deviceArea: GuestPhysicalAddress(0)),
            VirtqueueLocation(layout: .split, size: 64, descriptors: GuestPhysicalAddress(0xC000), driverArea: GuestPhysicalAddress(0xC400), deviceArea: GuestPhysicalAddress(0xD000)),
        ]
        let watcher = try RingWatcher(memory: try memory(), queues: queues)
        for round in 0..<300 {
            for _ in 0..<200 {
                let at = 0x8000 + random.below(0x6000)
                ram.buffer.bytes[at] = UInt8(truncatingIfNeeded: random.next())
            }
            // Flags words only, sometimes: the AVAIL/USED bits churn without the rest changing.
            if round % 3 == 0 {
                for s in 0..<256 where random.chance(20) { ram.buffer.bytes[0x9000 + 16 * s + 15] ^= 0x80 }
            }
            let events = try watcher.poll()
            XCTAssertLessThanOrEqual(events.count, 3 * (1 + 7 + 256) + 3 * 2 + 2 * 64 + 2)
            for e in events {
                XCTAssertLessThan(Int(e.index), e.wrap == nil ? 65536 : Int(queues[e.queue].size))
                XCTAssertEqual(e.wrap == nil, queues[e.queue].layout == .split)
            }
        }
        XCTAssertLessThanOrEqual(ram.calls, 600, "at most two batched reads a poll")
    }
}
