import Foundation
import VQCore
import XCTest

/// vqscope when its target misbehaves: the guest resets under the inspector (this class's guest),
/// and QEMU is killed under `watch`, a loop of `dump`s and the inspector all at once (a guest of its
/// own, booted for that test, so that the kill hurts no other test).
final class FaultTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .basic }

    /// vqscope started in the background, its output in files, bounded by the test.
    final class Background {
        let process = Process()
        let directory: URL
        let arguments: [String]

        init(_ arguments: [String]) throws {
            self.arguments = arguments
            directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vqscope-bg-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for name in ["out", "err"] { FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: nil) }
            process.executableURL = Tool.executable
            process.arguments = arguments
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = try FileHandle(forWritingTo: directory.appendingPathComponent("out"))
            process.standardError = try FileHandle(forWritingTo: directory.appendingPathComponent("err"))
            try process.run()
        }

        deinit {
            if process.isRunning { process.terminate(); process.waitUntilExit() }
            try? FileManager.default.removeItem(at: directory)
        }

        var stdout: String { (try? String(contentsOf: directory.appendingPathComponent("out"), encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOf: directory.appendingPathComponent("err"), encoding: .utf8)) ?? "" }

        /// Waits for it to exit; fails (and stops it) after `timeout`.
        func waitForExit(timeout: TimeInterval) throws {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning {
                if Date() > deadline {
                    process.terminate()
                    throw BenchError("vqscope \(arguments.joined(separator: " ")) did not end \(Int(timeout)) s after its target died; stderr: \(stderr)")
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            process.waitUntilExit()
        }
    }

    /// vqscope run again and again on its own thread: until a few runs after ``markKilled()``, or
    /// ``finish(timeout:)``.
    final class DumpLoop: @unchecked Sendable {
        private let lock = NSLock()
        private var _runs: [(result: Tool.Result, afterKill: Bool)] = []
        private var _errors: [String] = []
        private var killed = false, stop = false, finished = false
        private let done = DispatchSemaphore(value: 0)
        static let runsAfterKill = 8

        init(_ arguments: [String]) {
            Thread.detachNewThread { [self] in
                defer { done.signal() }
                var after = 0
                while !lock.withLock({ stop }) && after < Self.runsAfterKill {
                    let wasKilled = lock.withLock { killed }
                    do {
                        let r = try Tool.run(arguments, timeout: 120)
                        lock.withLock { _runs.append((r, wasKilled)) }
                    } catch {
                        lock.withLock { _errors.append("\(error)") }
                    }
                    if wasKilled { after += 1 }
                }
            }
        }

        var runs: [(result: Tool.Result, afterKill: Bool)] { lock.withLock { _runs } }
        var errors: [String] { lock.withLock { _errors } }
        func markKilled() { lock.withLock { killed = true } }

        /// Waits for the loop to end (asking it to stop when not killed yet); whether it did in time.
        @discardableResult
        func finish(timeout: TimeInterval = 600) -> Bool {
            let wasFinished = lock.withLock {
                if !killed { stop = true }
                return finished
            }
            if wasFinished { return true }
            guard done.wait(timeout: .now() + timeout) == .success else { return false }
            lock.withLock { finished = true }
            return true
        }
    }

    /// How many times the guest printed its ready line.
    static func readyCount(_ guest: BenchGuest) -> Int {
        let text = (try? String(contentsOfFile: guest.directory.appendingPathComponent("serial.log").path, encoding: .isoLatin1)) ?? ""
        return text.components(separatedBy: "VQSCOPE-READY").count - 1
    }

    static let benchQueues = ["virtio-blk:0", "virtio-net:0", "virtio-net:1", "virtio-rng:0"]

    /// A one-line `vqscope: ...` message, as every failure must be (beside the line that says
    /// where events come from, which watch, diagnose and capture always print first).
    static func isOneLine(_ stderr: String) -> Bool {
        let stderr = withoutEventsLine(stderr)
        return stderr.hasPrefix("vqscope: ") && stderr.hasSuffix("\n") && stderr.dropLast().firstIndex(of: "\n") == nil
    }

    /// `stderr` without the `vqscope: events: ...` line of the event mode (docs/events.md).
    static func withoutEventsLine(_ stderr: String) -> String {
        stderr.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("vqscope: events: ") }.joined(separator: "\n")
    }

    func testGuestResetUnderTheInspector() throws {
        let guest = try guest
        XCTAssertEqual(Self.readyCount(guest), 1)
        let session = try TmuxSession(["--pid", String(guest.pid), "--qmp", guest.toolSocket], width: 120, height: 40)
        try session.wait(for: "the bench's queues", timeout: 60) { screen in
            Self.benchQueues.allSatisfy { DemoInspectorTests.queueRow(screen, $0) != nil } && screen.contains("LIVE")
        }
        let vqscope = try session.vqscopePID()

        try guest.harness.execute("system_reset")
        // The old rings are gone once the devices reset: looking again (r) finds none, until the
        // rebooting guest's drivers set them up again. (SeaBIOS sets up a virtio-blk ring of its own
        // early in the reboot, which stays until Linux resets the device; virtio-net and virtio-rng
        // have no firmware driver, so they are gone for the seconds Linux takes to boot.) The
        // inspector meanwhile polls the old ring addresses, whatever the rebooting guest writes there.
        let gone = ["virtio-net:0", "virtio-net:1", "virtio-rng:0"]
        let empty = try session.wait(for: "no virtio-net or virtio-rng queues after the reset", timeout: 60) { screen in
            if gone.allSatisfy({ DemoInspectorTests.queueRow(screen, $0) == nil }) { return true }
            try? session.send("r")
            Thread.sleep(forTimeInterval: 0.5)
            return false
        }
        XCTAssertTrue(["no active virtqueues", "found 0 queues", "found 1 queue"].contains { empty.contains($0) }, empty)
        XCTAssertNil(try session.exitStatus(), "the inspector exited after the reset:\n\(empty)")

        // The guest boots again and prints its ready line a second time.
        let deadline = Date().addingTimeInterval(BenchGuest.bootTimeout)
        while Self.readyCount(guest) < 2 {
            guard Date() < deadline else { throw BenchError("the guest did not become ready again after system_reset") }
            XCTAssertNil(try session.exitStatus(), "the inspector exited during the reboot:\n\((try? session.screen()) ?? "")")
            Thread.sleep(forTimeInterval: 0.5)
        }
        var pressed = 0
        let back = try session.wait(for: "the queues again", timeout: 60) { screen in
            if Self.benchQueues.allSatisfy({ DemoInspectorTests.queueRow(screen, $0) != nil }) && screen.contains("LIVE") { return true }
            if pressed < 20 { try? session.send("r"); pressed += 1 }
            Thread.sleep(forTimeInterval: 1)
            return false
        }
        // And they move again.
        let before = Self.benchQueues.compactMap { DemoInspectorTests.queueRow(back, $0)?[3...4] }
        try session.wait(for: "an index moving after the reset", timeout: 60) { screen in
            Self.benchQueues.compactMap { DemoInspectorTests.queueRow(screen, $0)?[3...4] } != before
        }
        XCTAssertEqual(try session.vqscopePID(), vqscope, "the inspector is not the same process")
        XCTAssertEqual(try guest.harness.execute("query-status")["status"]?.string, "running")
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(timeout: 30), 0)
    }

    func testQEMUKilledUnderWatchDumpAndTheInspector() throws {
        if let reason = Self.unavailableReason { throw XCTSkip(reason) }
        // Each client gets its own QMP socket (a socket serves one client at a time).
        let sockets = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vqscope-fault-\(getpid())")
        try? FileManager.default.removeItem(at: sockets)
        try FileManager.default.createDirectory(at: sockets, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: sockets) }
        let watchSocket = sockets.appendingPathComponent("watch.sock").path
        let inspectorSocket = sockets.appendingPathComponent("inspector.sock").path
        let extra = [watchSocket, inspectorSocket].map { "-qmp unix:\($0),server=on,wait=off" }
        let dying = try BenchGuest(.basic, extra: extra, tag: "dying")
        defer { dying.shutdown() }
        let pid = dying.pid, p = String(pid)

        let watch = try Background(["watch", "--pid", p, "--qmp", watchSocket])
        let session = try TmuxSession(["--pid", p, "--qmp", inspectorSocket], width: 120, height: 40)

        let loop = DumpLoop(["dump", "--pid", p, "--qmp", dying.toolSocket, "--queue", "virtio-blk:0"])
        defer { loop.finish() }

        // Everything is running and reading the live guest.
        try session.wait(for: "the bench's queues", timeout: 60) { screen in
            Self.benchQueues.allSatisfy { DemoInspectorTests.queueRow(screen, $0) != nil } && screen.contains("LIVE")
        }
        let deadline = Date().addingTimeInterval(120)
        while loop.runs.filter({ $0.result.status == 0 }).count < 3 || watch.stdout.split(separator: "\n").count < 3 {
            guard Date() < deadline else {
                throw BenchError("before the kill: dumps \(loop.runs.map(\.result.status)), watch printed: \(watch.stdout.prefix(500)) \(watch.stderr)")
            }
            XCTAssertTrue(watch.process.isRunning, "watch ended early: \(watch.stderr)")
            Thread.sleep(forTimeInterval: 0.2)
        }

        loop.markKilled()
        kill(pid, SIGKILL)
        dying.process.waitUntilExit()
        XCTAssertEqual(dying.process.terminationReason, .uncaughtSignal)

        // watch: ends by itself with one line saying the process is gone, a failure status, no signal.
        try watch.waitForExit(timeout: 30)
        XCTAssertEqual(watch.process.terminationReason, .exit, "watch was killed by signal \(watch.process.terminationStatus): \(watch.stderr)")
        XCTAssertNotEqual(watch.process.terminationStatus, 0, watch.stderr)
        XCTAssertTrue(Self.isOneLine(watch.stderr), "watch's stderr: \(watch.stderr)")
        XCTAssertTrue(watch.stderr.contains("process \(pid) has exited") || watch.stderr.contains("no process with PID \(pid)"), watch.stderr)

        // the inspector: says the target exited, stays until q, exits 0.
        let screen = try session.wait(for: "TARGET EXITED", timeout: 30)
        XCTAssertTrue(screen.contains("the target exited"), screen)
        XCTAssertNil(try session.exitStatus(), "the inspector exited by itself:\n\(screen)")
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(timeout: 30), 0)

        // dump: every run either succeeded or failed with one line; none crashed; those after the
        // kill say the process is gone.
        XCTAssertTrue(loop.finish(timeout: 300), "the dump loop did not finish")
        let all = loop.runs
        XCTAssertEqual(loop.errors, [], "dump runs that hung")
        XCTAssertGreaterThanOrEqual(all.filter(\.afterKill).count, DumpLoop.runsAfterKill)
        for (k, run) in all.enumerated() {
            let r = run.result
            XCTAssertFalse(r.signaled, "dump run \(k) was killed by signal \(r.status): \(r.stderr)")
            if r.status == 0 {
                XCTAssertFalse(run.afterKill && k > 0 && all[k - 1].afterKill, "dump run \(k) succeeded on a dead QEMU")
                XCTAssertTrue(r.stdout.contains("virtio-blk"), "dump run \(k) printed: \(r.stdout.prefix(300))")
            } else {
                XCTAssertTrue(Self.isOneLine(r.stderr), "dump run \(k) exited \(r.status) with: \(r.stderr)")
            }
        }
        let last = try XCTUnwrap(all.last?.result)
        XCTAssertEqual(last.status, 2, last.stderr)
        XCTAssertEqual(last.stderr, "vqscope: no process with PID \(pid) (see `vqscope list` for QEMU processes)\n")
        print("FaultTests: \(all.count) dump runs, \(all.filter { $0.result.status == 0 }.count) succeeded, statuses after the kill: \(all.filter(\.afterKill).map(\.result.status)); failures: \(Set(all.map(\.result.stderr).filter { !$0.isEmpty })); watch: \(watch.stderr)")
    }
}
