import Foundation
import Glibc
import VQCore
import XCTest

/// QMP against a scripted server on a Unix socket: honest, silent, lying and closing peers.
final class QMPClientTests: XCTestCase {
    /// A Unix socket listening for one client at a fresh path named after `prefix`.
    static func listen(_ prefix: String) throws -> (path: String, fd: Int32) {
        let path = NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        unlink(path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0, Glibc.listen(listener, 1) == 0 else { throw BenchError("cannot listen on \(path)") }
        return (path, listener)
    }

    /// A one-connection server that answers each line with `respond(line)`: nil hangs up, and an
    /// answer ending in NUL is sent (without it) before hanging up.
    final class FakeServer: @unchecked Sendable {
        let path: String
        private let fd: Int32
        private let thread: Thread

        init(greeting: String?, respond: @escaping @Sendable (String) -> String?) throws {
            let (path, listener) = try QMPClientTests.listen("vqscope-qmp")
            self.path = path
            self.fd = listener
            thread = Thread {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                defer { close(client) }
                func send(_ s: String) { _ = s.withCString { Glibc.send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
                if let greeting { send(greeting) }
                var pending = ""
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = recv(client, &buffer, buffer.count, 0)
                    if n <= 0 { return }
                    pending += String(decoding: buffer[0..<n], as: UTF8.self)
                    while let nl = pending.firstIndex(of: "\n") {
                        let line = String(pending[..<nl])
                        pending = String(pending[pending.index(after: nl)...])
                        guard let reply = respond(line) else { return }  // nil: hang up
                        if reply.hasSuffix("\u{0}") { send(String(reply.dropLast())); return }  // send, then hang up
                        send(reply)
                    }
                }
            }
            thread.start()
        }

        deinit { close(fd); unlink(path) }
    }

    static let greeting = #"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}"# + "\r\n"

    func testHonestServerWithEventsInterleaved() throws {
        let server = try FakeServer(greeting: Self.greeting) { line in
            if line.contains("qmp_capabilities") { return #"{"return": {}, "id": 1}"# + "\r\n" }
            if line.contains("human-monitor-command") {
                return #"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}"# + "\r\n" + #"{"return": "Host virtual address for 0x1000 (pc.ram) is 0x7f00001000\r\n", "id": 2}"# + "\r\n"
            }
            return #"{"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": 3}"# + "\r\n"
        }
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 2000, policy: .unrestricted)
        XCTAssertEqual(client.version, "7.2.0")
        XCTAssertEqual(QMPSlotSource.parseHostAddress(try client.humanMonitorCommand("gpa2hva 0x1000")), 0x7f_0000_1000)
        XCTAssertThrowsError(try client.execute("nope")) { error in
            XCTAssertEqual(error as? QMPError, .commandFailed(command: "nope", errorClass: "CommandNotFound", description: "The command nope has not been found"))
        }
    }

    /// A socket that accepts and says nothing is held by another client: vqscope waits 300 ms for
    /// the greeting, not the whole time-out.
    func testSilentSocketIsHeldAfterAShortWait() throws {
        let server = try FakeServer(greeting: nil) { _ in "" }
        let start = Date()
        XCTAssertThrowsError(try QMPClient(path: server.path, timeoutMilliseconds: 5000)) { error in
            XCTAssertEqual(error as? QMPError, .held(path: server.path, milliseconds: 300, holder: nil))
            XCTAssertTrue("\(error)".contains("did not send the greeting within 300 ms: it is held by another client"), "\(error)")
            XCTAssertTrue("\(error)".contains("-qmp unix:PATH,server=on,wait=off"), "\(error)")
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(seconds, 0.29)
        XCTAssertLessThan(seconds, 2, "waited the whole time-out for a greeting")
        // A time-out shorter than the greeting wait bounds it.
        let short = try FakeServer(greeting: nil) { _ in "" }
        XCTAssertThrowsError(try QMPClient(path: short.path, timeoutMilliseconds: 100)) { error in
            XCTAssertEqual(error as? QMPError, .held(path: short.path, milliseconds: 100, holder: nil))
        }
    }

    /// Like QEMU while libvirt holds its monitor: the listener accepts nobody, so the connection
    /// waits in its queue. vqscope gives up and closes it: accepted later (libvirt gone), it is
    /// already at its end, never a half-open connection that would take libvirt's place.
    func testHeldSocketIsClosedAtOnce() throws {
        let (path, listener) = try Self.listen("vqscope-qmpheld")
        defer { close(listener); unlink(path) }
        XCTAssertThrowsError(try QMPClient(path: path, timeoutMilliseconds: 2000)) { error in
            XCTAssertEqual(error as? QMPError, .held(path: path, milliseconds: 300, holder: nil))
        }
        let queued = accept(listener, nil, nil)
        XCTAssertGreaterThanOrEqual(queued, 0)
        defer { close(queued) }
        var byte: UInt8 = 0
        XCTAssertEqual(recv(queued, &byte, 1, Int32(MSG_DONTWAIT)), 0, "the connection vqscope gave up on is still open")
        // The holder is named when known, with libvirt's advice for a libvirt domain.
        let named = QMPError.held(path: path, milliseconds: 300, holder: nil).naming(holder: .libvirt(domain: "vm1"))
        XCTAssertEqual(named, .held(path: path, milliseconds: 300, holder: .libvirt(domain: "vm1")))
        XCTAssertTrue("\(named)".contains("did not send the greeting within 300 ms: it is held by libvirt, the monitor of domain 'vm1'"), "\(named)")
        XCTAssertTrue("\(named)".contains("<qemu:commandline>"), "\(named)")
        XCTAssertEqual(named.naming(holder: nil), named)
        XCTAssertEqual(QMPError.closed(path: path).naming(holder: .libvirt(domain: "vm1")), .closed(path: path), "only .held names a holder")
    }

    /// A listener whose queue is full refuses at once instead of blocking the connect.
    func testFullQueueIsHeldAtOnce() throws {
        let (path, listener) = try Self.listen("vqscope-qmpfull")
        defer { close(listener); unlink(path) }
        XCTAssertEqual(Glibc.listen(listener, 0), 0)
        var queued: [Int32] = []
        defer { queued.forEach { close($0) } }
        // Fill the queue with connections nobody accepts (non-blocking, so the test cannot hang).
        for _ in 0..<4 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            queued.append(fd)
            if rc != 0 { break }
        }
        let start = Date()
        XCTAssertThrowsError(try QMPClient(path: path, timeoutMilliseconds: 2000)) { error in
            XCTAssertEqual(error as? QMPError, .held(path: path, milliseconds: 0, holder: nil))
            XCTAssertTrue("\(error)".contains("accepts no more connections: it is held by another client"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.2)
    }

    func testGarbageAndClosingPeers() throws {
        let garbage = try FakeServer(greeting: "HTTP/1.1 400 Bad Request\r\n") { _ in nil }
        XCTAssertThrowsError(try QMPClient(path: garbage.path, timeoutMilliseconds: 1000)) { error in
            guard case .garbage = error as? QMPError else { return XCTFail("\(error)") }
        }
        let notQMP = try FakeServer(greeting: #"{"hello": 1}"# + "\n") { _ in nil }
        XCTAssertThrowsError(try QMPClient(path: notQMP.path, timeoutMilliseconds: 1000)) { error in
            XCTAssertEqual(error as? QMPError, .garbage(path: notQMP.path, reason: "no QMP greeting"))
        }
        // Closes in the middle of a reply.
        let closing = try FakeServer(greeting: Self.greeting) { line in
            line.contains("qmp_capabilities") ? #"{"return": {"# + "\u{0}" : nil
        }
        XCTAssertThrowsError(try QMPClient(path: closing.path, timeoutMilliseconds: 1000)) { error in
            XCTAssertEqual(error as? QMPError, .closed(path: closing.path))
        }
        // A reply with no return and no error.
        let lying = try FakeServer(greeting: Self.greeting) { _ in #"{"id": 1, "retrun": {}}"# + "\n" }
        XCTAssertThrowsError(try QMPClient(path: lying.path, timeoutMilliseconds: 1000)) { error in
            guard case .garbage(_, let reason) = error as? QMPError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("reply without return"), reason)
        }
        // Deeply nested JSON is refused, not recursed into.
        let deep = try FakeServer(greeting: String(repeating: "[", count: 100_000) + "\n") { _ in nil }
        XCTAssertThrowsError(try QMPClient(path: deep.path, timeoutMilliseconds: 2000)) { error in
            guard case .garbage(_, let reason) = error as? QMPError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("nested deeper"), reason)
        }
    }

    /// A one-connection server whose answers take their time: `respond(line, send)` answers each
    /// line through `send` (false once the client is gone or the server stopped), as slowly or as
    /// often as it likes, and returns whether to read the next line. It keeps every line it read.
    final class SlowServer: @unchecked Sendable {
        /// What the server thread and the test share.
        final class State: @unchecked Sendable {
            private let lock = NSLock()
            private var _stopped = false
            private var _lines: [String] = []
            var stopped: Bool { lock.withLock { _stopped } }
            var lines: [String] { lock.withLock { _lines } }
            func stop() { lock.withLock { _stopped = true } }
            func record(_ line: String) { lock.withLock { _lines.append(line) } }
        }

        let path: String
        let state = State()
        private let fd: Int32

        /// `greetingEvery`: send the greeting a byte every so many seconds instead of at once.
        init(greeting: String = QMPClientTests.greeting, greetingEvery: TimeInterval? = nil,
             respond: @escaping @Sendable (_ line: String, _ send: (String) -> Bool) -> Bool) throws {
            let (path, listener) = try QMPClientTests.listen("vqscope-qmpslow")
            self.path = path
            fd = listener
            let state = state
            Thread.detachNewThread {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                defer { close(client) }
                func send(_ text: String) -> Bool {
                    !state.stopped && text.withCString { Glibc.send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) } >= 0
                }
                guard greetingEvery.map({ SlowServer.drip(greeting, every: $0, send) }) ?? send(greeting) else { return }
                var pending = ""
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !state.stopped {
                    let n = recv(client, &buffer, buffer.count, 0)
                    if n <= 0 { return }
                    pending += String(decoding: buffer[0..<n], as: UTF8.self)
                    while let nl = pending.firstIndex(of: "\n") {
                        let line = String(pending[..<nl])
                        pending = String(pending[pending.index(after: nl)...])
                        state.record(line)
                        guard respond(line, send) else { return }
                    }
                }
            }
        }

        /// Whether the client sent a line containing `text`.
        func received(_ text: String) -> Bool { state.lines.contains { $0.contains(text) } }

        deinit {
            state.stop()
            close(fd)
            unlink(path)
        }

        /// `text` a byte every `interval` seconds, until done or the client is gone.
        static func drip(_ text: String, every interval: TimeInterval, _ send: (String) -> Bool) -> Bool {
            for c in text.unicodeScalars {
                guard send(String(c)) else { return false }
                Thread.sleep(forTimeInterval: interval)
            }
            return true
        }

        /// `line` again and again, every `interval` seconds, until the client is gone.
        static func flood(_ line: String, every interval: TimeInterval, _ send: (String) -> Bool) -> Bool {
            while send(line) { Thread.sleep(forTimeInterval: interval) }
            return false
        }

        /// Answers `qmp_capabilities` at once; hands every other line to `other`.
        static func negotiating(_ other: @escaping @Sendable (String, (String) -> Bool) -> Bool) -> @Sendable (String, (String) -> Bool) -> Bool {
            { line, send in line.contains("qmp_capabilities") ? send(#"{"return": {}, "id": 1}"# + "\r\n") : other(line, send) }
        }
    }

    static let event = #"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RTC_CHANGE", "data": {"offset": 0}}"# + "\r\n"

    /// Runs `body` and returns its QMP error and how long it took (nil error: it did not throw one).
    func timed(_ body: () throws -> Void) -> (error: QMPError?, seconds: TimeInterval) {
        let start = Date()
        do { try body() } catch { return (error as? QMPError, Date().timeIntervalSince(start)) }
        return (nil, Date().timeIntervalSince(start))
    }

    /// The reply arrives, a byte every 50 ms, but not whole within the time-out: a wait per read
    /// would never end; the time-out for the whole reply ends it, naming the command.
    func testReplyDrippedAByteAtATimeTimesOutWhole() throws {
        let server = try SlowServer(respond: SlowServer.negotiating { _, send in
            SlowServer.drip(#"{"return": {"status": "running", "running": true}, "id": 2}"# + "\r\n", every: 0.05, send)
        })
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 400, policy: .unrestricted)
        let (error, seconds) = timed { try client.execute("query-status") }
        XCTAssertEqual(error, .timeout(path: server.path, waitingFor: "the reply to query-status", milliseconds: 400))
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("did not send the reply to query-status within 400 ms"), "\(String(describing: error))")
        XCTAssertGreaterThanOrEqual(seconds, 0.39)
        XCTAssertLessThan(seconds, 2.5, "the whole reply's time-out did not end the wait")
    }

    /// An HMP command's time-out names its command line.
    func testDrippedHMPReplyNamesTheCommandLine() throws {
        let server = try SlowServer(respond: SlowServer.negotiating { _, send in
            SlowServer.drip(#"{"return": "Host virtual address for 0x1000 (pc.ram) is 0x7f00001000\r\n", "id": 2}"# + "\r\n", every: 0.05, send)
        })
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 300, policy: .unrestricted)
        let (error, seconds) = timed { _ = try client.humanMonitorCommand("gpa2hva 0x1000") }
        XCTAssertEqual(error, .timeout(path: server.path, waitingFor: "the reply to HMP `gpa2hva 0x1000`", milliseconds: 300))
        XCTAssertLessThan(seconds, 2.3)
    }

    /// The greeting, a byte every 50 ms, must also come whole within the time-out.
    func testGreetingDrippedTimesOut() throws {
        let server = try SlowServer(greetingEvery: 0.05) { _, _ in false }
        let (error, seconds) = timed { _ = try QMPClient(path: server.path, timeoutMilliseconds: 300, policy: .unrestricted) }
        XCTAssertEqual(error, .timeout(path: server.path, waitingFor: "the greeting", milliseconds: 300))
        XCTAssertGreaterThanOrEqual(seconds, 0.29)
        XCTAssertLessThan(seconds, 2.3)
    }

    /// Events without end, never the reply: the time-out ends it and says how many came instead.
    func testEndlessEventsTimeOut() throws {
        let server = try SlowServer(respond: SlowServer.negotiating { _, send in SlowServer.flood(QMPClientTests.event, every: 0.02, send) })
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 400, policy: .unrestricted)
        let (error, seconds) = timed { try client.execute("query-status") }
        guard case .timeout(let path, let what, 400)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(path, server.path)
        XCTAssertTrue(what.hasPrefix("the reply to query-status, only "), what)
        XCTAssertTrue(what.hasSuffix(" events or replies to other ids,"), what)
        XCTAssertTrue("\(error!)".contains("did not send the reply to query-status, only "), "\(error!)")
        XCTAssertTrue("\(error!)".contains("within 400 ms"), "\(error!)")
        XCTAssertGreaterThanOrEqual(seconds, 0.39)
        XCTAssertLessThan(seconds, 2.5)
    }

    /// The reply, under another id, again and again: not the answer asked for, so a time-out.
    func testRepliesToAnotherIDTimeOut() throws {
        let server = try SlowServer(respond: SlowServer.negotiating { _, send in
            SlowServer.flood(#"{"return": {"status": "running", "running": true}, "id": 1002}"# + "\r\n", every: 0.02, send)
        })
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 400, policy: .unrestricted)
        let (error, seconds) = timed { try client.execute("query-status") }
        guard case .timeout(_, let what, 400)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(what.hasPrefix("the reply to query-status, only "), what)
        XCTAssertFalse(what.hasPrefix("the reply to query-status, only 0 "), what)
        XCTAssertGreaterThanOrEqual(seconds, 0.39)
        XCTAssertLessThan(seconds, 2.5)
    }

    /// After a time-out the peer is not asked again: later commands, HMP too, fail at once with the
    /// first error (naming the command that hung), and never reach the socket.
    func testAfterATimeOutLaterCommandsFailAtOnce() throws {
        let server = try SlowServer(respond: SlowServer.negotiating { _, _ in true })  // reads on, never answers
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 300, policy: .unrestricted)
        let first = timed { try client.execute("query-status") }
        let expected = QMPError.timeout(path: server.path, waitingFor: "the reply to query-status", milliseconds: 300)
        XCTAssertEqual(first.error, expected)
        XCTAssertGreaterThanOrEqual(first.seconds, 0.29)
        for _ in 0..<3 {
            let later = timed { try client.execute("query-version") }
            XCTAssertEqual(later.error, expected)
            XCTAssertLessThan(later.seconds, 0.1, "a later command waited again")
        }
        let hmp = timed { _ = try client.humanMonitorCommand("info mtree -f") }
        XCTAssertEqual(hmp.error, expected)
        XCTAssertLessThan(hmp.seconds, 0.1)
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertTrue(server.received("query-status"))
        XCTAssertFalse(server.received("query-version"), "a later command was sent")
        XCTAssertFalse(server.received("info mtree"), "a later command was sent")
    }

    /// After the peer closes (here in the middle of a reply), later commands fail at once with
    /// the same error.
    func testAfterACloseLaterCommandsFailAtOnce() throws {
        let server = try SlowServer(respond: SlowServer.negotiating { _, send in
            _ = send(#"{"return": {"stat"#)
            return false  // hangs up
        })
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 2000, policy: .unrestricted)
        let first = timed { try client.execute("query-status") }
        XCTAssertEqual(first.error, .closed(path: server.path))
        XCTAssertLessThan(first.seconds, 1.5, "a close was taken for a time-out")
        for command in ["query-version", "query-status"] {
            let later = timed { try client.execute(command) }
            XCTAssertEqual(later.error, .closed(path: server.path))
            XCTAssertLessThan(later.seconds, 0.1)
        }
    }

    func testNoSuchSocket() {
        XCTAssertThrowsError(try QMPClient(path: "/nonexistent/qmp.sock")) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot connect to QMP socket /nonexistent/qmp.sock"), "\(error)")
        }
    }
}

struct BenchError: Error { let message: String; init(_ m: String) { message = m } }
