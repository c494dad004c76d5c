import VQCore
import XCTest

final class QueueHealthTests: XCTestCase {
    // MARK: idle and busy

    func testIdleQueueWithHistory() throws {
        var r = TestSplitRing()
        r.request(head: 0)
        r.makeAvailable([0], from: 4)
        r.use([0], from: 4)
        var tracker = QueueHealthTracker(queue: r.queue("virtio-blk"))
        XCTAssertEqual(tracker.role.flow, .requests)
        let first = tracker.observe(try r.ring(), at: 10)
        XCTAssertEqual(first.health, .idle)
        XCTAssertEqual(first.inFlight, 0)
        XCTAssertNil(first.oldest)
        XCTAssertEqual(first.reasons, ["nothing in flight"])
        let later = tracker.observe(try r.ring(), at: 12.5)
        XCTAssertEqual(later.health, .idle)
        XCTAssertEqual(later.usedUnmovedFor, 2.5)
        XCTAssertEqual(later.observedFor, 2.5)
        XCTAssertEqual(later.reasons, ["nothing in flight; nothing used for 2.5 s"])
    }

    func testNeverUsedQueueIsIdleUnlessDriversKeepItFilled() throws {
        let r = TestSplitRing()
        // A console port nobody opened: its receive queue was never filled.
        var port = QueueHealthTracker(queue: r.queue("virtio-serial", index: 6))
        XCTAssertEqual(port.role, QueueRole(flow: .receive, name: "port 2 rx"))
        _ = port.observe(try r.ring(), at: 0)
        let d = port.observe(try r.ring(), at: 5)
        XCTAssertEqual(d.health, .idle)
        XCTAssertEqual(d.reasons, ["never used: nothing made available since the queue was set up"])
        // A net receive queue that was never filled: the guest can receive nothing.
        var rx = QueueHealthTracker(queue: r.queue("virtio-net", index: 0))
        _ = rx.observe(try r.ring(), at: 0)
        let starved = rx.observe(try r.ring(), at: 1)
        XCTAssertEqual(starved.health, .starved)
        XCTAssertTrue(starved.summary.contains("never posted"), starved.summary)
    }

    func testBusyRequestsCompleting() throws {
        var r = TestSplitRing()
        r.request(head: 0)
        r.request(head: 3)
        r.makeAvailable([0, 3], from: 100)
        r.setUsedIndex(100)
        var tracker = QueueHealthTracker(queue: r.queue("virtio-blk"), threshold: 1)
        let a = tracker.observe(try r.ring(), at: 0)
        XCTAssertEqual(a.health, .busy)
        XCTAssertEqual(a.inFlight, 2)
        XCTAssertEqual(a.requests, 2)
        XCTAssertEqual(a.oldest, QueueDiagnosis.OldestChain(head: 0, age: 0, isRequest: true))
        // The first completes; a third arrives.
        r.use([0], from: 100)
        r.request(head: 6)
        r.makeAvailable([6], from: 102)
        let b = tracker.observe(try r.ring(), at: 0.8)
        XCTAssertEqual(b.health, .busy)
        XCTAssertEqual(b.inFlight, 2)
        XCTAssertEqual(b.recentlyUsed, 1)
        XCTAssertEqual(b.oldest?.head, 3)
        XCTAssertEqual(b.oldest?.age ?? -1, 0.8, accuracy: 1e-9)
        XCTAssertEqual(b.reasons, ["2 requests in flight, the oldest (head 3) for 0.8 s", "1 used in the last 1.0 s"])
        // All done: nothing in flight, but completions within the threshold still read busy.
        r.use([3, 6], from: 101)
        let c = tracker.observe(try r.ring(), at: 1.2)
        XCTAssertEqual(c.health, .busy)
        XCTAssertEqual(c.recentlyUsed, 3)
        XCTAssertEqual(c.reasons, ["nothing in flight now; 3 used in the last 1.0 s"])
        let d = tracker.observe(try r.ring(), at: 3)
        XCTAssertEqual(d.health, .idle)
        XCTAssertEqual(d.recentlyUsed, 0)
    }

    // MARK: stalled

    func testStalledWithGrowingAge() throws {
        var r = TestSplitRing()
        r.request(head: 5)
        r.makeAvailable([5], from: 51)
        r.setUsedIndex(51)
        r.events(usedEvent: 51, availEvent: 52)
        var tracker = QueueHealthTracker(queue: r.queue("virtio-blk"), threshold: 1)
        XCTAssertEqual(tracker.observe(try r.ring(), at: 100).health, .busy)
        XCTAssertEqual(tracker.observe(try r.ring(), at: 100.6).health, .busy)
        let stalled = tracker.observe(try r.ring(), at: 101.2)
        XCTAssertEqual(stalled.health, .stalled)
        XCTAssertEqual(stalled.inFlight, 1)
        XCTAssertEqual(stalled.oldest?.head, 5)
        XCTAssertEqual(stalled.oldest?.age ?? 0, 1.2, accuracy: 1e-9)
        XCTAssertEqual(stalled.usedUnmovedFor ?? 0, 1.2, accuracy: 1e-9)
        XCTAssertNil(stalled.deviceFetched)
        XCTAssertEqual(stalled.reasons, [
            "1 request in flight, the oldest (head 5) for 1.2 s; used idx 51 unmoved for 1.2 s",
            "notifications armed both ways (the next kick and the next interrupt fire)",
        ])
        // QEMU fetched it and holds it.
        let held = DeviceQueueState(lastAvailIndex: 52, shadowAvailIndex: 52, usedIndex: 51, inUse: 1)
        let later = tracker.observe(try r.ring(), deviceState: held, at: 104)
        XCTAssertEqual(later.health, .stalled)
        XCTAssertEqual(later.oldest?.age ?? 0, 4, accuracy: 1e-9, "the age grows across samples")
        XCTAssertEqual(later.deviceFetched, 1)
        XCTAssertEqual(later.deviceInUse, 1)
        XCTAssertEqual(later.reasons[1], "QEMU fetched it (last_avail_idx 52, inuse 1) and has not completed it: the device or its backend holds it")
        // QEMU has not even fetched it.
        let unseen = DeviceQueueState(lastAvailIndex: 51, shadowAvailIndex: 51, usedIndex: 51, inUse: 0)
        let notFetched = tracker.observe(try r.ring(), deviceState: unseen, at: 105)
        XCTAssertEqual(notFetched.deviceFetched, 0)
        XCTAssertEqual(notFetched.reasons[1], "QEMU has not even fetched it (last_avail_idx 51): the device was not told or is not processing the queue")
        // QEMU's view from another moment: left out.
        let moved = DeviceQueueState(lastAvailIndex: 53, shadowAvailIndex: 53, usedIndex: 52, inUse: 1)
        let disagree = tracker.observe(try r.ring(), deviceState: moved, at: 106)
        XCTAssertNil(disagree.deviceFetched)
        XCTAssertTrue(disagree.reasons.last?.contains("differ") ?? false)
        // Completion: busy, then idle.
        r.use([5], from: 51)
        let done = tracker.observe(try r.ring(), at: 106.5)
        XCTAssertEqual(done.health, .busy)
        XCTAssertEqual(tracker.observe(try r.ring(), at: 108).health, .idle)
    }

    func testANewRequestOnALongIdleQueueIsNotStalled() throws {
        var r = TestSplitRing()
        r.setUsedIndex(9)
        r.setAvailIndex(9)
        var tracker = QueueHealthTracker(queue: r.queue("virtio-blk"), threshold: 1)
        XCTAssertEqual(tracker.observe(try r.ring(), at: 0).health, .idle)
        r.request(head: 0)
        r.makeAvailable([0], from: 9)
        let d = tracker.observe(try r.ring(), at: 5)
        XCTAssertEqual(d.health, .busy, "the used index has not moved for 5 s, but the request is new")
        XCTAssertEqual(d.usedUnmovedFor, 5)
        XCTAssertEqual(d.oldest?.age, 0)
        XCTAssertEqual(tracker.observe(try r.ring(), at: 6).health, .stalled)
    }

    func testSlowRequestWhileOthersComplete() throws {
        // An out-of-order device returns a newer request (head 3) while the oldest (head 0) stays:
        // the used index moves, so the queue is busy, and the oldest is reported as slow.
        var r = TestSplitRing()
        r.request(head: 0)
        r.request(head: 3)
        r.makeAvailable([0, 3], from: 0)
        var tracker = QueueHealthTracker(queue: r.queue("virtio-blk"), threshold: 1)
        _ = tracker.observe(try r.ring(), at: 0)
        r.request(head: 6)
        r.makeAvailable([6], from: 2)
        r.use([3], from: 0)  // out of order: head 3 returned, the window is now positions 1...2
        let d = tracker.observe(try r.ring(), at: 1.5)
        XCTAssertEqual(d.health, .busy)
        XCTAssertEqual(d.inFlight, 2)
        XCTAssertEqual(d.recentlyUsed, 1)
        XCTAssertEqual(d.reasons.last, "slow: the oldest has waited 1.5 s while others completed")
    }

    func testImageIsOneInstant() throws {
        var r = TestSplitRing()
        r.request(head: 0)
        r.makeAvailable([0], from: 7)
        r.setUsedIndex(7)
        let d = QueueHealthTracker.judgeInstant(try r.ring(), queue: r.queue("virtio-blk"))
        XCTAssertEqual(d.health, .busy)
        XCTAssertNil(d.oldest?.age)
        XCTAssertNil(d.usedUnmovedFor)
        XCTAssertEqual(d.observedFor, 0)
        XCTAssertEqual(d.reasons, ["1 request in flight (head 0); one instant cannot tell whether it completes"])
    }

    // MARK: waiting and starved

    func testWaitingReceiveBuffers() throws {
        var r = TestSplitRing()
        for head in 0..<4 { r.receiveBuffer(head: head) }
        r.makeAvailable([0, 1, 2, 3], from: 0)
        var rx = QueueHealthTracker(queue: r.queue("virtio-net", index: 0))
        _ = rx.observe(try r.ring(), at: 0)
        let d = rx.observe(try r.ring(), at: 30)
        XCTAssertEqual(d.health, .waiting, "normal however long it lasts")
        XCTAssertEqual(d.inFlight, 4)
        XCTAssertEqual(d.requests, 0)
        XCTAssertEqual(d.oldest?.isRequest, false)
        XCTAssertEqual(d.reasons, ["4 buffers posted for the device to fill when data comes; none filled for 30 s"])
        // An unknown device: judged by the chains' shape.
        var unknown = QueueHealthTracker(queue: r.queue("virtio-foo"))
        XCTAssertEqual(unknown.role.flow, .unknown)
        _ = unknown.observe(try r.ring(), at: 0)
        XCTAssertEqual(unknown.observe(try r.ring(), at: 30).health, .waiting)
    }

    func testBalloonStatisticsBufferIsHeldNotStuck() throws {
        var r = TestSplitRing()
        r.readableBuffer(head: 0)
        r.makeAvailable([0], from: 3)
        r.setUsedIndex(3)
        var stats = QueueHealthTracker(queue: r.queue("virtio-balloon", index: 2))
        _ = stats.observe(try r.ring(), at: 0)
        XCTAssertEqual(stats.observe(try r.ring(), at: 60).health, .waiting)
        // The same readable buffer on a queue of unknown role is a request: stalled.
        var unknown = QueueHealthTracker(queue: r.queue("virtio-foo"))
        _ = unknown.observe(try r.ring(), at: 0)
        XCTAssertEqual(unknown.observe(try r.ring(), at: 60).health, .stalled)
    }

    func testBalloonStatisticsAreDescribedAsDataForTheDeviceToRead() throws {
        var r = TestSplitRing()
        r.readableBuffer(head: 0)
        r.makeAvailable([0], from: 3)
        r.setUsedIndex(3)
        var stats = QueueHealthTracker(queue: r.queue("virtio-balloon", index: 2))
        _ = stats.observe(try r.ring(), at: 0)
        let d = stats.observe(try r.ring(), at: 60)
        XCTAssertEqual(d.health, .waiting)
        XCTAssertEqual(d.reasons, ["1 buffer of the driver's data held for the device to read when it asks (device-readable); none taken for 60 s"])
        XCTAssertFalse(d.summary.contains("to fill"), d.summary)
    }

    /// A receive queue whose one buffer the device filled: empty since.
    private func emptiedReceiveRing(length: UInt32) -> TestSplitRing {
        var r = TestSplitRing()
        r.receiveBuffer(head: 0)
        r.makeAvailable([0], from: 0)
        r.use([0], from: 0, length: length)
        return r
    }

    func testStarvedReceiveQueue() throws {
        var r = emptiedReceiveRing(length: 64)
        var rx = QueueHealthTracker(queue: r.queue("virtio-net"), threshold: 1)
        XCTAssertEqual(rx.role.flow, .receive)
        let a = rx.observe(try r.ring(), at: 0)
        XCTAssertEqual(a.health, .idle, "not yet empty for the threshold")
        let b = rx.observe(try r.ring(), at: 1.5)
        XCTAssertEqual(b.health, .starved)
        XCTAssertEqual(b.reasons, ["nothing posted for the device to fill for 1.5 s: nothing can arrive until the driver posts a buffer"])
        // The driver posts a buffer and the device fills it between two samples: not starved.
        r.makeAvailable([0], from: 1)
        r.use([0], from: 1, length: 64)
        let c = rx.observe(try r.ring(), at: 2)
        XCTAssertEqual(c.health, .busy)
        XCTAssertEqual(rx.observe(try r.ring(), at: 2.5).health, .busy)
        let again = rx.observe(try r.ring(), at: 3.1)
        XCTAssertEqual(again.health, .starved)
        XCTAssertEqual(again.reasons, ["nothing posted for the device to fill for 1.1 s: nothing can arrive until the driver posts a buffer"])
        // From one instant: the shape alone.
        XCTAssertEqual(QueueHealthTracker.judgeInstant(try r.ring(), queue: r.queue("virtio-net")).health, .starved)
    }

    /// virtio-rng's driver posts a buffer only when something reads /dev/hwrng: between two reads a
    /// second apart its queue is empty, which is idle (waiting for the next ask), never starved.
    func testEntropyQueueEmptyBetweenReadsIsIdle() throws {
        var r = emptiedReceiveRing(length: 16)
        var rng = QueueHealthTracker(queue: r.queue("virtio-rng"), threshold: 1)
        XCTAssertEqual(rng.role.flow, .receive)
        XCTAssertTrue(rng.role.postsOnDemand)
        _ = rng.observe(try r.ring(), at: 0)
        let b = rng.observe(try r.ring(), at: 1.5)
        XCTAssertEqual(b.health, .idle)
        XCTAssertFalse(b.health.isTrouble)
        XCTAssertEqual(b.reasons, ["nothing posted for 1.5 s: the driver posts entropy buffers only when asked for data, nothing wrong"])
        // A read a second: the device fills each buffer at once.
        r.makeAvailable([0], from: 1)
        r.use([0], from: 1, length: 16)
        XCTAssertEqual(rng.observe(try r.ring(), at: 2).health, .busy)
        XCTAssertEqual(rng.observe(try r.ring(), at: 3.1).health, .idle)
        XCTAssertEqual(QueueHealthTracker.judgeInstant(try r.ring(), queue: r.queue("virtio-rng")).health, .idle)
        // A buffer posted and not yet filled is waiting, as on any receive queue.
        r.makeAvailable([0], from: 2)
        XCTAssertEqual(rng.observe(try r.ring(), at: 4).health, .waiting)
    }

    // MARK: broken

    func testAvailIndexJumpIsBroken() throws {
        var r = TestSplitRing()
        r.setAvailIndex(40)
        r.setUsedIndex(2)
        var tracker = QueueHealthTracker(queue: r.queue("virtio-blk"))
        let d = tracker.observe(try r.ring(), at: 0)
        XCTAssertEqual(d.health, .broken)
        XCTAssertEqual(d.inFlight, 38)
        XCTAssertEqual(d.problems.first, .availIndexJump(availIndex: 40, usedIndex: 2, size: 16))
        XCTAssertEqual(d.reasons.first, "available index 40 is 38 ahead of used index 2, more than the queue size 16")
        XCTAssertEqual(QueueHealthTracker.judgeInstant(try r.ring(), queue: r.queue("virtio-blk")).health, .broken)
    }

    func testRingEntryOutOfRangeAndLoopsAreBroken() throws {
        var r = TestSplitRing()
        r.makeAvailable([99], from: 0)
        XCTAssertEqual(QueueHealthTracker.judgeInstant(try r.ring(), queue: r.queue("virtio-blk")).health, .broken)

        var loop = TestSplitRing()
        loop.descriptor(0, Descriptor(address: GuestPhysicalAddress(0x20000), length: 16, flags: [.next], next: 1))
        loop.descriptor(1, Descriptor(address: GuestPhysicalAddress(0x20100), length: 16, flags: [.next], next: 0))
        loop.makeAvailable([0], from: 0)
        let d = QueueHealthTracker.judgeInstant(try loop.ring(), queue: loop.queue("virtio-blk"))
        XCTAssertEqual(d.health, .broken)
        XCTAssertEqual(d.problems.map(\.code), ["loop"])
    }

    func testLiveRingsAreBrokenOnlyWhenAProblemLasts() throws {
        var r = TestSplitRing()
        r.request(head: 0)
        r.makeAvailable([0], from: 0)
        var tracker = QueueHealthTracker(queue: r.queue("virtio-blk"))
        XCTAssertEqual(tracker.observe(try r.ring(), at: 0).health, .busy)
        // One read shows a loop (say, a driver rewriting a chain it does not own any more)...
        r.descriptor(2, Descriptor(address: GuestPhysicalAddress(0x20400), length: 1, flags: [.write, .next], next: 0))
        let once = tracker.observe(try r.ring(), at: 0.1)
        XCTAssertEqual(once.health, .busy, "a problem seen once on a live ring is not yet broken")
        XCTAssertEqual(once.problems, [])
        let twice = tracker.observe(try r.ring(), at: 0.2)
        XCTAssertEqual(twice.health, .broken)
        XCTAssertEqual(twice.problems.map(\.code), ["loop"])
        // QEMU's own word.
        r.request(head: 0)
        _ = tracker.observe(try r.ring(), at: 0.3)
        XCTAssertEqual(tracker.observe(try r.ring(), deviceBroken: true, at: 0.4).health, .broken)
    }

    // MARK: notifications in the judgement

    func testNeitherSideWokenIsSaidPlainly() throws {
        var r = TestSplitRing()
        r.request(head: 0)
        r.makeAvailable([0], from: 20)
        r.setUsedIndex(20)
        r.events(usedEvent: 0, availEvent: 10)  // both behind: the other side was not asked to notify
        var tracker = QueueHealthTracker(queue: r.queue("virtio-blk"), threshold: 1)
        _ = tracker.observe(try r.ring(), at: 0)
        let d = tracker.observe(try r.ring(), at: 2)
        XCTAssertEqual(d.health, .stalled)
        XCTAssertTrue(d.notifications.neitherSideWakes)
        XCTAssertEqual(d.reasons.last,
                       "1 chain in flight and neither side will be woken: avail_event 10 is 11 behind avail idx 21: no buffer kicks the device until it moves; used_event 0 is 20 behind used idx 20: no buffer used interrupts the driver until it moves")
    }

    // MARK: packed rings

    func testPackedStalledWaitingAndStarved() throws {
        var p = TestPackedRing()
        p.used(slot: 0, id: 0, wrap: true)
        p.available(slot: 1, id: 1, wrap: true, writable: false)
        var blk = QueueHealthTracker(queue: p.queue("virtio-blk"), threshold: 1)
        XCTAssertEqual(blk.observe(try p.ring(), at: 0).health, .busy)
        let s = blk.observe(try p.ring(usedIndex: 1, lastAvailIndex: 2), deviceState: DeviceQueueState(lastAvailIndex: 2, shadowAvailIndex: 2, usedIndex: 1, inUse: 1), at: 2)
        XCTAssertEqual(s.health, .stalled, "hints do not count as progress")
        XCTAssertEqual(s.oldest, QueueDiagnosis.OldestChain(head: 1, bufferID: 1, age: 2, isRequest: true))
        XCTAssertEqual(s.deviceFetched, 1)
        XCTAssertTrue(s.reasons[0].hasPrefix("1 request in flight, the oldest (head 1) for 2.0 s; the device's used position 1 (wrap 1) unmoved for 2.0 s"), s.reasons[0])
        // It completes.
        p.used(slot: 1, id: 1, wrap: true)
        let done = blk.observe(try p.ring(), at: 2.5)
        XCTAssertEqual(done.health, .busy)
        XCTAssertEqual(done.recentlyUsed, 1)

        var rxRing = TestPackedRing()
        for slot in 0..<3 { rxRing.available(slot: slot, id: UInt16(slot), wrap: true, writable: true) }
        var rx = QueueHealthTracker(queue: rxRing.queue("virtio-net"))
        _ = rx.observe(try rxRing.ring(), at: 0)
        XCTAssertEqual(rx.observe(try rxRing.ring(), at: 9).health, .waiting)

        var rngRing = TestPackedRing()
        rngRing.used(slot: 0, id: 0, wrap: true)
        var rng = QueueHealthTracker(queue: rngRing.queue("virtio-rng"))
        _ = rng.observe(try rngRing.ring(), at: 0)
        XCTAssertEqual(rng.observe(try rngRing.ring(), at: 1).health, .idle, "rng posts only when asked")
        var emptyRx = QueueHealthTracker(queue: rngRing.queue("virtio-net"))
        _ = emptyRx.observe(try rngRing.ring(), at: 0)
        XCTAssertEqual(emptyRx.observe(try rngRing.ring(), at: 1).health, .starved)
    }

    // MARK: memory across runs

    func testMemoryContinuesAWatchAcrossTrackers() throws {
        var r = TestSplitRing()
        r.request(head: 3)
        r.makeAvailable([3], from: 7)
        r.setUsedIndex(7)
        var first = QueueHealthTracker(queue: r.queue("virtio-blk"), threshold: 1)
        _ = first.observe(try r.ring(), at: 50)
        _ = first.observe(try r.ring(), at: 51.5)
        let json = first.memory.json
        let restored = try XCTUnwrap(QueueHealthTracker.Memory(json: try JSON.parse(json.text)))
        XCTAssertEqual(restored, first.memory)
        var second = QueueHealthTracker(queue: r.queue("virtio-blk"), threshold: 1, memory: restored)
        let d = second.observe(try r.ring(), at: 60)
        XCTAssertEqual(d.health, .stalled)
        XCTAssertEqual(d.oldest?.age, 10, "the age continues from the first run")
        XCTAssertEqual(d.usedUnmovedFor, 10)
        XCTAssertNil(QueueHealthTracker.Memory(json: .object([("first", .string("x"))])))
    }
}
