import Foundation
import VQCore
import XCTest

/// The bench guest with more devices (variant `devices`): virtio-scsi with a disk, virtio-9p, a
/// virtio-keyboard (`kbd0`) and a virtio-tablet (`tablet0`), and the balloon with its statistics
/// polled, each kept busy by the guest. What vqscope decodes is compared with an independent decode
/// (in the test) of the same bytes, read through QEMU's gpa2hva and /proc/PID/mem.
final class DevicesGuestTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .devices }

    /// How long a condition on the guest may take on a loaded 2-core machine.
    static let patience: TimeInterval = 90

    /// A SCSI read held inside QEMU (blkdebug under the disk) is in flight for as long as the test
    /// likes: `dump` names its command, LBA and length exactly as the test's own decode of the CDB
    /// in guest memory does. (The guest is not paused: stopping the VM drains the disk, which waits
    /// for the held read forever; the held request's bytes do not change while it is held.)
    func testHeldSCSIReadIsNamedAsAnIndependentDecodeOfItsCDB() throws {
        let guest = try guest
        let scsi = try XCTUnwrap(try QMPVirtioSource.devices(client: guest.harness).first { $0.name == "virtio-scsi" })
        let requests = try XCTUnwrap(scsi.queues.first { $0.index == 2 }, "virtio-scsi's first request queue")
        let memory = IndependentMemory(guest)
        try guest.holdNextRead(drive: "sd0")
        var held = true
        defer { if held { try? guest.releaseHeldRead(drive: "sd0") } }

        var ring = (avail: UInt16(0), used: UInt16(0))
        try waitUntil("a SCSI read held in flight on virtio-scsi:2") {
            ring = (try memory.u16(requests.location.driverArea.rawValue + 2), try memory.u16(requests.location.deviceArea.rawValue + 2))
            let state = try XCTUnwrap(QMPQueueStatus.deviceState(client: guest.harness, queue: requests))
            return ring.avail &- ring.used == 1 && state.inUse == 1 && state.lastAvailIndex == ring.avail
        }
        // The test's own walk: avail entry `used`, its head descriptor (an indirect table's first
        // entry when INDIRECT), the request header virtio_scsi_cmd_req: lun[8] tag u64 task_attr
        // prio crn cdb[32].
        let size = UInt64(requests.location.size)
        let head = try memory.u16(requests.location.driverArea.rawValue + 4 + 2 * (UInt64(ring.used) % size))
        var first = try memory.descriptor(requests.location.descriptors.rawValue + 16 * UInt64(head))
        if first.flags & 4 != 0 { first = try memory.descriptor(first.address) }
        XCTAssertEqual(first.flags & 2, 0, "the request header is device-readable")
        XCTAssertGreaterThanOrEqual(first.length, 51)
        let header = try memory.bytes(first.address, 51)
        let tag = (0..<8).reduce(UInt64(0)) { $0 | UInt64(header[8 + $1]) << (8 * $1) }
        let cdb = Array(header[19...])
        let command = try XCTUnwrap(Self.decodeRead(cdb), "a READ command: opcode \(Hex.string(UInt64(cdb[0])))")
        XCTAssertEqual(header[0], 1, "single-level LUN")
        let lun = (UInt16(header[2]) << 8 | UInt16(header[3])) & 0x3fff
        XCTAssertEqual(command.blocks, 8, "the guest reads 4 KiB of 512-byte blocks")
        XCTAssertEqual(command.lba % 8, 0, "at a 4 KiB boundary")
        let expected = "scsi \(header[1]):\(lun) tag \(tag) \(command.name) lba \(command.lba) blocks \(command.blocks)"

        let r = try Tool.json(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-scsi:2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let inflight = try XCTUnwrap(r.json["inflight"]?.array)
        XCTAssertEqual(inflight.count, 1, r.json.text.prefix(600).description)
        XCTAssertEqual(inflight.first?["head"]?.uint64, UInt64(head))
        XCTAssertEqual(inflight.first?["payload"]?.string, expected)
        print("DevicesGuestTests: held \(expected)")
        try guest.releaseHeldRead(drive: "sd0")
        held = false
        try waitUntil("the held read completing") {
            try memory.u16(requests.location.deviceArea.rawValue + 2) != ring.used
        }
    }

    /// READ(6/10/16): name, LBA and blocks, decoded here from the SCSI block commands' layout
    /// (SBC-3), independently of vqscope's decoder.
    static func decodeRead(_ cdb: [UInt8]) -> (name: String, lba: UInt64, blocks: UInt32)? {
        func be(_ at: Int, _ count: Int) -> UInt64 { cdb[at..<at + count].reduce(0) { $0 << 8 | UInt64($1) } }
        switch cdb[0] {
        case 0x08: return ("READ(6)", be(1, 3) & 0x1f_ffff, cdb[4] == 0 ? 256 : UInt32(cdb[4]))
        case 0x28: return ("READ(10)", be(2, 4), UInt32(be(7, 2)))
        case 0x88: return ("READ(16)", be(2, 8), UInt32(be(10, 4)))
        default: return nil
        }
    }

    /// The balloon's statistics buffer, held by QEMU until it polls again, is decoded as the test
    /// decodes it (virtio_balloon_stat: tag u16, value u64, packed), and `diagnose` calls it the
    /// driver's data held for the device to read, not a buffer posted for the device to fill.
    func testBalloonStatisticsAreDeviceReadableAndDecodedAsAnIndependentRead() throws {
        let guest = try guest
        let balloon = try XCTUnwrap(try QMPVirtioSource.devices(client: guest.harness).first { $0.name == "virtio-balloon" })
        let stats = try XCTUnwrap(balloon.queues.first { $0.index == 2 }, "the statistics queue")
        let memory = IndependentMemory(guest)
        let names = ["swap-in", "swap-out", "major-faults", "minor-faults", "free-memory", "total-memory",
                     "available-memory", "disk-caches", "hugetlb-allocations", "hugetlb-failures"]
        var checked = false
        for _ in 0..<20 where !checked {
            try guest.paused {
                let avail = try memory.u16(stats.location.driverArea.rawValue + 2)
                let used = try memory.u16(stats.location.deviceArea.rawValue + 2)
                guard avail &- used == 1 else { return }  // between QEMU's answer and the driver's next buffer
                let head = try memory.u16(stats.location.driverArea.rawValue + 4 + 2 * (UInt64(used) % UInt64(stats.location.size)))
                let d = try memory.descriptor(stats.location.descriptors.rawValue + 16 * UInt64(head))
                XCTAssertEqual(d.flags & 2, 0, "device-readable")
                let bytes = try memory.bytes(d.address, Int(d.length))
                var entries: [String] = []
                for o in stride(from: 0, to: bytes.count - 9, by: 10) {
                    let tag = Int(bytes[o]) | Int(bytes[o + 1]) << 8
                    let value = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[o + 2 + $1]) << (8 * $1) }
                    entries.append("\(tag < names.count ? names[tag] : "tag \(tag)") \((4...7).contains(tag) ? Hex.humanSize(value) : String(value))")
                }
                XCTAssertTrue(entries.contains { $0.hasPrefix("free-memory ") }, "\(entries)")
                let r = try Tool.json(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-balloon:2"])
                XCTAssertEqual(r.status, 0, r.stderr)
                let inflight = try XCTUnwrap(r.json["inflight"]?.array)
                XCTAssertEqual(inflight.count, 1)
                XCTAssertEqual(inflight.first?["payload"]?.string, "balloon stats " + entries.joined(separator: ", "))

                let diagnosis = try Tool.json(["diagnose", "--pid", String(guest.pid), "--qmp", guest.toolSocket,
                                               "--queue", "virtio-balloon:2", "--seconds", "0.5"])
                XCTAssertEqual(diagnosis.status, 0, diagnosis.stderr)
                let q = try XCTUnwrap(diagnosis.json["queues"]?.array?.first)
                XCTAssertEqual(q["health"]?.string, "waiting", q.text)
                let reasons = q["reasons"]?.array?.compactMap(\.string).joined(separator: "; ") ?? ""
                XCTAssertTrue(reasons.hasPrefix("1 buffer of the driver's data held for the device to read when it asks (device-readable)"), reasons)
                XCTAssertFalse(reasons.contains("to fill"), reasons)
                checked = true
            }
            if !checked { Thread.sleep(forTimeInterval: 0.3) }
        }
        XCTAssertTrue(checked, "the statistics buffer was never in flight on a paused guest")
    }

    /// The keyboard and the tablet (both named virtio-input by QEMU) are told apart by their ids in
    /// `queues`, `diagnose` and the inspector; their event queues hold the buffers the driver posted,
    /// decoded as room for input events, exactly as many as an independent read finds in flight.
    func testInputDevicesAreToldApartAndTheirPostedEventBuffersNamed() throws {
        let guest = try guest
        let pid = String(guest.pid)
        let labels = ["virtio-input[kbd0]:0", "virtio-input[kbd0]:1", "virtio-input[tablet0]:0", "virtio-input[tablet0]:1"]
        let queues = try Tool.json(["queues", "--pid", pid, "--qmp", guest.toolSocket])
        XCTAssertEqual(queues.status, 0, queues.stderr)
        let rows = try XCTUnwrap(queues.json["queues"]?.array)
        XCTAssertEqual(rows.compactMap { $0["label"]?.string }.filter { $0.hasPrefix("virtio-input") }, labels)
        let diagnosis = try Tool.json(["diagnose", "--pid", pid, "--qmp", guest.toolSocket, "--seconds", "0.5"])
        XCTAssertEqual(diagnosis.status, 0, diagnosis.stderr)
        let judged = try XCTUnwrap(diagnosis.json["queues"]?.array)
        XCTAssertEqual(judged.compactMap { $0["label"]?.string }.filter { $0.hasPrefix("virtio-input") }, labels)
        for q in judged where q["label"]?.string?.hasSuffix("]:0") == true && q["device"]?.string == "virtio-input" {
            XCTAssertEqual(q["health"]?.string, "waiting", "event buffers posted for input that does not come: \(q.text)")
        }

        let memory = IndependentMemory(guest)
        let devices = try QMPVirtioSource.devices(client: guest.harness)
        for id in ["kbd0", "tablet0"] {
            let events = try XCTUnwrap(devices.first { $0.path.contains("/\(id)/") }?.queues.first { $0.index == 0 }, id)
            try guest.paused {
                let avail = try memory.u16(events.location.driverArea.rawValue + 2)
                let used = try memory.u16(events.location.deviceArea.rawValue + 2)
                let r = try Tool.json(["dump", "--pid", pid, "--qmp", guest.toolSocket, "--queue", "virtio-input[\(id)]:0"])
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertEqual(r.json["label"]?.string, "virtio-input[\(id)]:0")
                let inflight = try XCTUnwrap(r.json["inflight"]?.array)
                XCTAssertEqual(inflight.count, Int(avail &- used), "\(id): in flight as an independent read counts it")
                XCTAssertGreaterThan(inflight.count, 0)
                for f in inflight {
                    let head = try XCTUnwrap(f["head"]?.uint64)
                    let d = try memory.descriptor(events.location.descriptors.rawValue + 16 * head)
                    XCTAssertEqual(d.flags & 2, 2, "device-writable")
                    let events = d.length / 8
                    XCTAssertEqual(f["payload"]?.string, "input: room for \(events) event\(events == 1 ? "" : "s"), posted for the device to fill")
                }
            }
        }

        let session = try TmuxSession(["--pid", pid, "--qmp", guest.toolSocket], width: 140, height: 50)
        let screen = try session.wait(for: "both input devices' queues by id", timeout: 60) { screen in
            labels.allSatisfy { DemoInspectorTests.queueRow(screen, $0) != nil } && screen.contains("LIVE")
        }
        XCTAssertFalse(screen.contains("virtio-input:0"), screen)
        // The tablet's Chains view: its posted buffers named, in the list and the hexdump's header.
        for _ in 0..<16 where !(try session.screen().contains("┌ virtio-input[tablet0]:0")) {
            try session.send("]")
            Thread.sleep(forTimeInterval: 0.3)
        }
        try session.wait(for: "virtio-input[tablet0]:0 selected") { $0.contains("┌ virtio-input[tablet0]:0") }
        try session.send("Enter")
        let chains = try session.wait(for: "the tablet's posted buffers named in the Chains view", timeout: 30) { screen in
            screen.split(separator: "\n").contains { $0.contains("LIVE") && $0.contains("input: room for 1 event, posted for the device to fill") }
        }
        XCTAssertTrue(chains.contains("virtio-input input: room for 1 event, posted for the device to fill"), chains)
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }

    /// `watch` names the 9P messages the guest's reads of its share make, and only requests: a
    /// chain's bytes are read only while the ring shows it in flight (a request made available and
    /// used within one poll, or whose head may have been recycled, goes without payload).
    func testWatchNamesNinePMessages() throws {
        let guest = try guest
        var named: [String] = []
        var availEvents = 0, availNamed = 0
        for _ in 0..<4 where !named.contains(where: Self.walksTheShare) {
            let lines = try watchLines(guest, queue: "virtio-9p:0", seconds: 4)
            let payloads = lines.compactMap { $0["payload"]?.string }
            let avail = lines.filter { $0["event"]?.string == "avail" }
            availEvents += avail.count
            availNamed += avail.filter { $0["payload"]?.string != nil }.count
            // Every payload is the request its chain carried, never a reply or a later request's.
            let others = payloads.filter { !$0.hasPrefix("9p T") }
            XCTAssertEqual(others, [], "requests, named, among \(payloads.count)")
            named += payloads
        }
        XCTAssertTrue(named.contains(where: Self.walksTheShare), "a Twalk to a name in the share: \(named.prefix(20))")
        // Certainty costs every request whose head was used (or made available again) within the
        // poll or while its bytes were read: the guest's requests follow each other on one head,
        // so at most one a poll is named (about 4 to 12 in 100 here), never a wrong one.
        XCTAssertGreaterThan(availNamed * 50, availEvents, "avail events named: \(availNamed) of \(availEvents)")
        print("DevicesGuestTests: 9p avail events named \(availNamed) of \(availEvents); payloads \(named.count): \(Set(named.compactMap { $0.split(separator: " ").dropFirst().first }).sorted())")
    }

    /// The inspector's Events view of virtio-9p:0 names the messages as `watch` does.
    func testInspectorEventsNameNinePMessages() throws {
        let guest = try guest
        let session = try TmuxSession(["--pid", String(guest.pid), "--qmp", guest.toolSocket], width: 140, height: 45)
        try session.wait(for: "the queues", timeout: 60) { DemoInspectorTests.queueRow($0, "virtio-9p:0") != nil && $0.contains("LIVE") }
        for _ in 0..<8 where !(try session.screen().contains("┌ virtio-9p:0")) {
            try session.send("]")
            Thread.sleep(forTimeInterval: 0.3)
        }
        try session.wait(for: "virtio-9p:0 selected") { $0.contains("┌ virtio-9p:0") }
        try session.send("Enter")
        try session.send("Tab")
        let screen = try session.wait(for: "a 9P request named in the Events view", timeout: 60) { screen in
            screen.contains("Events of virtio-9p:0") && screen.split(separator: "\n").contains { $0.contains("virtio-9p:0") && $0.contains("  9p T") }
        }
        let named = screen.split(separator: "\n").filter { $0.contains("  9p ") }
        XCTAssertTrue(named.allSatisfy { $0.contains("  9p T") }, named.joined(separator: "\n"))
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }

    static func walksTheShare(_ payload: String) -> Bool {
        payload.hasPrefix("9p Twalk") && ["hello.txt", "lines.txt", "sub", "deep.txt"].contains { payload.contains("\"\($0)\"") }
    }

    /// Input the test gives QEMU (a key to the keyboard, a pointer position to the tablet) comes
    /// out of each device's own event queue, named as evdev names it; the other device's queue
    /// stays still.
    func testWatchNamesInputEventsPerDevice() throws {
        let guest = try guest
        let key: @Sendable (Bool) -> JSON = { down in
            .object([("type", .string("key")), ("data", .object([("down", .bool(down)),
                     ("key", .object([("type", .string("qcode")), ("data", .string("a"))]))]))])
        }
        let abs: @Sendable (String, Int64) -> JSON = { axis, value in
            .object([("type", .string("abs")), ("data", .object([("axis", .string(axis)), ("value", .int(value))]))])
        }
        // Eight presses and releases a watch: an event whose buffer the driver posted again within
        // the poll that saw it used (the device may be writing it again) goes without payload, never
        // with another's; which events a poll catches between used and re-posted is the scheduler's
        // luck, so watches go on (up to twenty) until each kind has been named.
        let expected = ["input EV_KEY KEY_A 1", "input EV_KEY KEY_A 0", "input EV_SYN SYN_REPORT",
                        "input: room for 1 event, posted for the device to fill"]
        var keyboard: [String] = []
        for _ in 0..<20 where !["input EV_KEY KEY_A 1", "input EV_KEY KEY_A 0", "input EV_SYN SYN_REPORT"].allSatisfy(keyboard.contains) {
            let named = try watchPayloads(guest, queue: "virtio-input[kbd0]:0", seconds: 6) {
                for _ in 0..<8 {
                    _ = try? guest.harness.execute("input-send-event", arguments: .object([("events", .array([key(true)]))]))
                    Thread.sleep(forTimeInterval: 0.2)
                    _ = try? guest.harness.execute("input-send-event", arguments: .object([("events", .array([key(false)]))]))
                    Thread.sleep(forTimeInterval: 0.2)
                }
            }
            XCTAssertTrue(named.allSatisfy(expected.contains), "\(named)")
            keyboard += named
        }
        XCTAssertTrue(keyboard.contains("input EV_KEY KEY_A 1"), "\(keyboard)")
        XCTAssertTrue(keyboard.contains("input EV_KEY KEY_A 0"), "\(keyboard)")
        XCTAssertTrue(keyboard.contains("input EV_SYN SYN_REPORT"), "\(keyboard)")
        XCTAssertFalse(keyboard.contains { $0.contains("EV_ABS") }, "\(keyboard)")
        var tablet: [String] = []
        for _ in 0..<20 where !(tablet.contains { $0.hasPrefix("input EV_ABS ABS_X ") } && tablet.contains { $0.hasPrefix("input EV_ABS ABS_Y ") }) {
            tablet += try watchPayloads(guest, queue: "virtio-input[tablet0]:0", seconds: 6) {
                for k in 0..<8 {
                    _ = try? guest.harness.execute("input-send-event", arguments: .object([("events", .array([abs("x", 1000 + Int64(k)), abs("y", 2000)]))]))
                    Thread.sleep(forTimeInterval: 0.3)
                }
            }
        }
        XCTAssertTrue(tablet.contains { $0.hasPrefix("input EV_ABS ABS_X ") }, "\(tablet)")
        XCTAssertTrue(tablet.contains { $0.hasPrefix("input EV_ABS ABS_Y ") }, "\(tablet)")
        XCTAssertFalse(tablet.contains { $0.contains("EV_KEY") }, "\(tablet)")
    }

    /// The payloads of `watch --json` on `queue` over `seconds`; `stimulus` runs 2 s in, while the
    /// watch runs.
    private func watchPayloads(_ guest: BenchGuest, queue: String, seconds: Int, stimulus: (@Sendable () -> Void)? = nil) throws -> [String] {
        try watchLines(guest, queue: queue, seconds: seconds, stimulus: stimulus).compactMap { $0["payload"]?.string }
    }

    /// The lines of `watch --json` on `queue` over `seconds` (see ``watchPayloads``).
    private func watchLines(_ guest: BenchGuest, queue: String, seconds: Int, stimulus: (@Sendable () -> Void)? = nil) throws -> [JSON] {
        if let stimulus { DispatchQueue.global().asyncAfter(deadline: .now() + 2, execute: stimulus) }
        let r = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", queue,
                              "--seconds", String(seconds), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
        XCTAssertFalse(lines.isEmpty, "\(queue) moved in \(seconds) s")
        return lines
    }

    private func waitUntil(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(Self.patience)
        while try !condition() {
            guard Date() < deadline else { throw BenchError("timed out waiting for \(what)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}

/// Guest memory read through QEMU's own gpa2hva and /proc/PID/mem, page by page: independent of
/// vqscope's slot map and readers.
struct IndependentMemory {
    let guest: BenchGuest

    init(_ guest: BenchGuest) { self.guest = guest }

    func bytes(_ gpa: UInt64, _ count: Int) throws -> [UInt8] {
        let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(guest.pid)/mem"))
        defer { try? mem.close() }
        var out: [UInt8] = []
        var at = gpa
        while out.count < count {
            let piece = min(count - out.count, Int(4096 - at % 4096))
            guard let hva = try guest.gpa2hva(at) else { throw BenchError("QEMU: no hva for \(Hex.string(at))") }
            try mem.seek(toOffset: hva)
            let chunk = [UInt8](try mem.read(upToCount: piece) ?? Data())
            guard chunk.count == piece else { throw BenchError("short read at \(Hex.string(at))") }
            out += chunk
            at += UInt64(piece)
        }
        return out
    }

    func u16(_ gpa: UInt64) throws -> UInt16 {
        let b = try bytes(gpa, 2)
        return UInt16(b[0]) | UInt16(b[1]) << 8
    }

    /// A split ring descriptor: addr u64, len u32, flags u16, next u16.
    func descriptor(_ gpa: UInt64) throws -> (address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
        let b = try bytes(gpa, 16)
        let address = (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * $1) }
        let length = (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[8 + $1]) << (8 * $1) }
        return (address, length, UInt16(b[12]) | UInt16(b[13]) << 8, UInt16(b[14]) | UInt16(b[15]) << 8)
    }
}
