import Foundation
import VQCore
import XCTest

/// Targets that go away or refuse: a QEMU that dies under vqscope, and a user without permission.
final class TargetFailureTests: XCTestCase {
    /// A throwaway QEMU (firmware only, TCG) that the test may kill.
    func startQEMU() throws -> Process {
        let qemu = Process()
        qemu.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        qemu.arguments = ["qemu-system-x86_64", "-name", "vqscope-dying", "-display", "none", "-nodefaults", "-accel", "tcg", "-m", "64", "-S"]
        qemu.standardOutput = FileHandle.nullDevice
        qemu.standardError = FileHandle.nullDevice
        try qemu.run()
        // env execs QEMU in place; wait until the process shows QEMU's command line and its RAM.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let p = try? QEMUProcess(pid: qemu.processIdentifier), (try? p.mappings())?.contains(where: { $0.size == 64 << 20 }) == true { return qemu }
            Thread.sleep(forTimeInterval: 0.05)
        }
        qemu.terminate()
        throw BenchError("throwaway QEMU did not start")
    }

    func testProcessDyingUnderAnOpenTargetIsReported() throws {
        let qemu = try startQEMU()
        let target = try Target.open(TargetSpec(pid: qemu.processIdentifier, slots: .maps, noQMP: true))
        XCTAssertEqual(try target.memory.bytes(at: GuestPhysicalAddress(0x1000), count: 16).count, 16)
        kill(qemu.processIdentifier, SIGKILL)
        qemu.waitUntilExit()
        XCTAssertThrowsError(try target.memory.bytes(at: GuestPhysicalAddress(0x1000), count: 16)) { error in
            XCTAssertEqual(error as? MemoryError, .processGone(pid: qemu.processIdentifier))
        }
        XCTAssertThrowsError(try target.memory.bytes(at: GuestPhysicalAddress(0x100000), count: 1 << 20)) { error in
            XCTAssertEqual(error as? MemoryError, .processGone(pid: qemu.processIdentifier))
        }
        let r = try Tool.run(["hexdump", "--pid", String(qemu.processIdentifier), "--no-qmp", "0x1000", "16"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "vqscope: no process with PID \(qemu.processIdentifier) (see `vqscope list` for QEMU processes)\n")
    }

    func testAnUnprivilegedUserGetsOneClearLine() throws {
        let qemu = try startQEMU()
        defer { qemu.terminate(); qemu.waitUntilExit() }
        guard getuid() == 0 else { throw XCTSkip("needs root to run vqscope as another user") }
        // The test binary's folder must be readable by `nobody` for this; it is under the package.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", Tool.executable.path,
                             "slots", "--pid", String(qemu.processIdentifier), "--no-qmp"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2, text)
        XCTAssertTrue(text.hasPrefix("vqscope: no permission to read"), text)
        XCTAssertEqual(text.split(separator: "\n").count, 1, text)
    }
}
