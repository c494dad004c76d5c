import Foundation
import VQCore
import XCTest

/// The inspector end to end on the basic bench guest: the real binary in tmux against a real QEMU.
extension BasicGuestTests {
    func testInspectorShowsTheGuestsQueuesMovingAndStepsWithQMP() throws {
        let guest = try guest
        let session = try TmuxSession(["--pid", String(guest.pid), "--qmp", guest.toolSocket], width: 120, height: 40)
        let first = try session.wait(for: "the bench's queues", timeout: 60) { screen in
            ["virtio-blk:0", "virtio-net:0", "virtio-net:1", "virtio-rng:0"].allSatisfy { DemoInspectorTests.queueRow(screen, $0) != nil }
                && screen.contains("LIVE")
        }
        XCTAssertTrue(first.contains("pid \(guest.pid)"), first)
        XCTAssertTrue(first.contains("qmp"), "slot source missing:\n\(first)")
        // The guest pings and reads its disk steadily: some index moves.
        let before = ["virtio-blk:0", "virtio-net:0", "virtio-net:1", "virtio-rng:0"].compactMap { DemoInspectorTests.queueRow(first, $0)?[3...4] }
        try session.wait(for: "an index moving", timeout: 60) { screen in
            ["virtio-blk:0", "virtio-net:0", "virtio-net:1", "virtio-rng:0"].compactMap { DemoInspectorTests.queueRow(screen, $0)?[3...4] } != before
        }
        // The indexes shown are the ring's: compare on a paused guest with an independent read.
        try guest.paused {
            let devices = try QMPVirtioSource.devices(client: guest.harness)
            let blk = try XCTUnwrap(devices.first { $0.name == "virtio-blk" }?.queues.first)
            let avail = try independentU16(guest, blk.location.driverArea.rawValue + 2)
            let used = try independentU16(guest, blk.location.deviceArea.rawValue + 2)
            try session.wait(for: "virtio-blk:0 at avail \(avail) used \(used)", timeout: 30) { screen in
                DemoInspectorTests.queueRow(screen, "virtio-blk:0").map { $0[3] == String(avail) && $0[4] == String(used) } ?? false
            }
        }
        // Step on virtio-net:1 (transmit; the guest pings once a second): the VM ends up paused.
        for _ in 0..<16 where !(try session.screen().contains("┌ virtio-net:1")) {
            try session.send("]")
            Thread.sleep(forTimeInterval: 0.3)
        }
        try session.wait(for: "virtio-net:1 selected") { $0.contains("┌ virtio-net:1") }
        try session.send("s")
        try session.wait(for: "VM PAUSED", timeout: 60)
        let status = try guest.harness.execute("query-status")
        XCTAssertEqual(status["status"]?.string, "paused", "\(status)")
        try session.send("c")
        try session.wait(for: "LIVE after c", timeout: 30) { $0.contains("LIVE") && !$0.contains("VM PAUSED") }
        XCTAssertEqual(try guest.harness.execute("query-status")["status"]?.string, "running")
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }
}
