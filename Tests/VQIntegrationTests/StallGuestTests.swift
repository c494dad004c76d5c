import Foundation
import VQCore
import XCTest

/// `vqscope diagnose` on a real stall: the bench guest with QEMU's blkdebug driver under its disk,
/// where a blkdebug breakpoint holds one guest read inside QEMU for as long as the test likes.
///
/// While a read is held, nothing may stop the VM (`stop`, `dump-guest-memory`, SIGTERM): QEMU
/// drains the disk first and waits for the held read forever. Every test releases it.
final class StallGuestTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .blkdebug }

    /// How long a condition on the guest may take on a loaded 2-core machine.
    static let patience: TimeInterval = 90

    func testHeldReadIsStalledWithAGrowingAgeAndRecovers() throws {
        let guest = try guest
        let blk = try blockQueue(guest)
        let pid = String(guest.pid)
        try guest.holdNextRead()
        var held = true
        defer { if held { try? guest.releaseHeldRead() } }

        // Wait until a read is really pending and QEMU has fetched it (the guest reads ~4 times a second).
        var ring = try independentIndexes(guest, blk)
        try waitUntil("a read held in flight on virtio-blk:0") {
            ring = try independentIndexes(guest, blk)
            let state = try XCTUnwrap(QMPQueueStatus.deviceState(client: guest.harness, queue: blk))
            return ring.avail &- ring.used == 1 && state.inUse == 1 && state.lastAvailIndex == ring.avail
        }
        let heldHead = try guest.independentU16(blk.location.driverArea.rawValue + 4 + 2 * (UInt64(ring.used) % UInt64(blk.location.size)))

        let first = try diagnose(guest, [])
        XCTAssertEqual(first.status, 0, first.stderr)
        let q1 = try entry(first.json, "virtio-blk", 0)
        XCTAssertEqual(q1["health"]?.string, "stalled", q1.text)
        XCTAssertEqual(q1["inflight"]?.int, 1, q1.text)
        XCTAssertEqual(q1["requests"]?.int, 1, q1.text)
        XCTAssertEqual(q1["oldest"]?["head"]?.uint64, UInt64(heldHead), "the held chain's head, as an independent read of the ring gives it")
        XCTAssertEqual(q1["avail_idx"]?.uint64, UInt64(ring.avail))
        XCTAssertEqual(q1["used_idx"]?.uint64, UInt64(ring.used))
        XCTAssertEqual(q1["device_fetched"]?.int, 1, "QEMU fetched the request: blkdebug holds it in the backend")
        XCTAssertEqual(q1["device_inuse"]?.int, 1)
        let age1 = try XCTUnwrap(q1["oldest"]?["age_ms"]?.int)
        XCTAssertGreaterThanOrEqual(age1, 1000)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(q1["used_unmoved_ms"]?.int), 1000)
        XCTAssertTrue(q1["reasons"]?.array?.contains { $0.string?.hasPrefix("QEMU fetched it") ?? false } ?? false, q1.text)
        for q in try XCTUnwrap(first.json["queues"]?.array) where !(q["device"]?.string == "virtio-blk" && q["index"]?.int == 0) {
            XCTAssertNotEqual(q["health"]?.string, "stalled", "only virtio-blk:0 is stalled: \(q.text)")
            XCTAssertNotNil(q["health"]?.string, q.text)
        }
        print("StallGuestTests: held head \(heldHead) at avail idx \(ring.avail), used idx \(ring.used); first run age \(age1) ms")

        // A second run continues the first one's watch: the age grows.
        let second = try diagnose(guest, ["--queue", "virtio-blk:0"])
        XCTAssertEqual(second.status, 0, second.stderr)
        let q2 = try entry(second.json, "virtio-blk", 0)
        XCTAssertEqual(q2["health"]?.string, "stalled", q2.text)
        XCTAssertEqual(q2["oldest"]?["head"]?.uint64, UInt64(heldHead))
        let age2 = try XCTUnwrap(q2["oldest"]?["age_ms"]?.int)
        XCTAssertGreaterThan(age2, age1 + 1000, "the second run (1.5 s of samples) continues the first one's age")
        print("StallGuestTests: second run age \(age2) ms")

        // Without QMP: the ring a RAM scan finds, judged the same (QEMU's view is not there).
        let scanned = try diagnose(guest, ["--no-qmp", "--queue", "virtio-blk:0"], qmp: false)
        XCTAssertEqual(scanned.status, 0, scanned.stderr)
        let q4 = try entry(scanned.json, "virtio-blk", 0)
        XCTAssertEqual(q4["health"]?.string, "stalled", q4.text)
        XCTAssertEqual(q4["oldest"]?["head"]?.uint64, UInt64(heldHead))
        XCTAssertEqual(q4["device_fetched"], .null)
        XCTAssertGreaterThan(try XCTUnwrap(q4["oldest"]?["age_ms"]?.int), age2, "the watch is kept by ring location")

        // An image is one instant: in flight, busy, no age. (Not dump-guest-memory: stopping the VM
        // drains the disk, which waits for the held read forever. A copy of the RAM block instead.)
        let image = guest.directory.appendingPathComponent("stall-ram.raw").path
        defer { try? FileManager.default.removeItem(atPath: image) }
        try copyRAM(guest, to: image)
        let instant = try Tool.json(["diagnose", "--image", image, "--base", "0"])
        XCTAssertEqual(instant.status, 0, instant.stderr)
        XCTAssertEqual(instant.json["live"]?.bool, false)
        let q5 = try entry(instant.json, "virtio-blk", 0)
        XCTAssertEqual(q5["health"]?.string, "busy", q5.text)
        XCTAssertEqual(q5["inflight"]?.int, 1)
        XCTAssertEqual(q5["oldest"]?["head"]?.uint64, UInt64(heldHead))
        XCTAssertEqual(q5["oldest"]?["age_ms"], .null)
        XCTAssertEqual(q5["used_idx"]?.uint64, UInt64(ring.used))

        // People get one line saying so.
        let text = try Tool.run(["diagnose", "--pid", pid, "--qmp", guest.toolSocket, "--queue", "virtio-blk:0"])
        XCTAssertEqual(text.status, 0, text.stderr)
        let line = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("virtio-blk:0 ") })
        XCTAssertTrue(line.contains(" stalled ") && line.contains("head \(heldHead)") && line.contains("QEMU fetched it"), String(line))

        // Released: the read completes and the queue is busy or idle again.
        try guest.releaseHeldRead()
        held = false
        try waitUntil("the held read completed") {
            let now = try independentIndexes(guest, blk)
            return now.used &- ring.used >= 1 && now.used &- ring.used < 0x8000
        }
        let after = try diagnose(guest, ["--queue", "virtio-blk:0"])
        XCTAssertEqual(after.status, 0, after.stderr)
        let q3 = try entry(after.json, "virtio-blk", 0)
        XCTAssertTrue(["busy", "idle"].contains(q3["health"]?.string ?? ""), q3.text)
    }

    func testWatchReportsTheHeldReadAsAStallAndItsRecovery() throws {
        let guest = try guest
        let blk = try blockQueue(guest)
        try guest.holdNextRead()
        var held = true
        defer { if held { try? guest.releaseHeldRead() } }
        var ring = try independentIndexes(guest, blk)
        try waitUntil("a read held in flight on virtio-blk:0") {
            ring = try independentIndexes(guest, blk)
            let state = try XCTUnwrap(QMPQueueStatus.deviceState(client: guest.harness, queue: blk))
            return ring.avail &- ring.used == 1 && state.inUse == 1 && state.lastAvailIndex == ring.avail
        }
        let heldHead = try guest.independentU16(blk.location.driverArea.rawValue + 4 + 2 * (UInt64(ring.used) % UInt64(blk.location.size)))

        // watch in the background; the read is released once it has said "stall".
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vqscope-watch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let watch = Process()
        watch.executableURL = Tool.executable
        watch.arguments = ["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0",
                           "--seconds", "10", "--json"]
        watch.standardOutput = try FileHandle(forWritingTo: outURL)
        watch.standardError = try FileHandle(forWritingTo: errURL)
        try watch.run()
        defer { if watch.isRunning { watch.terminate() } }
        func lines() -> [JSON] {
            String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self).split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
        }
        try waitUntil("watch reporting the stall") {
            guard watch.isRunning else { return true }
            return lines().contains { $0["event"]?.string == "stall" }
        }
        try guest.releaseHeldRead()
        held = false
        try waitUntil("the held read completed") {
            let now = try independentIndexes(guest, blk)
            return now.used &- ring.used >= 1 && now.used &- ring.used < 0x8000
        }
        try waitUntil("watch ending") { !watch.isRunning }
        watch.waitUntilExit()
        let stderr = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
        XCTAssertEqual(watch.terminationStatus, 0, stderr)

        let events = lines()
        let stallAt = try XCTUnwrap(events.firstIndex { $0["event"]?.string == "stall" }, "no stall event: \(events.map(\.text).suffix(10))")
        let stall = events[stallAt]
        XCTAssertEqual(stall["queue"]?.string, "virtio-blk:0", stall.text)
        XCTAssertEqual(stall["inflight"]?.int, 1, stall.text)
        XCTAssertEqual(stall["oldest"]?["head"]?.uint64, UInt64(heldHead), "the held chain's head, as an independent read of the ring gives it")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(stall["oldest"]?["age_ms"]?.int), 1000, stall.text)
        XCTAssertNotEqual(stall["time"], .null, stall.text)
        XCTAssertTrue(stall["reasons"]?.array?.contains { $0.string?.hasPrefix("QEMU fetched it") ?? false } ?? false, stall.text)
        let recover = try XCTUnwrap(events[(stallAt + 1)...].first { $0["event"]?.string == "recover" },
                                    "no recover event after the stall: \(events.map(\.text).suffix(10))")
        XCTAssertEqual(recover["queue"]?.string, "virtio-blk:0", recover.text)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(recover["after_ms"]?.int), 1000, recover.text)
        XCTAssertEqual(events.filter { $0["event"]?.string == "stall" }.count, 1, "one stall")
        // The held read's completion is among the used events after the stall.
        XCTAssertTrue(events[stallAt...].contains { $0["event"]?.string == "used" && $0["id"]?.uint64 == UInt64(heldHead) })
        print("StallGuestTests: watch: \(stall.text) then \(recover.text)")
    }

    func testInspectorShowsTheHeldReadAsStallOnTheQueueList() throws {
        let guest = try guest
        let blk = try blockQueue(guest)
        try guest.holdNextRead()
        var held = true
        defer { if held { try? guest.releaseHeldRead() } }
        try waitUntil("a read held in flight on virtio-blk:0") {
            let ring = try independentIndexes(guest, blk)
            let state = try XCTUnwrap(QMPQueueStatus.deviceState(client: guest.harness, queue: blk))
            return ring.avail &- ring.used == 1 && state.inUse == 1 && state.lastAvailIndex == ring.avail
        }
        let session = try TmuxSession(["--pid", String(guest.pid), "--qmp", guest.toolSocket], width: 120, height: 40)
        let stalled = try session.wait(for: "virtio-blk:0 STALL", timeout: 60) { screen in
            DemoInspectorTests.queueRow(screen, "virtio-blk:0")?.contains("STALL") ?? false
        }
        for label in ["virtio-net:0", "virtio-net:1", "virtio-rng:0"] {
            XCTAssertFalse(DemoInspectorTests.queueRow(stalled, label)?.contains("STALL") ?? false, "\(label) is not stalled:\n\(stalled)")
        }
        try guest.releaseHeldRead()
        held = false
        try session.wait(for: "virtio-blk:0 no longer STALL", timeout: 60) { screen in
            DemoInspectorTests.queueRow(screen, "virtio-blk:0").map { !$0.contains("STALL") } ?? false
        }
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }

    func testThrottledIOIsBusyNotStalled() throws {
        let guest = try guest
        try throttle(guest, iops: 5)
        defer { try? throttle(guest, iops: 0) }
        var healths: [String] = []
        for _ in 0..<3 {
            let r = try diagnose(guest, ["--queue", "virtio-blk:0"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let q = try entry(r.json, "virtio-blk", 0)
            healths.append(q["health"]?.string ?? "none")
            XCTAssertNotEqual(q["health"]?.string, "stalled", q.text)
        }
        XCTAssertTrue(healths.contains("busy"), "the throttled queue keeps completing: \(healths)")
        print("StallGuestTests: throttled to 5 iops: \(healths)")
    }

    // MARK: - Helpers

    private func blockQueue(_ guest: BenchGuest) throws -> Virtqueue {
        try XCTUnwrap(QMPVirtioSource.devices(client: guest.harness).first { $0.name == "virtio-blk" }?.queues.first)
    }

    private func diagnose(_ guest: BenchGuest, _ arguments: [String], qmp: Bool = true) throws -> (status: Int32, json: JSON, stderr: String) {
        try Tool.json(["diagnose", "--pid", String(guest.pid)] + (qmp ? ["--qmp", guest.toolSocket] : []) + arguments)
    }

    private func entry(_ json: JSON, _ device: String, _ index: Int) throws -> JSON {
        try XCTUnwrap(json["queues"]?.array?.first { $0["device"]?.string == device && $0["index"]?.int == index },
                      "no \(device):\(index) in \(json.text.prefix(300))")
    }

    /// `block_set_io_throttle` on the bench's drive `d0` (0: no limit).
    private func throttle(_ guest: BenchGuest, iops: Int64) throws {
        let zero = JSON.int(0)
        _ = try guest.harness.execute("block_set_io_throttle", arguments: .object([
            ("device", .string("d0")), ("bps", zero), ("bps_rd", zero), ("bps_wr", zero),
            ("iops", .int(iops)), ("iops_rd", zero), ("iops_wr", zero),
        ]))
    }

    /// The bench guest's RAM (one 256 MiB block from GPA 0) read from /proc/PID/mem into a raw
    /// image, while the guest runs.
    private func copyRAM(_ guest: BenchGuest, to path: String) throws {
        guard let hva = try guest.gpa2hva(0) else { throw BenchError("QEMU: no hva for GPA 0") }
        let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(guest.pid)/mem"))
        defer { try? mem.close() }
        FileManager.default.createFile(atPath: path, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? out.close() }
        try mem.seek(toOffset: hva)
        var left = 256 << 20
        while left > 0 {
            let chunk = try mem.read(upToCount: min(left, 16 << 20)) ?? Data()
            guard !chunk.isEmpty else { throw BenchError("short read of guest RAM") }
            try out.write(contentsOf: chunk)
            left -= chunk.count
        }
    }

    /// The split ring's avail and used indexes, read through QEMU's gpa2hva and /proc/PID/mem.
    private func independentIndexes(_ guest: BenchGuest, _ q: Virtqueue) throws -> (avail: UInt16, used: UInt16) {
        (try guest.independentU16(q.location.driverArea.rawValue + 2), try guest.independentU16(q.location.deviceArea.rawValue + 2))
    }

    private func waitUntil(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(Self.patience)
        while try !condition() {
            guard Date() < deadline else { throw BenchError("timed out waiting for \(what)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}
