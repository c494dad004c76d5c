import VQCore
import XCTest

/// ``PackedRingFollower`` on hand-built packed rings: a spec-following driver and device
/// (``PackedRingSimulator``) write the ring; the follower's events are checked against what happened.
final class PackedRingFollowerTests: XCTestCase {
    private func location(_ n: Int) -> VirtqueueLocation {
        VirtqueueLocation(layout: .packed, size: UInt16(n), descriptors: GuestPhysicalAddress(0x8000), driverArea: GuestPhysicalAddress(0x7000),
                          deviceArea: GuestPhysicalAddress(0x7004), features: [.version1, .packedRing, .indirectDescriptors])
    }

    private func started(_ sim: PackedRingSimulator, hint: PackedRing.Hint? = nil) -> PackedRingFollower {
        var f = PackedRingFollower(queue: 0, size: UInt16(sim.n))
        XCTAssertTrue(f.start(sim.ring, location: location(sim.n), usedHint: hint))
        return f
    }

    private func avail(_ id: UInt16, _ slot: UInt16, _ wrap: Bool = true) -> RingEvent {
        RingEvent(queue: 0, kind: .available(head: id), index: slot, wrap: wrap)
    }

    private func used(_ id: UInt16, _ slot: UInt16, _ wrap: Bool = true, len: UInt32 = 64) -> RingEvent {
        RingEvent(queue: 0, kind: .used(id: UInt32(id), length: len), index: slot, wrap: wrap)
    }

    private func lapped(_ ring: RingProblem.Ring, _ missed: Int, _ slot: UInt16, _ wrap: Bool = true) -> RingEvent {
        RingEvent(queue: 0, kind: .lapped(ring: ring, missed: missed), index: slot, wrap: wrap)
    }

    // MARK: Hand-built scenarios

    func testAStillRingReportsNothing() {
        var sim = PackedRingSimulator(size: 8)
        var f = started(sim)
        XCTAssertEqual(f.advance(sim.ring), [])
        sim.post(id: 0)
        sim.post(id: 1, slots: 2)
        f = started(sim)
        for _ in 0..<5 { XCTAssertEqual(f.advance(sim.ring), [], "nothing moved: nothing to report") }
        XCTAssertEqual(f.driverPosition, PackedRing.Position(index: 3, wrap: true))
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 0, wrap: true))
        XCTAssertEqual(f.inFlightSlots, 3)
        XCTAssertEqual(f.outstandingIDs, [0, 1])
    }

    func testAvailableThenUsedOverSeveralPolls() {
        var sim = PackedRingSimulator(size: 8)
        var f = started(sim)
        sim.post(id: 0)
        sim.post(id: 1)
        XCTAssertEqual(f.advance(sim.ring), [avail(0, 0), avail(1, 1)])
        sim.complete(id: 0, length: 100)
        XCTAssertEqual(f.advance(sim.ring), [used(0, 0, len: 100)])
        sim.complete(id: 1, length: 7)
        XCTAssertEqual(f.advance(sim.ring), [used(1, 1, len: 7)])
        XCTAssertEqual(f.driverPosition, PackedRing.Position(index: 2, wrap: true))
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 2, wrap: true))
        XCTAssertEqual(f.outstandingIDs, [])
    }

    func testWrapAroundIntoTheNextLaps() {
        var sim = PackedRingSimulator(size: 8)
        var f = started(sim)
        var seen: [RingEvent] = []
        for i in 0..<40 {
            sim.post(id: UInt16(i % 3))
            seen += f.advance(sim.ring)
            sim.completeOldest(length: UInt32(i))
            seen += f.advance(sim.ring)
        }
        XCTAssertEqual(seen, sim.truth, "one change a poll: exactly what happened, in order")
        XCTAssertEqual(seen[16], avail(2, 0, false), "slot 0 again, in the second lap (wrap 0)")
        XCTAssertEqual(seen[33], used(1, 0, true, len: 16), "and in the third (wrap 1)")
        XCTAssertEqual(f.driverPosition, PackedRing.Position(index: 0, wrap: false), "40 slots: five laps")
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 0, wrap: false))
    }

    func testChainOfSeveralSlotsAcrossTheRingEnd() {
        var sim = PackedRingSimulator(size: 8)
        for _ in 0..<6 { sim.post(id: 0); sim.completeOldest() }
        var f = started(sim)
        sim.post(id: 5, slots: 3)  // slots 6, 7 (wrap 1) and 0 (wrap 0)
        XCTAssertEqual(f.advance(sim.ring), [avail(5, 6)])
        XCTAssertEqual(f.driverPosition, PackedRing.Position(index: 1, wrap: false))
        XCTAssertEqual(f.inFlightSlots, 3)
        sim.complete(id: 5, length: 4097)
        XCTAssertEqual(f.advance(sim.ring), [used(5, 6, len: 4097)])
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 1, wrap: false), "the device skipped the chain's three slots")
        sim.post(id: 5)
        sim.post(id: 6, slots: 2)
        XCTAssertEqual(f.advance(sim.ring), [avail(5, 1, false), avail(6, 2, false)])
        sim.complete(id: 6)
        sim.complete(id: 5)
        XCTAssertEqual(f.advance(sim.ring), [used(6, 1, false), used(5, 3, false)])
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 4, wrap: false))
    }

    func testIndirectDescriptorTakesOneSlot() {
        var sim = PackedRingSimulator(size: 4)
        var f = started(sim)
        sim.post(id: 3, indirect: true)
        sim.post(id: 1, indirect: true)
        XCTAssertEqual(f.advance(sim.ring), [avail(3, 0), avail(1, 1)])
        sim.completeOldest()
        sim.completeOldest()
        XCTAssertEqual(f.advance(sim.ring), [used(3, 0), used(1, 1)])
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 2, wrap: true))
    }

    func testOutOfOrderCompletionSkipsByEachBuffersSlots() {
        var sim = PackedRingSimulator(size: 8)
        var f = started(sim)
        sim.post(id: 0, slots: 2)  // slots 0-1
        sim.post(id: 1)            // slot 2
        sim.post(id: 2, slots: 3)  // slots 3-5
        XCTAssertEqual(f.advance(sim.ring), [avail(0, 0), avail(1, 2), avail(2, 3)])
        sim.complete(id: 2, length: 30)  // used at 0, device moves on 3
        XCTAssertEqual(f.advance(sim.ring), [used(2, 0, len: 30)])
        sim.complete(id: 0, length: 10)  // used at 3, moves on 2
        sim.complete(id: 1, length: 20)  // used at 5, moves on 1
        XCTAssertEqual(f.advance(sim.ring), [used(0, 3, len: 10), used(1, 5, len: 20)])
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 6, wrap: true))
        sim.post(id: 7)
        XCTAssertEqual(f.advance(sim.ring), [avail(7, 6)])
    }

    func testMadeAvailableAndUsedBetweenTwoPolls() {
        var sim = PackedRingSimulator(size: 8)
        var f = started(sim)
        // Posted and returned before the follower looked: reported when the used descriptor shows, in order.
        sim.post(id: 4)
        sim.complete(id: 4, length: 16)
        XCTAssertEqual(f.advance(sim.ring), [avail(4, 0), used(4, 0, len: 16)])
        // Returned and posted again with the same buffer (a driver reusing its buffer, like virtio-rng).
        sim.post(id: 4, address: 0xAB000)
        sim.complete(id: 4, length: 16)
        sim.post(id: 4, address: 0xAB000)
        XCTAssertEqual(f.advance(sim.ring), [avail(4, 1), used(4, 1, len: 16), avail(4, 2)])
        sim.complete(id: 4, length: 16)
        XCTAssertEqual(f.advance(sim.ring), [used(4, 2, len: 16)])
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 3, wrap: true))
    }

    func testReusedIDWithANewBufferKeepsEachUsedAfterItsAvailable() {
        var sim = PackedRingSimulator(size: 8)
        var f = started(sim)
        // The same ID reposted at once with another buffer: which of the two slots each event belongs
        // to cannot be told from the ring, but every used event follows an available one of its ID.
        sim.post(id: 2)
        sim.complete(id: 2)
        sim.post(id: 2)
        var events = f.advance(sim.ring)
        sim.complete(id: 2)
        events += f.advance(sim.ring)
        XCTAssertEqual(events.filter { if case .used = $0.kind { return true }; return false },
                       sim.truth.filter { if case .used = $0.kind { return true }; return false })
        XCTAssertEqual(events.map(\.kind), [.available(head: 2), .used(id: 2, length: 64), .available(head: 2), .used(id: 2, length: 64)])
        XCTAssertEqual(Set(events.filter { if case .available = $0.kind { return true }; return false }.map(\.index)), [0, 1])
    }

    func testOutOfOrderCompletionOfABufferNeverSeen() {
        var sim = PackedRingSimulator(size: 8)
        var f = started(sim)
        // A's slot is overwritten by B's used descriptor before the follower reads it; B stays visible.
        sim.post(id: 0)  // A at slot 0
        sim.post(id: 1)  // B at slot 1
        sim.complete(id: 1)
        XCTAssertEqual(f.advance(sim.ring), [avail(1, 1), used(1, 0)])
        sim.complete(id: 0)
        XCTAssertEqual(f.advance(sim.ring), [avail(0, 0), used(0, 1)], "A's available event, at its slot, once its ID shows")
    }

    func testLappingIsReportedAndNothingIsMadeUp() {
        var sim = PackedRingSimulator(size: 8)
        var f = started(sim)
        for _ in 0..<12 { sim.post(id: 3); sim.completeOldest() }
        let events = f.advance(sim.ring)
        XCTAssertEqual(Array(events.prefix(2)), [lapped(.avail, 4, 0), lapped(.used, 4, 0)])
        // The eight buffers whose slots could still be read, each available then used.
        var expected: [RingEvent] = []
        for k in 4..<12 { expected += [avail(3, UInt16(k % 8), k < 8), used(3, UInt16(k % 8), k < 8)] }
        XCTAssertEqual(Array(events.dropFirst(2)), expected)
        XCTAssertEqual(f.driverPosition, PackedRing.Position(index: 4, wrap: false))
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 4, wrap: false))
        // Following on normally after the lap.
        sim.post(id: 1)
        XCTAssertEqual(f.advance(sim.ring), [avail(1, 4, false)])
    }

    func testTheUsedSideLapsWhenTheDriverRewritesUnreadUsedSlots() {
        var sim = PackedRingSimulator(size: 4)
        for id in 0..<4 { sim.post(id: UInt16(id)) }
        var f = started(sim)  // all four in flight
        for _ in 0..<4 { sim.completeOldest() }
        sim.post(id: 0)
        sim.post(id: 1)  // slots 0 and 1 rewritten before their used descriptors were read
        let events = f.advance(sim.ring)
        XCTAssertEqual(events, [lapped(.used, 2, 0), used(2, 2), used(3, 3), avail(0, 0, false), avail(1, 1, false)])
    }

    func testTwoWholeLapsBetweenPollsCannotBeSeen() {
        // Documented limit: the AVAIL pattern repeats every two laps.
        var sim = PackedRingSimulator(size: 4)
        var f = started(sim)
        for _ in 0..<8 { sim.post(id: 0); sim.completeOldest() }
        XCTAssertEqual(f.advance(sim.ring), [])
    }

    func testStartingMidFlightKnowsTheBuffersInFlight() {
        var sim = PackedRingSimulator(size: 8)
        sim.post(id: 0)
        sim.completeOldest()
        sim.post(id: 4, slots: 3)
        sim.post(id: 5)
        var f = started(sim)
        XCTAssertEqual(f.outstandingIDs, [4, 5])
        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: 1, wrap: true))
        sim.complete(id: 4)
        sim.complete(id: 5)
        XCTAssertEqual(f.advance(sim.ring), [used(4, 1), used(5, 4)], "slot counts of chains in flight at the start are known")
    }

    func testAHintMovesTheStartPastChainsAlreadyUsed() {
        var sim = PackedRingSimulator(size: 8)
        sim.post(id: 0, slots: 3)
        sim.post(id: 1)
        sim.complete(id: 0)  // used at 0; the device is at 3, the ring alone says 1
        let plain = started(sim)
        XCTAssertEqual(plain.deviceUsedPosition, PackedRing.Position(index: 1, wrap: true))
        var hinted = started(sim, hint: PackedRing.Hint(index: 3))
        XCTAssertEqual(hinted.deviceUsedPosition, PackedRing.Position(index: 3, wrap: true))
        XCTAssertEqual(hinted.outstandingIDs, [1])
        // A stale hint (behind the ring) is not taken.
        XCTAssertEqual(started(sim, hint: PackedRing.Hint(index: 0)).deviceUsedPosition, PackedRing.Position(index: 1, wrap: true))
        sim.complete(id: 1)
        XCTAssertEqual(hinted.advance(sim.ring), [used(1, 3)])
        var unhinted = plain
        XCTAssertEqual(unhinted.advance(sim.ring), [used(1, 3)], "the ring's lower bound catches up by itself")
    }

    func testATornFirstReadIsNotTakenAsAStart() {
        var sim = PackedRingSimulator(size: 8)
        sim.post(id: 0)
        var ring = sim.ring
        ring[5] = Descriptor(address: GuestPhysicalAddress(0x1000), length: 1, flags: [.avail], id: 9)  // AVAIL changes twice
        var f = PackedRingFollower(queue: 0, size: 8)
        XCTAssertFalse(f.start(ring, location: location(8)))
        XCTAssertFalse(f.isStarted)
        XCTAssertNil(f.driverPosition)
        XCTAssertEqual(f.advance(sim.ring), [])
        XCTAssertTrue(f.start(sim.ring, location: location(8)))
        XCTAssertFalse(f.start([], location: location(8)), "the wrong number of descriptors")
    }

    func testATornLaterReadIsFollowedOnlyAsFarAsItHoldsTogether() {
        var sim = PackedRingSimulator(size: 8)
        var f = started(sim)
        sim.post(id: 0)
        sim.post(id: 1)
        var torn = sim.ring
        torn[6] = Descriptor(address: GuestPhysicalAddress(0x1000), length: 1, flags: [.avail], id: 9)
        XCTAssertEqual(f.advance(torn), [avail(0, 0), avail(1, 1)])
        XCTAssertEqual(f.advance(sim.ring), [])
    }

    // MARK: Against a model

    /// Random traffic (chains of 1-3 slots or indirect, in-order or out-of-order completion, polls at
    /// random moments, never a lap): the used events are exactly what the device did, every used
    /// event follows an available event of its buffer ID, and the driver's position is exact.
    func testRandomTrafficAgainstTheModel() {
        for seed: UInt64 in 1...100 {
            var random = TestRandom(seed: seed)
            let n = [1, 2, 4, 8, 16, 64, 256][random.below(7)]
            let inOrder = random.chance(50)
            let multiSlot = random.chance(50)
            var sim = PackedRingSimulator(size: n)
            var f = started(sim)
            var events: [RingEvent] = []
            var mark = 0           // truth events reported up to here
            var lastPollDriver = 0
            for _ in 0..<500 {
                let followerUsed = lastPollDriver - (f.inFlightSlots ?? 0)
                if random.chance(30) {
                    let got = f.advance(sim.ring)
                    let truth = Array(sim.truth[mark...])
                    mark = sim.truth.count
                    lastPollDriver = sim.driver
                    events += got
                    XCTAssertEqual(got.filter(isUsed), truth.filter(isUsed), "seed \(seed): used events")
                    XCTAssertFalse(got.contains { if case .lapped = $0.kind { return true }; return false }, "seed \(seed)")
                    XCTAssertEqual(f.driverPosition, PackedRing.Position(index: UInt16(sim.slot(sim.driver)), wrap: sim.wrap(sim.driver)))
                    if !multiSlot && inOrder {
                        XCTAssertEqual(got.count, truth.count, "seed \(seed): one slot a buffer, in order: every event")
                    }
                    if !multiSlot {
                        XCTAssertEqual(f.deviceUsedPosition, PackedRing.Position(index: UInt16(sim.slot(sim.used)), wrap: sim.wrap(sim.used)))
                    }
                } else if random.chance(55), let id = sim.freeIDs.randomElement(using: &random) {
                    let slots = multiSlot ? 1 + random.below(3) : 1
                    // Never more than a ring ahead of what the follower read as used: no lap.
                    if slots <= sim.freeSlots && sim.driver + slots - followerUsed <= n {
                        // In order, each ID keeps its buffer (as virtio-rng does); out of order, some do.
                        let sameBuffer = inOrder || random.chance(30)
                        sim.post(id: id, slots: slots, indirect: !multiSlot && random.chance(50),
                                 address: sameBuffer ? 0xAB000 + UInt64(id) << 12 : nil)
                    }
                } else if !sim.inFlight.isEmpty {
                    let pick = inOrder ? 0 : random.below(sim.inFlight.count)
                    sim.complete(id: sim.inFlight[pick].id, length: UInt32(random.below(5000)))
                }
            }
            // Every used event follows an available event of the same ID since that ID's previous used event.
            var open: [UInt16: Int] = [:]
            for e in events {
                switch e.kind {
                case .available(let id): open[id, default: 0] += 1
                case .used(let id, _):
                    let key = UInt16(id)
                    XCTAssertGreaterThan(open[key, default: 0], 0, "seed \(seed): used \(id) at \(e.index) before any available")
                    open[key, default: 0] -= 1
                case .lapped: break
                }
            }
        }
    }

    private func isUsed(_ e: RingEvent) -> Bool {
        if case .used = e.kind { return true }
        return false
    }
}

extension Array {
    func randomElement(using random: inout TestRandom) -> Element? {
        isEmpty ? nil : self[random.below(count)]
    }
}
