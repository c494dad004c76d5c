import Foundation
import VQCore
import XCTest

/// A bench guest from Samples/bench, booted once per test class: QEMU with two QMP sockets (one
/// for the harness's reference answers, one for vqscope), waited on through the guest's own
/// `VQSCOPE-READY` line.
final class BenchGuest: @unchecked Sendable {
    /// `blkdebug` is `basic` with QEMU's blkdebug driver under the disk (drive `d0`): see
    /// ``holdNextRead()``.
    /// `vhost-user` serves the disk from a qemu-storage-daemon (``backend``) over vhost-user, and
    /// the guest reads it without a pause, printing its progress (``ioCount()``).
    /// `devices` adds virtio-scsi (a disk under blkdebug, drive `sd0`), virtio-9p, a virtio-keyboard
    /// (`kbd0`), a virtio-tablet (`tablet0`) and the balloon (`balloon0`, statistics polled).
    enum Variant: String { case basic, big, shared, kvm, blkdebug, vhostUser = "vhost-user", iommu, devices }

    let variant: Variant
    let directory: URL
    let process: Process
    let harness: QMPClient
    let toolSocket: String
    /// The vhost-user back-end process (variant `vhost-user`).
    let backend: Process?
    var pid: Int32 { process.processIdentifier }
    var serialPath: String { directory.appendingPathComponent("serial.log").path }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var benchDirectory: String {
        ProcessInfo.processInfo.environment["VQSCOPE_BENCH_DIR"] ?? NSHomeDirectory() + "/.cache/vqscope-bench"
    }
    /// How long a boot may take on a loaded 2-core machine (a TCG Linux boot takes about 10 s).
    static let bootTimeout: TimeInterval = 240

    /// Builds the bench if needed (the script is idempotent), boots `variant` and waits for ready.
    /// `tag` names the guest's folder instead of the variant, for a second guest of the same variant
    /// beside a class's own (e.g. one a test kills).
    /// `flags` are run-guest.sh's own options (`--intremap`).
    init(_ variant: Variant, extra: [String] = [], packed: Bool = false, tag: String? = nil, flags: [String] = []) throws {
        self.variant = variant
        try Self.buildBench()
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vqscope-test-\(tag ?? variant.rawValue)-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let harnessSocket = directory.appendingPathComponent("harness.sock").path
        toolSocket = directory.appendingPathComponent("tool.sock").path
        let serial = directory.appendingPathComponent("serial.log").path

        var arguments = ["--variant", variant.rawValue, "--dir", Self.benchDirectory,
                         "--name", "vqscope-test-\(tag ?? variant.rawValue)",
                         "--qmp", harnessSocket, "--qmp", toolSocket, "--serial", serial,
                         "--mem-path", directory.appendingPathComponent("guest.ram").path]
        if packed { arguments.append("--packed") }
        arguments += flags
        for e in extra { arguments += ["--extra", e] }
        if variant == .vhostUser {
            let socket = directory.appendingPathComponent("vu.sock").path
            let daemon = Process()
            daemon.executableURL = Self.packageRoot.appendingPathComponent("Samples/bench/run-storage-daemon.sh")
            daemon.arguments = ["--dir", Self.benchDirectory, "--socket", socket]
            let log = directory.appendingPathComponent("backend.log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            daemon.standardOutput = try FileHandle(forWritingTo: log)
            daemon.standardError = try FileHandle(forWritingTo: log)
            try daemon.run()
            let deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: socket) {
                if !daemon.isRunning || Date() > deadline {
                    daemon.terminate()
                    throw BenchError("qemu-storage-daemon did not listen on \(socket): \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            backend = daemon
            arguments += ["--vhost-user", socket]
        } else {
            backend = nil
        }
        process = Process()
        process.executableURL = Self.packageRoot.appendingPathComponent("Samples/bench/run-guest.sh")
        process.arguments = arguments
        let log = directory.appendingPathComponent("qemu.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()

        // Wait for the guest's own ready line; fail at once if QEMU exits.
        let deadline = Date().addingTimeInterval(Self.bootTimeout)
        var text = ""
        while true {
            text = (try? String(contentsOfFile: serial, encoding: .isoLatin1)) ?? ""
            if text.contains("VQSCOPE-READY") { break }
            if text.contains("VQSCOPE-ERROR") || !process.isRunning || Date() > deadline {
                let qemuLog = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                process.terminate()
                backend?.terminate()
                throw BenchError("bench guest \(variant) did not become ready (running: \(process.isRunning)); console: \(text.suffix(2000)); qemu: \(qemuLog.suffix(1000))")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        harness = try QMPClient(path: harnessSocket, timeoutMilliseconds: 30_000, policy: .unrestricted)
    }

    static func buildBench() throws {
        let build = Process()
        build.executableURL = packageRoot.appendingPathComponent("Samples/bench/build-guest.sh")
        build.arguments = [benchDirectory]
        try build.run()
        build.waitUntilExit()
        guard build.terminationStatus == 0 else { throw BenchError("Samples/bench/build-guest.sh failed (\(build.terminationStatus))") }
    }

    func shutdown() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        if let backend, backend.isRunning {
            backend.terminate()
            backend.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// QEMU's own answer: the host-virtual address of `gpa`, or nil where QEMU says there is none.
    func gpa2hva(_ gpa: UInt64) throws -> UInt64? {
        let reply = try harness.humanMonitorCommand("gpa2hva \(Hex.string(gpa))")
        return QMPSlotSource.parseHostAddress(reply)
    }

    /// QEMU's own answer for the host-physical address (QEMU faults the page in first).
    func gpa2hpa(_ gpa: UInt64) throws -> UInt64? {
        let reply = try harness.humanMonitorCommand("gpa2hpa \(Hex.string(gpa))")
        return QMPSlotSource.parseHostAddress(reply)
    }

    /// Runs `body` with the guest paused, and always lets it run again.
    func paused<T>(_ body: () throws -> T) throws -> T {
        try harness.execute("stop")
        defer { _ = try? harness.execute("cont") }
        return try body()
    }

    /// Variant `blkdebug` only: holds the guest's next disk read inside QEMU (blkdebug breakpoint
    /// `t1` on `read_aio`) until ``releaseHeldRead()``; QEMU has fetched the request and does not
    /// complete it.
    /// `drive` is the blkdebug drive's id (`sd0`: variant `devices`' SCSI disk).
    func holdNextRead(drive: String = "d0") throws {
        _ = try harness.humanMonitorCommand("qemu-io \(drive) \"break read_aio t1\"")
    }

    /// Variant `blkdebug` only: lets a read held by ``holdNextRead()`` complete, and drops the
    /// breakpoint if it never fired.
    func releaseHeldRead(drive: String = "d0") throws {
        _ = try harness.humanMonitorCommand("qemu-io \(drive) \"resume t1\"")
        _ = try harness.humanMonitorCommand("qemu-io \(drive) \"remove_break t1\"")
    }

    /// Variant `vhost-user`: the disk reads the guest has done, by its last `VQSCOPE-IO N` line
    /// (printed once a second).
    func ioCount() -> Int? {
        let text = (try? String(contentsOfFile: serialPath, encoding: .isoLatin1)) ?? ""
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("VQSCOPE-IO ") }) else { return nil }
        return Int(line.dropFirst("VQSCOPE-IO ".count).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Variant `vhost-user`: the guest's disk reads per second over the next `seconds`.
    func ioRate(over seconds: TimeInterval) throws -> Double {
        let deadline = Date().addingTimeInterval(60)
        while ioCount() == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        guard let first = ioCount() else { throw BenchError("the guest reports no disk progress") }
        let start = Date()
        Thread.sleep(forTimeInterval: seconds)
        guard let last = ioCount() else { throw BenchError("the guest reports no disk progress") }
        return Double(last - first) / Date().timeIntervalSince(start)
    }

    /// Opens the guest as vqscope does, on the tool's own QMP socket.
    func open(slots: SlotSourceChoice = .auto, noQMP: Bool = false) throws -> Target {
        var spec = TargetSpec(pid: pid, slots: slots, qmpPath: noQMP ? nil : toolSocket, noQMP: noQMP)
        spec.qmpTimeoutMilliseconds = 30_000
        return try Target.open(spec)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs the vqscope executable built beside the tests.
enum Tool {
    static var executable: URL {
        // The test bundle lives in the build products folder, beside the vqscope binary.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            dir = bundle.bundleURL.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("vqscope")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Whether a signal ended it (then `status` is the signal's number).
        var signaled = false
    }

    /// Runs vqscope with standard streams in files (no pipe can fill and stall it), bounded in time.
    static func run(_ arguments: [String], input: Data? = nil, timeout: TimeInterval = 120) throws -> Result {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vqscope-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err"), inURL = dir.appendingPathComponent("in")
        try (input ?? Data()).write(to: inURL)
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = try FileHandle(forReadingFrom: inURL)
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                throw BenchError("vqscope \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self),
                      signaled: process.terminationReason == .uncaughtSignal)
    }

    /// Runs vqscope with `--json` and parses what it printed.
    static func json(_ arguments: [String], input: Data? = nil) throws -> (status: Int32, json: JSON, stderr: String) {
        let r = try run(arguments + ["--json"], input: input)
        do { return (r.status, try JSON.parse(r.stdout), r.stderr) } catch {
            throw BenchError("vqscope \(arguments.joined(separator: " ")) --json printed no JSON (\(error)): \(r.stdout.prefix(500)) \(r.stderr)")
        }
    }
}
