import VQCore
import XCTest

final class NotificationStateTests: XCTestCase {
    // MARK: split rings, flags

    func testSplitFlags() throws {
        var r = TestSplitRing(eventIndex: false)
        r.request(head: 0)
        r.makeAvailable([0], from: 0)
        var n = NotificationState(split: try r.snapshot())
        XCTAssertEqual(n.kick.firing, .next)
        XCTAssertEqual(n.kick.mechanism, .flags)
        XCTAssertEqual(n.interrupt.firing, .next)
        XCTAssertEqual(n.inFlight, 1)
        XCTAssertFalse(n.neitherSideWakes)

        r.flags(avail: 0, used: 1)  // NO_NOTIFY
        n = NotificationState(split: try r.snapshot())
        XCTAssertEqual(n.kick.firing, .never)
        XCTAssertEqual(n.kick.reason, "the device set NO_NOTIFY: the driver does not kick it")
        XCTAssertEqual(n.interrupt.firing, .next)
        XCTAssertFalse(n.neitherSideWakes, "the device will still interrupt when it is done")

        r.flags(avail: 1, used: 0)  // NO_INTERRUPT
        n = NotificationState(split: try r.snapshot())
        XCTAssertEqual(n.kick.firing, .next)
        XCTAssertEqual(n.interrupt.firing, .never)
        XCTAssertEqual(n.interrupt.reason, "the driver set NO_INTERRUPT: the device does not interrupt it")
        XCTAssertFalse(n.neitherSideWakes, "the driver's next kick wakes the device")

        r.flags(avail: 1, used: 1)
        n = NotificationState(split: try r.snapshot())
        XCTAssertTrue(n.neitherSideWakes)
        XCTAssertEqual(n.summary, "kick suppressed, interrupt suppressed")

        // Nothing in flight: nobody needs waking.
        r.use([0], from: 0)
        XCTAssertFalse(NotificationState(split: try r.snapshot()).neitherSideWakes)
    }

    // MARK: split rings, event indexes

    func testSplitEventIndexBothWays() throws {
        var r = TestSplitRing()
        r.request(head: 0)
        r.request(head: 3)
        r.makeAvailable([0, 3], from: 1000)
        r.setUsedIndex(1000)
        r.flags(avail: 1, used: 1)  // ignored with VIRTIO_F_EVENT_IDX

        // At the index: the next one fires.
        r.events(usedEvent: 1000, availEvent: 1002)
        var n = NotificationState(split: try r.snapshot())
        XCTAssertEqual(n.kick, .init(firing: .next, mechanism: .eventIndex, reason: "avail_event 1002 = avail idx 1002: the next buffer kicks the device"))
        XCTAssertEqual(n.interrupt, .init(firing: .next, mechanism: .eventIndex, reason: "used_event 1000 = used idx 1000: the next buffer used interrupts the driver"))
        XCTAssertEqual(n.summary, "next kick fires, next interrupt fires")

        // Ahead: after d + 1 (Linux's delayed callbacks ask for an interrupt after 3/4 of what is pending).
        r.events(usedEvent: 1001, availEvent: 1004)
        n = NotificationState(split: try r.snapshot())
        XCTAssertEqual(n.kick.firing, .after(3))
        XCTAssertEqual(n.kick.after, 3)
        XCTAssertEqual(n.kick.reason, "avail_event 1004 is 2 past avail idx 1002: 3 more buffers before one kicks the device")
        XCTAssertEqual(n.interrupt.firing, .after(2))
        XCTAssertFalse(n.neitherSideWakes, "2 in flight: the second used one interrupts")

        // The interrupt needs more completions than there are chains in flight, and no kick comes.
        r.events(usedEvent: 1005, availEvent: 1001)
        n = NotificationState(split: try r.snapshot())
        XCTAssertEqual(n.kick.firing, .never)
        XCTAssertEqual(n.kick.reason, "avail_event 1001 is 1 behind avail idx 1002: no buffer kicks the device until it moves")
        XCTAssertEqual(n.interrupt.firing, .after(6))
        XCTAssertTrue(n.neitherSideWakes)

        // Behind: Linux turns callbacks off by writing used_event 0.
        r.events(usedEvent: 0, availEvent: 1002)
        n = NotificationState(split: try r.snapshot())
        XCTAssertEqual(n.interrupt.firing, .never)
        XCTAssertNil(n.interrupt.after)
        XCTAssertEqual(n.interrupt.reason, "used_event 0 is 1000 behind used idx 1000: no buffer used interrupts the driver until it moves")
        XCTAssertEqual(n.kick.firing, .next)
        XCTAssertFalse(n.neitherSideWakes)

        // Across the 16-bit wrap: 65535 is one behind 0, 0 one past 65535.
        var w = TestSplitRing()
        w.setAvailIndex(0)
        w.setUsedIndex(65535)
        w.events(usedEvent: 0, availEvent: 65535)
        n = NotificationState(split: try w.snapshot())
        XCTAssertEqual(n.interrupt.firing, .after(2))
        XCTAssertEqual(n.kick.firing, .never)
    }

    // MARK: packed rings

    func testPackedEventSuppressionModes() throws {
        var p = TestPackedRing()
        p.used(slot: 0, id: 0, wrap: true)
        p.available(slot: 1, id: 1, wrap: true, writable: false)
        p.available(slot: 2, id: 2, wrap: true, writable: false)
        // driver at 3 (wrap 1), device used position 1 (wrap 1), 2 slots in flight

        p.deviceEvent(offset: 0, wrap: false, mode: 0)
        p.driverEvent(offset: 0, wrap: false, mode: 0)
        var n = NotificationState(packed: try p.snapshot())
        XCTAssertEqual(n.kick, .init(firing: .next, mechanism: .eventSuppression, reason: "the device's event suppression enabled: every buffer kicks the device"))
        XCTAssertEqual(n.interrupt.firing, .next)
        XCTAssertEqual(n.inFlight, 2)

        p.deviceEvent(offset: 0, wrap: false, mode: 1)
        p.driverEvent(offset: 0, wrap: false, mode: 1)
        n = NotificationState(packed: try p.snapshot())
        XCTAssertEqual(n.kick.firing, .never)
        XCTAssertEqual(n.interrupt.reason, "the driver's event suppression disabled: no buffer used interrupts the driver")
        XCTAssertTrue(n.neitherSideWakes)

        // Descriptor mode: at the position, ahead in this lap, in the next lap, behind.
        p.deviceEvent(offset: 3, wrap: true, mode: 2)
        p.driverEvent(offset: 1, wrap: true, mode: 2)
        n = NotificationState(packed: try p.snapshot())
        XCTAssertEqual(n.kick.firing, .next)
        XCTAssertEqual(n.kick.reason, "the device's event suppression at 3 (wrap 1) = the driver's position: the next buffer kicks the device")
        XCTAssertEqual(n.interrupt.firing, .next)

        p.deviceEvent(offset: 5, wrap: true, mode: 2)
        p.driverEvent(offset: 2, wrap: true, mode: 2)
        n = NotificationState(packed: try p.snapshot())
        XCTAssertEqual(n.kick.firing, .after(3))
        XCTAssertEqual(n.interrupt.firing, .after(2))
        XCTAssertFalse(n.neitherSideWakes, "the second slot used interrupts")

        p.deviceEvent(offset: 1, wrap: false, mode: 2)  // next lap: 8 - 3 + 1 = 6 slots on
        p.driverEvent(offset: 0, wrap: true, mode: 2)    // behind the used position 1 (wrap 1)
        n = NotificationState(packed: try p.snapshot())
        XCTAssertEqual(n.kick.firing, .after(7))
        XCTAssertEqual(n.kick.reason, "the device's event suppression at 1 (wrap 0) is 6 slots past the driver's position 3 (wrap 1): 7 more slots before one kicks the device")
        XCTAssertEqual(n.interrupt.firing, .never)
        XCTAssertEqual(n.interrupt.reason, "the driver's event suppression at 0 (wrap 1) is behind the device's used position 1 (wrap 1): no buffer used interrupts the driver until it moves")
        XCTAssertTrue(n.neitherSideWakes)

        p.deviceEvent(offset: 0, wrap: false, mode: 3)
        XCTAssertEqual(NotificationState(packed: try p.snapshot()).kick.firing, .next, "reserved: taken as enabled")
    }

    func testPackedDescriptorModeWithoutEventIndexIsNoted() throws {
        var p = TestPackedRing()
        p.deviceEvent(offset: 0, wrap: true, mode: 2)
        var s = try p.snapshot()
        s.location.features.remove(.eventIndex)
        let n = NotificationState(packed: s)
        XCTAssertEqual(n.kick.firing, .next)
        XCTAssertTrue(n.kick.reason.hasSuffix("(descriptor mode without VIRTIO_F_EVENT_IDX)"), n.kick.reason)
    }

    func testEitherLayoutThroughRingSnapshot() throws {
        var r = TestSplitRing(eventIndex: false)
        r.flags(avail: 1, used: 0)
        XCTAssertEqual(NotificationState(try r.ring()).interrupt.firing, .never)
        var p = TestPackedRing()
        p.driverEvent(offset: 0, wrap: false, mode: 1)
        XCTAssertEqual(NotificationState(try p.ring()).interrupt.firing, .never)
    }
}
