import Foundation
import VQCore
import XCTest

/// The read-only allowlist: what it lets through, what it refuses and why, that the client enforces
/// it before sending, and that docs/qmp-allowlist.md lists exactly its commands.
final class QMPAllowlistTests: XCTestCase {
    func never(_: String) -> QMPAllowlist.VhostKnowledge { .unknown }

    func testListedQueriesPassAndAnythingElseIsRefused() {
        for command in ["qmp_capabilities", "query-status", "x-query-virtio", "x-query-virtio-status", "x-query-virtio-vhost-queue-status"] {
            XCTAssertNil(QMPAllowlist.check(command, arguments: nil, vhost: never), command)
        }
        for command in ["stop", "cont", "system_reset", "quit", "device_del", "dump-guest-memory", "query-version", "block_set_io_throttle"] {
            let reason = QMPAllowlist.check(command, arguments: nil, vhost: never)
            XCTAssertEqual(reason, "\(command) is not on vqscope's read-only allowlist (docs/qmp-allowlist.md)")
        }
    }

    func testQueueStateOnlyRightAfterTheDeviceSaidItsVhostIsStopped() {
        let arguments = JSON.object([("path", .string("/machine/peripheral/d0/virtio-backend")), ("queue", .int(0))])
        for command in ["x-query-virtio-queue-status", "x-query-virtio-queue-element"] {
            XCTAssertNil(QMPAllowlist.check(command, arguments: arguments, vhost: { _ in .stopped }))
            let started = QMPAllowlist.check(command, arguments: arguments, vhost: { _ in .started })
            XCTAssertTrue(started?.contains("its vhost is started") ?? false, started ?? "allowed")
            XCTAssertTrue(started?.contains("VHOST_USER_GET_VRING_BASE") ?? false)
            let unknown = QMPAllowlist.check(command, arguments: arguments, vhost: { _ in .unknown })
            XCTAssertTrue(unknown?.contains("only right after x-query-virtio-status") ?? false, unknown ?? "allowed")
            XCTAssertNotNil(QMPAllowlist.check(command, arguments: nil, vhost: { _ in .stopped }), "no path, no query")
        }
    }

    func testQOMGetReadsOnlyAddrTypeAndParentBus() {
        func args(_ property: String) -> JSON { .object([("path", .string("/machine/peripheral/d0")), ("property", .string(property))]) }
        XCTAssertNil(QMPAllowlist.check("qom-get", arguments: args("addr"), vhost: never))
        XCTAssertNil(QMPAllowlist.check("qom-get", arguments: args("type"), vhost: never))
        XCTAssertNil(QMPAllowlist.check("qom-get", arguments: args("parent_bus"), vhost: never))
        XCTAssertNotNil(QMPAllowlist.check("qom-get", arguments: args("legacy-iothread"), vhost: never))
        XCTAssertNotNil(QMPAllowlist.check("qom-get", arguments: nil, vhost: never))
    }

    func testHMPOnlyListedCommandsWithPlainArguments() {
        for line in ["info mtree -f", "info mtree", "info ramblock", "gpa2hva 0x1000", "gpa2hpa 0xfebf8000", "xp /1gx 0xfed90008"] {
            XCTAssertNil(QMPAllowlist.checkHMP(line), line)
        }
        for line in ["", "info status", "qemu-io d0 \"break read_aio t1\"", "system_reset", "hostfwd_add n0 tcp:127.0.0.1:1-:9",
                     "gpa2hva 0x1000; quit", "xp /1gx 0x0 0x1 0x2 0x3", "info", "q", "stop"] {
            XCTAssertNotNil(QMPAllowlist.checkHMP(line), line)
        }
        let through = QMPAllowlist.check("human-monitor-command", arguments: .object([("command-line", .string("savevm x"))]), vhost: never)
        XCTAssertEqual(through, "HMP `savevm` is not on vqscope's read-only allowlist (docs/qmp-allowlist.md)")
    }

    /// The page a user reads is the list the code enforces: same commands, same order.
    func testTheDocumentListsExactlyTheAllowlist() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/qmp-allowlist.md"), encoding: .utf8)
        func table(after heading: String) -> [String] {
            guard let start = text.range(of: heading) else { return [] }
            var names: [String] = []
            for line in text[start.upperBound...].split(separator: "\n").dropFirst() {
                if line.hasPrefix("## ") { break }
                guard line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") else { continue }
                names.append(String(line[line.index(line.startIndex, offsetBy: 3)..<end]))
            }
            return names
        }
        XCTAssertEqual(table(after: "## QMP commands"), QMPAllowlist.commands.map(\.command))
        XCTAssertEqual(table(after: "## HMP commands"), QMPAllowlist.hmpCommands.map(\.command))
    }

    /// A read-only client refuses before writing: the server never sees a refused command, and
    /// learns each device's vhost state from its own x-query-virtio-status answers.
    func testTheClientRefusesBeforeSendingAndLearnsVhostFromItsOwnAnswers() throws {
        let vhostPath = "/machine/peripheral/vublk0/virtio-backend", plainPath = "/machine/peripheral/d0/virtio-backend"
        let seen = Seen()
        let server = try QMPClientTests.FakeServer(greeting: QMPClientTests.greeting) { line in
            seen.add(line)
            let id = (try? JSON.parse(Array(line.utf8)))?["id"]?.int ?? 0
            if line.contains("x-query-virtio-status") {
                let started = line.contains(vhostPath)
                return #"{"return": {"vhost-started": \#(started), "num-vqs": 1}, "id": \#(id)}"# + "\r\n"
            }
            if line.contains("x-query-virtio-queue-status") {
                return #"{"return": {"vring-desc": 4096, "vring-num": 8, "used-idx": 3, "last-avail-idx": 3, "inuse": 0}, "id": \#(id)}"# + "\r\n"
            }
            return #"{"return": {}, "id": \#(id)}"# + "\r\n"
        }
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 5000)
        XCTAssertEqual(client.policy, .readOnly, "vqscope's clients are read-only unless told otherwise")
        func queueStatus(_ path: String) throws { try client.execute("x-query-virtio-queue-status", arguments: .object([("path", .string(path)), ("queue", .int(0))])) }

        XCTAssertThrowsError(try client.execute("stop")) { XCTAssertEqual(($0 as? QMPError).map { "\($0)" }?.hasPrefix("not sent: stop"), true) }
        XCTAssertThrowsError(try queueStatus(plainPath), "nothing heard yet")
        try client.execute("x-query-virtio-status", arguments: .object([("path", .string(plainPath))]))
        XCTAssertEqual(client.vhostKnowledge(path: plainPath), .stopped)
        XCTAssertNoThrow(try queueStatus(plainPath))
        try client.execute("x-query-virtio-status", arguments: .object([("path", .string(vhostPath))]))
        XCTAssertEqual(client.vhostKnowledge(path: vhostPath), .started)
        XCTAssertThrowsError(try queueStatus(vhostPath))
        let vhostQueue = Virtqueue(device: "virtio-blk", path: vhostPath, index: 0,
                                   location: VirtqueueLocation(layout: .split, size: 8, descriptors: GuestPhysicalAddress(4096),
                                                               driverArea: GuestPhysicalAddress(8192), deviceArea: GuestPhysicalAddress(12288)),
                                   backend: .vhostUser)
        XCTAssertNil(try QMPQueueStatus.deviceState(client: client, queue: vhostQueue), "a vhost queue's state is never asked")
        try client.userRequested(.stop)
        try client.execute("query-status")  // the last line has arrived once this answers

        let sent = seen.lines.compactMap { (try? JSON.parse(Array($0.utf8)))?["execute"]?.string }
        XCTAssertEqual(sent, ["qmp_capabilities", "x-query-virtio-status", "x-query-virtio-queue-status", "x-query-virtio-status", "stop", "query-status"])
        XCTAssertFalse(seen.lines.contains { $0.contains("x-query-virtio-queue-status") && $0.contains(vhostPath) })
    }
}

/// Lines a fake server received, from its thread.
final class Seen: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func add(_ line: String) { lock.lock(); stored.append(line); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}
