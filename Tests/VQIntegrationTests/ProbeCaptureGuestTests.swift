import Foundation
import VQCore
import XCTest

/// `vqscope capture` of virtio-net frames from QEMU's own events (`--events bpf`: the pop and fill
/// probes) against QEMU's own record of the same netdev (`filter-dump`), on one bench guest that
/// pings every 20 ms with 1400-byte payloads (near-MTU frames, whole within the probes' bound):
/// every frame QEMU dumped in the window is in vqscope's file, byte for byte, and nothing else is.
final class ProbeCaptureGuestTests: CaptureTestCase {
    override class var tag: String? { "probe-capture" }
    override class var runGuestFlags: [String] { ["--busy", "--ping-size", "1400"] }

    func testEveryFrameQEMUDumpedIsCapturedFromItsEvents() throws {
        let guest = try guest
        let output = guest.directory.appendingPathComponent("probes.pcapng")
        let run = try start(["capture", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--events", "bpf", "-w", output.path],
                            in: guest.directory)
        defer { if run.process.isRunning { run.process.terminate() } }
        try run.wait(for: "capturing frames")
        XCTAssertTrue(run.errorText.contains("events: bpf ("), "the mode in use is said: \(run.errorText)")
        let from = Self.fileSize(Self.dumpPath)
        Thread.sleep(forTimeInterval: 8)
        let to = Self.fileSize(Self.dumpPath)
        // An rx frame QEMU dumped just before `to` is filled into the guest's buffer just after.
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(try run.interrupt(), 0, run.errorText)
        XCTAssertTrue(run.errorText.contains("from QEMU's events"), run.errorText)
        XCTAssertTrue(run.errorText.contains("0 frames missed"), run.errorText)

        let qemu = try CaptureFiles.pcap(Array(try Data(contentsOf: URL(fileURLWithPath: Self.dumpPath))))
        let inWindow = qemu.filter { $0.start >= from && $0.end <= to }
        XCTAssertGreaterThanOrEqual(inWindow.count, 8 * 50 * 2 / 2, "QEMU carried the pings both ways (50 a second): \(inWindow.count) frames")
        XCTAssertTrue(inWindow.contains { $0.bytes.count >= 1400 }, "near-MTU frames")
        let (found, total) = try check(output, run: run, against: qemu, window: inWindow, what: "split, QEMU's events", atLeast: 1)
        XCTAssertEqual(found, total, "every frame QEMU dumped in the window")
        // Whole frames: the probes copy up to 1600 bytes of a buffer, more than these frames.
        let ours = try CaptureFiles.pcapng(Array(try Data(contentsOf: output)))
        XCTAssertEqual(ours.dropped[0], 0, "nothing dropped: \(run.errorText)")
        XCTAssertNoThrow(try Self.tshark(["-r", output.path]), "tshark reads the whole file")
    }

    /// `--events auto` takes frames from the probes here (root, a live QEMU) and says so.
    func testAutoTakesFramesFromTheProbes() throws {
        let guest = try guest
        let output = guest.directory.appendingPathComponent("auto.pcapng")
        let r = try Tool.run(["capture", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--seconds", "2", "-w", output.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("events: bpf ("), r.stderr)
        XCTAssertTrue(r.stderr.contains("from QEMU's events"), r.stderr)
        // Forbidden: polling, with one line saying why.
        setenv(EventModeChoice.forbidVariable, "1", 1)
        defer { unsetenv(EventModeChoice.forbidVariable) }
        let polled = try Tool.run(["capture", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--seconds", "1", "-w", output.path])
        XCTAssertEqual(polled.status, 0, polled.stderr)
        XCTAssertTrue(polled.stderr.contains("events: poll (eBPF is forbidden"), polled.stderr)
        XCTAssertFalse(polled.stderr.contains("from QEMU's events"), polled.stderr)
    }
}

/// The same with packed rings (virtio-net packed=on): QEMU's VirtQueue holds the descriptor ring
/// and the two event areas where a split ring's three areas sit, and the frames are the same.
final class PackedProbeCaptureGuestTests: CaptureTestCase {
    override class var tag: String? { "probe-capture-packed" }
    override class var packed: Bool { true }
    override class var runGuestFlags: [String] { ["--busy"] }

    func testEveryFrameQEMUDumpedIsCapturedFromItsEvents() throws {
        let guest = try guest
        let output = guest.directory.appendingPathComponent("probes-packed.pcapng")
        let run = try start(["capture", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--events", "bpf", "-w", output.path],
                            in: guest.directory)
        defer { if run.process.isRunning { run.process.terminate() } }
        try run.wait(for: "capturing frames")
        let from = Self.fileSize(Self.dumpPath)
        Thread.sleep(forTimeInterval: 6)
        let to = Self.fileSize(Self.dumpPath)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(try run.interrupt(), 0, run.errorText)
        let qemu = try CaptureFiles.pcap(Array(try Data(contentsOf: URL(fileURLWithPath: Self.dumpPath))))
        let inWindow = qemu.filter { $0.start >= from && $0.end <= to }
        XCTAssertGreaterThanOrEqual(inWindow.count, 6 * 50, "\(inWindow.count) frames")
        let (found, total) = try check(output, run: run, against: qemu, window: inWindow, what: "packed, QEMU's events", atLeast: 1)
        XCTAssertEqual(found, total)
    }
}
