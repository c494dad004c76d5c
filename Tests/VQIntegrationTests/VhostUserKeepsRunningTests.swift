import Foundation
import VQCore
import XCTest

/// A guest whose disk is served over vhost-user by qemu-storage-daemon, read by every command and the
/// inspector without a pause: the disk keeps its read rate. QEMU's own queue query, sent last, stops
/// the back-end's ring, so the check can fail; the guest is this class's own, since QEMU does not
/// always hand the ring back to the back-end afterwards.
final class VhostUserKeepsRunningTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .vhostUser }
    override class var tag: String? { "vhost-user-running" }

    /// The slowest a running disk may read after a command, as a share of the rate before it: far
    /// below the rate (a loaded 2-core machine moves it by a third), far above a stopped ring (0).
    static let keptShare = 0.4

    var backendPID: Int32 {
        get throws { try XCTUnwrap(try guest.backend?.processIdentifier) }
    }

    /// Every command and the inspector, with default options (QMP found on the command line), while
    /// the guest reads its disk: the read rate in the 10 s after each stays near the rate before.
    /// Then QEMU's own x-query-virtio-queue-status, sent by the harness, stops the disk: the check
    /// can fail. The guest is this class's alone, so nothing after it needs the disk back.
    func testNoCommandStopsTheDiskWhereQEMUsOwnQueueQueryDoes() throws {
        let guest = try guest
        let pid = String(guest.pid)
        let capture = guest.directory.appendingPathComponent("blk.jsonl").path
        try guest.waitForVhostUser()
        let before = try guest.ioRate(over: 5)
        XCTAssertGreaterThan(before, 3, "the guest reads its disk steadily")
        let commands: [[String]] = [
            ["queues", "--pid", pid],
            ["dump", "--pid", pid, "--queue", "virtio-blk:0"],
            ["diagnose", "--pid", pid, "--seconds", "1"],
            ["watch", "--pid", pid, "--queue", "virtio-blk:0", "--count", "20"],
            ["capture", "--pid", pid, "--device", "virtio-blk", "-w", capture, "--seconds", "2"],
            ["queues", "--pid", String(try backendPID)],
        ]
        for command in commands {
            let r = try Tool.run(command)
            XCTAssertEqual(r.status, 0, "\(command.joined(separator: " ")): \(r.stderr)")
            let after = try guest.ioRate(over: 10)
            print("vhost-user disk after `vqscope \(command[0])`: \(Int(after)) reads/s, \(String(format: "%.2f", after / before))x the \(Int(before))/s before")
            XCTAssertGreaterThan(after, before * Self.keptShare, "after `vqscope \(command.joined(separator: " "))` the disk read \(after)/s, before \(before)/s")
        }
        do {
            let session = try TmuxSession(["--pid", pid], width: 120, height: 40)
            let screen = try session.wait(for: "the vhost-user disk in the queue list", timeout: 60) { screen in
                screen.contains("LIVE") && (DemoInspectorTests.queueRow(screen, "virtio-blk:0")?.contains("vhost-user") ?? false)
            }
            XCTAssertTrue(screen.contains("vhost-user"), screen)
            Thread.sleep(forTimeInterval: 3)
            try session.send("q")
            XCTAssertEqual(try session.waitForExit(), 0)
            let after = try guest.ioRate(over: 10)
            XCTAssertGreaterThan(after, before * Self.keptShare, "after the inspector the disk read \(after)/s, before \(before)/s")
        }

        // What vqscope never sends: QEMU then asks the back-end for the ring's base, and the ring stops.
        let blk = try XCTUnwrap(try QMPVirtioSource.devices(client: guest.harness).first { $0.backend == .vhostUser })
        _ = try guest.harness.execute("x-query-virtio-queue-status", arguments: .object([("path", .string(blk.path)), ("queue", .int(0))]))
        Thread.sleep(forTimeInterval: 2)
        let stalled = try guest.ioRate(over: 5)
        print("vhost-user disk after QEMU's own x-query-virtio-queue-status: \(Int(stalled)) reads/s, \(String(format: "%.2f", stalled / before))x")
        XCTAssertLessThan(stalled, before * 0.1, "QEMU's own query stops the vhost-user ring (so the checks above can fail)")
    }
}
