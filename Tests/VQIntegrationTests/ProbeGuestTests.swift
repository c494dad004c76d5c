import Foundation
import VQCore
import XCTest

/// Events from QEMU itself (`--events bpf`: eBPF uprobes on QEMU's virtio functions) on the bench
/// guest reading its disk without a pause (`vqscope.io=busy`), checked against the rings as an
/// independent read gives them, and the fallback to polling when eBPF is forbidden.
final class ProbeGuestTests: GuestTestCase {
    override class var tag: String? { "probes" }
    override class var runGuestFlags: [String] { ["--busy-io"] }

    func testWatchSeesEveryKindOfEventFromQEMU() throws {
        let guest = try guest
        let devices = try QMPVirtioSource.devices(client: guest.harness)
        let before = try devices.flatMap(\.queues).filter { $0.location.layout == .split }.map { q in (q, try wakeState(guest, q)) }
        let r = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--json", "--events", "bpf", "--seconds", "6"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("vqscope: events: bpf ("), "the mode in use is said: \(r.stderr)")
        let lines = r.stdout.split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
        func events(_ queue: String, _ kind: String) -> [JSON] {
            lines.filter { $0["queue"]?.string == queue && $0["event"]?.string == kind }
        }
        // The busy disk: every kind QEMU's virtio code does for it, from the probes.
        for kind in ["kick", "pop", "fill", "flush", "interrupt"] {
            XCTAssertGreaterThan(events("virtio-blk:0", kind).count, 20, "\(kind) events of virtio-blk:0 in 6 s of a busy disk")
        }
        let pops = events("virtio-blk:0", "pop"), fills = events("virtio-blk:0", "fill")
        for e in pops + fills {
            XCTAssertEqual(e["source"]?.string, "bpf")
            XCTAssertNotNil(e["ns"]?.uint64, e.text)
        }
        // Every pop a read request: a 16-byte header (type 0 = IN), a 512-byte data buffer and the status byte.
        let blk = try XCTUnwrap(devices.first { $0.name == "virtio-blk" }?.queues.first)
        for p in pops.prefix(50) {
            XCTAssertEqual(p["out"]?.int, 1, p.text)
            XCTAssertEqual(p["in"]?.int, 2, p.text)
            XCTAssertLessThan(try XCTUnwrap(p["head"]?.int), Int(blk.location.size), p.text)
            XCTAssertTrue(p["bytes"]?.string?.hasPrefix("00000000") ?? false, "VIRTIO_BLK_T_IN: \(p.text)")
        }
        // Completions: the data and the status byte (0, OK) written, the chain's head as popped.
        let popped = Set(pops.compactMap { $0["head"]?.int })
        for f in fills.prefix(50) {
            XCTAssertEqual(f["last_byte"]?.int, 0, "VIRTIO_BLK_S_OK: \(f.text)")
            XCTAssertTrue(popped.contains(try XCTUnwrap(f["head"]?.int)), f.text)
        }
        // The heads QEMU popped and completed are those the poller saw made available and used.
        let polledUsed = events("virtio-blk:0", "used").compactMap { $0["id"]?.int }
        XCTAssertFalse(polledUsed.isEmpty)
        XCTAssertTrue(Set(polledUsed).isSubset(of: Set(fills.compactMap { $0["head"]?.int })), "used ids polled from the ring were filled by QEMU")

        // Suppressed: a queue whose driver asked for no interrupts over the whole run (read
        // independently before and after: NO_INTERRUPT in its avail flags, or with EVENT_IDX a
        // used_event its used index did not cross) while QEMU completed chains on it: every
        // completion of it is suppressed, none interrupts. (Linux's virtio-serial transmit queues.)
        let busyQuiet = before.filter { q, then in
            guard let after = try? wakeState(guest, q) else { return false }
            return then.askedQuiet(until: after) && after.used != then.used && !events(q.label, "fill").isEmpty
        }.map { $0.0 }
        XCTAssertFalse(busyQuiet.isEmpty, "a queue whose driver asked for no interrupts while it completed chains")
        for q in busyQuiet {
            XCTAssertFalse(events(q.label, "suppressed").isEmpty, q.label)
            XCTAssertTrue(events(q.label, "interrupt").isEmpty, "\(q.label): the guest asked for no interrupts")
        }
        print("ProbeGuestTests: virtio-blk:0 \(pops.count) pops, \(fills.count) fills, \(events("virtio-blk:0", "kick").count) kicks, \(events("virtio-blk:0", "interrupt").count) interrupts, \(events("virtio-blk:0", "suppressed").count) suppressed; quiet queues \(busyQuiet.map { $0.label })")
    }

    func testBlockCaptureFromQEMUMissesNothingQEMUCounted() throws {
        let guest = try guest
        func reads() throws -> Int64 {
            let stats = try guest.harness.execute("query-blockstats")
            var total: Int64 = 0
            for device in stats.array ?? [] {
                let rd: Int64 = device["stats"]?["rd_operations"]?.int64 ?? 0
                let wr: Int64 = device["stats"]?["wr_operations"]?.int64 ?? 0
                total += rd + wr
            }
            return total
        }
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vqscope-capture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("blk.json"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let capture = Process()
        capture.executableURL = Tool.executable
        capture.arguments = ["capture", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--device", "virtio-blk",
                             "-w", trace.path, "--events", "bpf", "--seconds", "60"]
        capture.standardError = try FileHandle(forWritingTo: errURL)
        try capture.run()
        defer { if capture.isRunning { capture.terminate() } }
        func stderr() -> String { String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self) }
        let deadline = Date().addingTimeInterval(90)
        while !stderr().contains("capturing requests"), capture.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertTrue(stderr().hasPrefix("vqscope: events: bpf ("), stderr())
        Thread.sleep(forTimeInterval: 1)
        // QEMU's count between two instants inside the capture, and the trace's completions between them.
        let before = try reads(), from = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 8)
        let after = try reads(), to = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 1)
        capture.interrupt()
        capture.waitUntilExit()
        XCTAssertEqual(capture.terminationStatus, 0, stderr())
        let requests = String(decoding: try Data(contentsOf: trace), as: UTF8.self).split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
        let traced = requests.filter { r in
            guard case .double(let completed)? = r["completed"] else { return false }
            return completed >= from && completed <= to
        }
        let counted = Int(after - before)
        XCTAssertGreaterThan(counted, 100, "the busy disk's reads in 8 s")
        // Instants are taken by two processes: a request completing within a few ms of either edge may
        // fall on the other side of it. Beyond that, every read QEMU counted is traced.
        XCTAssertEqual(Double(traced.count), Double(counted), accuracy: max(2, 0.001 * Double(counted)), "traced \(traced.count) of \(counted) reads")
        for r in traced.prefix(100) {
            XCTAssertEqual(r["type"]?.string, "read", r.text)
            XCTAssertEqual(r["status"]?.string, "ok", r.text)
            XCTAssertNotNil(r["latency_us"]?.int, r.text)
        }
        XCTAssertTrue(stderr().contains("\n0 missed"), stderr())
        print("ProbeGuestTests: capture traced \(traced.count) of \(counted) reads query-blockstats counted")
    }

    func testForbiddenBPFFallsBackToPollingWithOneLine() throws {
        let guest = try guest
        setenv(EventModeChoice.forbidVariable, "1", 1)
        defer { unsetenv(EventModeChoice.forbidVariable) }
        let auto = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0", "--json", "--seconds", "2"])
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertEqual(auto.stderr, "vqscope: events: poll (eBPF is forbidden (VQSCOPE_EVENTS_NO_BPF=1))\n")
        let kinds = Set(auto.stdout.split(separator: "\n").compactMap { try? JSON.parse(String($0))["event"]?.string })
        XCTAssertTrue(kinds.isSubset(of: ["avail", "used", "lapped", "stall", "recover"]), "polling only: \(kinds)")
        XCTAssertTrue(kinds.contains("used"), "the busy disk's completions, polled")

        let bpf = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0", "--json", "--events", "bpf", "--seconds", "2"])
        XCTAssertEqual(bpf.status, 2)
        XCTAssertEqual(bpf.stderr, "vqscope: --events bpf: eBPF is forbidden (VQSCOPE_EVENTS_NO_BPF=1)\n")
        XCTAssertEqual(bpf.stdout, "")

        unsetenv(EventModeChoice.forbidVariable)
        let poll = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0", "--json", "--events", "poll", "--seconds", "1"])
        XCTAssertEqual(poll.status, 0, poll.stderr)
        XCTAssertEqual(poll.stderr, "vqscope: events: poll\n")
    }

    /// What a split ring's driver asked of interrupts, read independently: avail flags,
    /// used_event (with EVENT_IDX), and the used index.
    struct WakeState {
        var flags: UInt16
        var usedEvent: UInt16?
        var used: UInt16

        /// The driver asked for no interrupt for every completion from `self` to `later`.
        func askedQuiet(until later: WakeState) -> Bool {
            if flags & 1 == 1 && later.flags & 1 == 1 { return true }
            guard let e = usedEvent, e == later.usedEvent else { return false }
            // vring_need_event(e, new, old) false for the whole step from used to later.used.
            return (later.used &- e &- 1) >= (later.used &- used)
        }
    }

    private func wakeState(_ guest: BenchGuest, _ q: Virtqueue) throws -> WakeState {
        let avail = q.location.driverArea.rawValue
        let eventIndex = q.location.features.contains(.eventIndex)
        return WakeState(flags: try guest.independentU16(avail),
                         usedEvent: eventIndex ? try guest.independentU16(avail + 4 + 2 * UInt64(q.location.size)) : nil,
                         used: try guest.independentU16(q.location.deviceArea.rawValue + 2))
    }
}
