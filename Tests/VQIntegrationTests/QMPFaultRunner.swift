import Foundation
import VQCore
import XCTest

/// Runs the real vqscope on a bench guest through ``QMPFaultServer``s (`--qmp` names the fault
/// server, which stands in front of the guest's tool socket) and checks how each run ended. Made
/// once per test; ``finish()`` stops its servers and checks that QEMU itself is untouched.
final class QMPFaultRunner {
    /// One run of vqscope and how long it took.
    struct Run {
        var result: Tool.Result
        var seconds: TimeInterval
        var command: String
        /// Standard error without the event mode's line.
        var stderr: String { FaultTests.withoutEventsLine(result.stderr) }
        var stdout: String { result.stdout }
    }

    /// How long any one run may take: a QMP time-out is 2 s (the default), `watch` runs 3 s, and
    /// the machine may be loaded. A hang, before it was fixed, ran until the harness's 120 s.
    static let bound: TimeInterval = 45

    /// The QMP time-out of runs whose fault is not a time-out: long enough that QEMU's own answers,
    /// passed on, are never late on a loaded machine.
    static let patientTimeout = 15_000

    /// The commands under test and their arguments (`--pid`, `--qmp` and `--qmp-timeout` are
    /// added). `slots` asks for QMP's slot map only: with `--slots auto` a failing QMP map falls
    /// back to another source. `diagnose` keeps no history (the guest is shared with other tests).
    static let commands: [(name: String, arguments: [String])] = [
        ("slots", ["slots", "--slots", "qmp"]),
        ("queues", ["queues"]),
        ("dump", ["dump", "--queue", "virtio-blk:0"]),
        ("watch", ["watch", "--seconds", "3"]),
        ("diagnose", ["diagnose", "--seconds", "0.5", "--no-history"]),
    ]

    let guest: BenchGuest
    private var servers: [QMPFaultServer] = []

    init(_ guest: BenchGuest) { self.guest = guest }

    /// A new fault server in front of the guest's tool socket (stopped by ``finish()`` at the latest).
    func server(greeting: QMPFaultServer.Greeting = .real,
                _ rule: @escaping @Sendable (QMPFaultServer.Request) -> QMPFaultServer.Action = { _ in .pass }) throws -> QMPFaultServer {
        let server = try QMPFaultServer(upstream: guest.toolSocket, greeting: greeting, rule: rule)
        servers.append(server)
        return server
    }

    /// Stops every server and checks that QEMU still runs, whatever the faults did.
    func finish(file: StaticString = #filePath, line: UInt = #line) {
        for server in servers { server.stop() }
        XCTAssertEqual(try guest.harness.execute("query-status")["status"]?.string, "running", file: file, line: line)
    }

    /// Runs `arguments` against the guest through `server`, with `--qmp-timeout qmpTimeout` when
    /// given (else vqscope's default, 2000 ms).
    func run(_ arguments: [String], through server: QMPFaultServer, qmpTimeout: Int? = patientTimeout) throws -> Run {
        let start = Date()
        let timeout = qmpTimeout.map { ["--qmp-timeout", String($0)] } ?? []
        let result = try Tool.run(arguments + ["--pid", String(guest.pid), "--qmp", server.path] + timeout, timeout: 120)
        return Run(result: result, seconds: Date().timeIntervalSince(start), command: arguments.joined(separator: " "))
    }

    /// Runs each of `names` (default: every command of ``commands``) through `server`, by name.
    func runEach(_ names: [String]? = nil, through server: QMPFaultServer, qmpTimeout: Int? = patientTimeout) throws -> [String: Run] {
        var runs: [String: Run] = [:]
        for (name, arguments) in Self.commands where names?.contains(name) ?? true {
            runs[name] = try run(arguments, through: server, qmpTimeout: qmpTimeout)
        }
        return runs
    }

    /// `run` failed with `status`, one `vqscope: ...` line on stderr containing `needle`, within the
    /// bound, and was not killed by a signal.
    func expectFailure(_ run: Run?, status: Int32 = 2, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let run else { return XCTFail("not run", file: file, line: line) }
        let what = "vqscope \(run.command): exit \(run.result.status), stderr: \(run.stderr.prefix(600)), stdout: \(run.stdout.prefix(300))"
        XCTAssertFalse(run.result.signaled, what, file: file, line: line)
        XCTAssertEqual(run.result.status, status, what, file: file, line: line)
        XCTAssertTrue(FaultTests.isOneLine(run.stderr), what, file: file, line: line)
        XCTAssertTrue(run.stderr.contains(needle), "expected \"\(needle)\": " + what, file: file, line: line)
        XCTAssertLessThan(run.seconds, Self.bound, what, file: file, line: line)
    }

    /// `run` succeeded, printed nothing on stderr, within the bound.
    func expectSuccess(_ run: Run?, file: StaticString = #filePath, line: UInt = #line) {
        guard let run else { return XCTFail("not run", file: file, line: line) }
        let what = "vqscope \(run.command): exit \(run.result.status), stderr: \(run.stderr.prefix(600))"
        XCTAssertEqual(run.result.status, 0, what, file: file, line: line)
        XCTAssertEqual(run.stderr, "", what, file: file, line: line)
        XCTAssertLessThan(run.seconds, Self.bound, what, file: file, line: line)
    }
}

extension QMPFaultServer.Action: CustomStringConvertible {
    var isDrip: Bool { if case .drip = self { return true }; return false }

    var description: String {
        switch self {
        case .reply: return "reply"
        case .hang: return "hang"
        case .closeMidReply: return "close mid-reply"
        case .events: return "endless events"
        case .drip: return "a byte at a time"
        case .wrongID: return "another id"
        case .raw(let text): return "raw \(text.debugDescription)"
        }
    }
}

extension JSON {
    /// A QMP reply with its `return` value replaced by `value`.
    func returning(_ value: JSON) -> JSON {
        .object([("return", value), ("id", self["id"] ?? .null)])
    }

    /// A QMP reply whose `return` object has `changes` made to its fields.
    func returning(_ changes: [String: JSON]) -> JSON {
        guard case .object(var fields)? = self["return"] else { return self }
        for (key, value) in changes {
            if let i = fields.firstIndex(where: { $0.0 == key }) { fields[i].1 = value } else { fields.append((key, value)) }
        }
        return returning(.object(fields))
    }

    /// A QMP error reply of class `errorClass` to the same id.
    func failing(_ errorClass: String, _ description: String) -> JSON {
        .object([("error", .object([("class", .string(errorClass)), ("desc", .string(description))])), ("id", self["id"] ?? .null)])
    }
}
