import Foundation
import Glibc
import VQCore
import VQDemo
import XCTest

/// The real `vqscope demo-guest` child, started by the launcher `vqscope demo` uses and opened
/// through the same `--pid` path as a QEMU.
final class DemoGuestProcessTests: XCTestCase {
    /// The vqscope binary built beside this test bundle.
    static var vqscope: String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            dir = bundle.bundleURL.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("vqscope").path
    }

    /// Whether `pid` is a live process (not gone, not a zombie).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// Waits (bounded) until `condition` holds.
    static func eventually(within seconds: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    func testTheInspectorOpensTheChildAsItOpensAQEMU() throws {
        let launcher = try DemoGuestLauncher.launch(executable: Self.vqscope, directory: NSTemporaryDirectory())
        defer { launcher.terminate() }
        var info = stat()
        XCTAssertEqual(stat(launcher.directory, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o700, "the socket directory is private")
        XCTAssertEqual(launcher.qmpPath, launcher.qmpPaths[0])

        let process = try QEMUProcess(pid: launcher.pid)
        XCTAssertTrue(process.accelerator == .simulated)
        XCTAssertEqual(process.accelerator.description, "sim")
        XCTAssertEqual(process.commandLine.name, "vqscope-demo")
        XCTAssertEqual(process.commandLine.ramSize, 64 << 20)
        XCTAssertEqual(process.commandLine.machineFamily, "pc")
        XCTAssertEqual(Target.qmpSockets(of: process), launcher.qmpPaths)
        XCTAssertTrue(QEMUProcess.all().contains { $0.pid == launcher.pid && $0.accelerator == .simulated })

        let target = try Target.open(TargetSpec(pid: launcher.pid))
        XCTAssertEqual(target.source, .qmp)
        XCTAssertEqual(target.title, "pid \(launcher.pid) (vqscope-demo, sim, 64 MiB)")
        let devices = try target.virtioDevices()
        XCTAssertEqual(devices.map(\.name), ["virtio-net", "virtio-blk", "virtio-net", "virtio-rng"])
        XCTAssertEqual(devices.flatMap(\.queues).count, 8)

        // Read live, while the child writes: nearly every snapshot is consistent, and those are clean.
        var snapshots = 0, consistent = 0, inFlight = 0, available = 0
        for _ in 0..<30 {
            for queue in devices.flatMap(\.queues) {
                snapshots += 1
                switch queue.location.layout {
                case .split:
                    let snapshot = try SplitRing.snapshot(memory: target.memory, location: queue.location)
                    if snapshot.consistent {
                        consistent += 1
                        XCTAssertEqual(snapshot.allProblems, [], queue.label)
                    }
                    inFlight += snapshot.inFlight.count
                case .packed:
                    let snapshot = try PackedRing.snapshot(memory: target.memory, location: queue.location)
                    if snapshot.consistent {
                        consistent += 1
                        XCTAssertEqual(snapshot.allProblems, [], queue.label)
                    }
                    available += snapshot.available.count
                }
            }
            usleep(20_000)  // let traffic move on between rounds
        }
        XCTAssertGreaterThanOrEqual(consistent * 10, snapshots * 9, "\(consistent) of \(snapshots) consistent")
        XCTAssertGreaterThan(inFlight, 0)
        XCTAssertGreaterThan(available, 0)

        // Paused over QMP, the guest's rings hold still.
        let qmp = try XCTUnwrap(target.qmp)
        try qmp.userRequested(.stop)
        XCTAssertEqual(try qmp.execute("query-status")["running"], .bool(false))
        let rings = devices.flatMap(\.queues).map(\.location)
        let before = try rings.map { try target.memory.bytes(at: $0.descriptors, count: 16 * Int($0.size)) }
        usleep(100_000)
        XCTAssertEqual(try rings.map { try target.memory.bytes(at: $0.descriptors, count: 16 * Int($0.size)) }, before)
        try qmp.userRequested(.cont)
        XCTAssertTrue(Self.eventually(within: 10) {
            (try? rings.map { try target.memory.bytes(at: $0.descriptors, count: 16 * Int($0.size)) }) != before
        }, "running again, the rings change")

        // A second inspector while the first holds a socket: it gets the other one.
        var second = TargetSpec(pid: launcher.pid)
        second.qmpTimeoutMilliseconds = 1000
        XCTAssertEqual(try Target.open(second).source, .qmp)

        // Without QMP: guest RAM from /proc/PID/maps, at the same place.
        let bare = try Target.open(TargetSpec(pid: launcher.pid, noQMP: true))
        XCTAssertEqual(bare.source, .maps)
        XCTAssertEqual(bare.memory.map.hostAddress(of: GuestPhysicalAddress(0x100000)), target.memory.map.hostAddress(of: GuestPhysicalAddress(0x100000)))
        let blk = devices[1].queues[0].location
        let blkSnapshot = try SplitRing.snapshot(memory: bare.memory, location: blk)
        XCTAssertTrue(!blkSnapshot.consistent || blkSnapshot.allProblems.isEmpty, "\(blkSnapshot.allProblems)")

        launcher.terminate()
        XCTAssertFalse(Self.isAlive(launcher.pid), "terminate reaps the child")
        XCTAssertFalse(FileManager.default.fileExists(atPath: launcher.directory), "terminate removes the directory")
        launcher.terminate()  // again: nothing happens
    }

    func testTheGuestLeavesWhenItsParentDies() throws {
        let directory = NSTemporaryDirectory() + "vqscope-orphan-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/qmp.sock", output = directory + "/out"
        FileManager.default.createFile(atPath: output, contents: nil)
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "export VQSCOPE_DEMO_PARENT=$$; \"$0\" demo-guest -qmp unix:\"$1\",server=on,wait=off & echo child=$!; wait",
                           Self.vqscope, socket]
        shell.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try shell.run()
        var child: Int32?
        XCTAssertTrue(Self.eventually(within: 20) {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            child = text.split(separator: "\n").first { $0.hasPrefix("child=") }.flatMap { Int32($0.dropFirst(6)) }
            return child != nil && text.contains("VQSCOPE-DEMO-READY")
        }, "the guest started")
        let pid = try XCTUnwrap(child)
        XCTAssertTrue(FileManager.default.fileExists(atPath: socket))
        kill(shell.processIdentifier, SIGKILL)
        shell.waitUntilExit()
        XCTAssertTrue(Self.eventually(within: 10) { !Self.isAlive(pid) }, "the orphaned guest exits")
        XCTAssertTrue(Self.eventually(within: 5) { !FileManager.default.fileExists(atPath: socket) }, "and removes its socket")
        if Self.isAlive(pid) { kill(pid, SIGKILL) }
    }

    func testBadOptionsAndBadExecutablesAreReported() throws {
        XCTAssertThrowsError(try DemoGuestLauncher.launch(executable: "/bin/false", directory: NSTemporaryDirectory(), timeoutMilliseconds: 5000)) { error in
            guard case .launchFailed(let why)? = error as? DemoError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("exited before it was ready"), why)
        }
        let run = { (arguments: [String]) throws -> (Int32, String) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.vqscope)
            process.arguments = ["demo-guest"] + arguments
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }
        let unknown = try run(["-qmp", "unix:/tmp/x.sock,server=on,wait=off", "-smp", "2"])
        XCTAssertNotEqual(unknown.0, 0)
        XCTAssertTrue(unknown.1.contains("unknown option -smp"), unknown.1)
        let small = try run(["-m", "3", "-qmp", "unix:/tmp/vqscope-never-\(getpid()).sock,server=on,wait=off"])
        XCTAssertEqual(small.0, 2)
        XCTAssertTrue(small.1.contains("-m must be"), small.1)
        XCTAssertNotEqual(try run([]).0, 0, "no -qmp")
    }
}
