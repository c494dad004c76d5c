import VQCore
@testable import VQTUI
import XCTest

/// Queue health on the queue list, the view's bottom edge and the event log. The fake blk queue has
/// two requests in flight (heads 0 and 3) and its used index never moves unless a test moves it;
/// the fake net queue (rx) has two writable buffers posted.
final class HealthTests: InspectorTestCase {
    func line(of label: String, _ grid: ScreenGrid) -> String {
        row(containing: label, in: grid).map { grid.line($0) } ?? ""
    }

    /// Runs frames of 0.1 s until inspector time `t`.
    @discardableResult
    func frames(until t: Double) -> ScreenGrid {
        var grid = frame()
        while inspector.seconds(now) < t - 1e-9 { grid = frame() }
        return grid
    }

    func testAStuckRequestBecomesStallAfterTheThresholdAndRecovers() {
        var grid = frame()
        XCTAssertTrue(line(of: "virtio-blk:0", grid).contains("busy?"), line(of: "virtio-blk:0", grid))
        XCTAssertEqual(style(of: "busy?:", in: grid)?.role, .dim, "provisional, in the view's bottom edge")
        grid = frames(until: 0.8)
        XCTAssertFalse(line(of: "virtio-blk:0", grid).contains("STALL"), "not before the threshold")
        grid = frames(until: 1.2)
        XCTAssertTrue(line(of: "virtio-blk:0", grid).contains("STALL"), line(of: "virtio-blk:0", grid))
        XCTAssertEqual(style(of: "STALL:", in: grid)?.role, .error)
        // The reason, in the view's bottom edge.
        assertShows("STALL: 2 requests in flight, the oldest (head 0) for 1.", in: grid)

        // The device completes both.
        source.setUsedEntry(1, id: 0, length: 513)
        source.setUsedEntry(2, id: 3, length: 4097)
        source.setIndexes(avail: 3, used: 3)
        grid = frames(until: 2.5)
        XCTAssertFalse(line(of: "virtio-blk:0", grid).contains("STALL"), line(of: "virtio-blk:0", grid))
        XCTAssertTrue(line(of: "virtio-blk:0", grid).contains("busy") || line(of: "virtio-blk:0", grid).contains("idle"))

        let entries = inspector.log.entries.filter { if case .health = $0.kind { return true } else { return false } }
        XCTAssertEqual(entries.count, 2)
        guard entries.count == 2, case .health(let start) = entries[0].kind, case .health(let end) = entries[1].kind else { return }
        XCTAssertEqual(entries[0].queue, 0)
        XCTAssertTrue(start.description.hasPrefix("2 requests, oldest head 0 for 1."), start.description)
        XCTAssertTrue(end.description.hasPrefix("recovered after "), end.description)
        // Stuck from the start until the completion at 1.3 s or so.
        if case .recovered(let after) = end { XCTAssertEqual(after, 1.3, accuracy: 0.15) }

        grid = open(.events)
        assertShows("stall 2 requests, oldest head 0 for 1.", in: grid)
        assertShows("recovered after 1.", in: grid)
        XCTAssertEqual(style(of: "stall 2 requests", in: grid)?.role, .error)
    }

    func testAQueueInTheBackgroundStallsWithFewExtraReads() {
        press(.down)  // the net queue is selected: blk is only watched through its indexes
        frame()
        let before = source.snapshots
        var frames = 0
        var grid = frame()
        frames += 1
        while inspector.seconds(now) < 1.6 {
            grid = frame()
            frames += 1
        }
        XCTAssertTrue(line(of: "virtio-blk:0", grid).contains("STALL"), line(of: "virtio-blk:0", grid))
        // One snapshot a frame for the selected queue; blk only a few times (from half the threshold).
        let extra = source.snapshots - before - frames
        XCTAssertGreaterThan(extra, 0)
        XCTAssertLessThanOrEqual(extra, 5, "background snapshots")
        XCTAssertTrue(inspector.log.entries.contains { if case .health(.stalled) = $0.kind { $0.queue == 0 } else { false } })

        // Completed: the next frame that sees the index move reads it once more and logs the recovery.
        source.setUsedEntry(1, id: 0, length: 513)
        source.setUsedEntry(2, id: 3, length: 4097)
        source.setIndexes(avail: 3, used: 3)
        grid = frame()
        XCTAssertFalse(line(of: "virtio-blk:0", grid).contains("STALL"), line(of: "virtio-blk:0", grid))
        XCTAssertTrue(inspector.log.entries.contains { if case .health(.recovered) = $0.kind { $0.queue == 0 } else { false } })

        // Idle now: nothing pending, nothing more read for blk.
        let quiet = source.snapshots
        for _ in 0..<20 { frame() }
        XCTAssertEqual(source.snapshots - quiet, 20)
    }

    func testReceiveBuffersWaitAndNeverStall() {
        // In the background: read once, from half the threshold, then left alone while nothing moves.
        var grid = frames(until: 1.5)
        XCTAssertTrue(line(of: "virtio-net:0", grid).contains("wait"), line(of: "virtio-net:0", grid))
        press(.down)
        grid = frames(until: 4)
        XCTAssertTrue(line(of: "virtio-net:0", grid).contains("wait"), line(of: "virtio-net:0", grid))
        assertShows("wait: 2 buffers posted for the device to fill when data comes", in: grid)
        press(.up)  // a row not selected keeps its badge's color
        grid = frame()
        XCTAssertEqual(style(of: "wait", in: grid)?.role, .dim)
        XCTAssertFalse(inspector.log.entries.contains { if case .health = $0.kind { $0.queue == 1 } else { false } })
    }

    func testAnOlderQEMUHintNeverMakesAHealthyPackedRingBroken() {
        // QEMU's cached answer says the device is at slot 0, but the ring shows slot 0 used since.
        source.packedDeviceState = DeviceQueueState(lastAvailIndex: 0, shadowAvailIndex: 0, usedIndex: 0, inUse: 0)
        press(.down)
        var grid = frames(until: 3)
        XCTAssertFalse(line(of: "virtio-net:0", grid).contains("BROKEN"), line(of: "virtio-net:0", grid))
        XCTAssertTrue(line(of: "virtio-net:0", grid).contains("wait"), line(of: "virtio-net:0", grid))
        XCTAssertFalse(inspector.log.entries.contains { if case .health = $0.kind { $0.queue == 1 } else { false } })
        grid = open(.chains)
        assertShows("Chains 2 available", in: grid)
        assertShows("QEMU's older hint", in: grid)
        XCTAssertNil(row(containing: "slot 0 is used", in: grid))
    }

    func testHelpNamesTheHealthBadges() {
        press(.character("?"))
        let grid = frame(height: 60)
        assertShows("Health: idle · busy · wait", in: grid)
    }
}

/// Rings a RAM scan found are judged by the scan's guess, as `diagnose` and `watch` judge them.
final class ScannedRoleTests: XCTestCase {
    func testScannedRingsAreJudgedByTheScansGuess() {
        let location = VirtqueueLocation(layout: .split, size: 8, descriptors: GuestPhysicalAddress(0x1000),
                                         driverArea: GuestPhysicalAddress(0x1080), deviceArea: GuestPhysicalAddress(0x10c0))
        let queues = [
            Virtqueue(device: "virtio-net-rx", path: "", index: 0, location: location, origin: .scan),
            Virtqueue(device: "virtio-console", path: "", index: 3, location: location, origin: .scan),
            Virtqueue(device: "virtio-blk", path: "", index: 1, location: location, origin: .scan),
            Virtqueue(device: "virtio-console", path: "/machine/peripheral/vser0/virtio-backend", index: 3, location: location),
        ]
        let roles = Inspector.monitors(for: queues, at: 0).map(\.tracker.role)
        XCTAssertEqual(roles[0].flow, .receive, "a scanned net rx ring receives")
        XCTAssertEqual(roles[1], .unknown, "a scanned console ring's index is the scan's count, not its queue number")
        XCTAssertEqual(roles[2].flow, .requests)
        XCTAssertEqual(roles[3].name, "control tx", "a QMP queue is judged by its real index")
    }
}
