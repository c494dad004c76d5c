import Foundation
import VQCore
import XCTest

/// `diagnose --events bpf` on the blkdebug stall: QEMU's own events (eBPF uprobes) show the held
/// read as popped and never completed, the device holding that head.
final class StallGuestProbeTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .blkdebug }
    override class var tag: String? { "blkdebug-probes" }

    func testDiagnoseNamesTheHeldReadAsTheDeviceHoldingIt() throws {
        let guest = try guest
        let blk = try XCTUnwrap(QMPVirtioSource.devices(client: guest.harness).first { $0.name == "virtio-blk" }?.queues.first)
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vqscope-diagnose-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let diagnose = Process()
        diagnose.executableURL = Tool.executable
        diagnose.arguments = ["diagnose", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0",
                              "--events", "bpf", "--seconds", "10", "--json"]
        diagnose.standardOutput = try FileHandle(forWritingTo: outURL)
        diagnose.standardError = try FileHandle(forWritingTo: errURL)
        try diagnose.run()
        defer { if diagnose.isRunning { diagnose.terminate() } }
        func stderr() -> String { String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self) }
        try waitUntil("diagnose attaching its probes") { stderr().contains("events: bpf (") || !diagnose.isRunning }
        XCTAssertTrue(diagnose.isRunning, stderr())

        // Hold the next read once the probes watch: QEMU pops it and blkdebug keeps it.
        try guest.holdNextRead()
        var held = true
        defer { if held { try? guest.releaseHeldRead() } }
        var used: UInt16 = 0
        try waitUntil("a read held in flight on virtio-blk:0") {
            let avail = try guest.independentU16(blk.location.driverArea.rawValue + 2)
            used = try guest.independentU16(blk.location.deviceArea.rawValue + 2)
            let state = try XCTUnwrap(QMPQueueStatus.deviceState(client: guest.harness, queue: blk))
            return avail &- used == 1 && state.inUse == 1 && state.lastAvailIndex == avail
        }
        let heldHead = try guest.independentU16(blk.location.driverArea.rawValue + 4 + 2 * (UInt64(used) % UInt64(blk.location.size)))
        try waitUntil("diagnose ending") { !diagnose.isRunning }
        diagnose.waitUntilExit()
        try guest.releaseHeldRead()
        held = false

        XCTAssertEqual(diagnose.terminationStatus, 0, stderr())
        let json = try JSON.parse(String(decoding: try Data(contentsOf: outURL), as: UTF8.self))
        XCTAssertEqual(json["events"]?.string, "bpf")
        let q = try XCTUnwrap(json["queues"]?.array?.first { $0["device"]?.string == "virtio-blk" }, json.text)
        let events = try XCTUnwrap(q["events"], q.text)
        XCTAssertEqual(events["source"]?.string, "bpf")
        XCTAssertGreaterThan(try XCTUnwrap(events["counts"]?["pop"]?.int), 0, events.text)
        let holding = try XCTUnwrap(events["findings"]?.array?.first { $0["code"]?.string == "device_holding" }, events.text)
        XCTAssertEqual(holding["heads"]?.array?.compactMap { $0["head"]?.uint64 }, [UInt64(heldHead)],
                       "the held chain's head, as an independent read of the ring gives it: \(holding.text)")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(holding["heads"]?.array?.first?["age_ms"]?.int), 1000, holding.text)
        XCTAssertFalse(events["findings"]?.array?.contains { $0["code"]?.string == "lost_kick" || $0["code"]?.string == "lost_interrupt" } ?? true,
                       "the device holds it: neither a kick nor an interrupt was lost: \(events.text)")
        print("StallGuestProbeTests: \(holding.text)")
    }

    private func waitUntil(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(90)
        while try !condition() {
            guard Date() < deadline else { throw BenchError("timed out waiting for \(what)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}
