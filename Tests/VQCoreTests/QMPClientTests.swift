import Foundation
import Glibc
import VQCore
import XCTest

/// QMP against a scripted server on a Unix socket: honest, silent, lying and closing peers.
final class QMPClientTests: XCTestCase {
    /// A one-connection server that answers each line with `respond(line)`: nil hangs up, and an
    /// answer ending in NUL is sent (without it) before hanging up.
    final class FakeServer: @unchecked Sendable {
        let path: String
        private let fd: Int32
        private let thread: Thread

        init(greeting: String?, respond: @escaping @Sendable (String) -> String?) throws {
            let path = NSTemporaryDirectory() + "vqscope-qmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
            unlink(path)
            let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            guard rc == 0, listen(listener, 1) == 0 else { throw BenchError("cannot listen on \(path)") }
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
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 2000)
        XCTAssertEqual(client.version, "7.2.0")
        XCTAssertEqual(QMPSlotSource.parseHostAddress(try client.humanMonitorCommand("gpa2hva 0x1000")), 0x7f_0000_1000)
        XCTAssertThrowsError(try client.execute("nope")) { error in
            XCTAssertEqual(error as? QMPError, .commandFailed(command: "nope", errorClass: "CommandNotFound", description: "The command nope has not been found"))
        }
    }

    func testSilentSocketTimesOut() throws {
        let server = try FakeServer(greeting: nil) { _ in "" }
        let start = Date()
        XCTAssertThrowsError(try QMPClient(path: server.path, timeoutMilliseconds: 300)) { error in
            guard case .timeout(_, let what, 300) = error as? QMPError else { return XCTFail("\(error)") }
            XCTAssertEqual(what, "the greeting")
            XCTAssertTrue("\(error)".contains("another client may hold it"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
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

    func testNoSuchSocket() {
        XCTAssertThrowsError(try QMPClient(path: "/nonexistent/qmp.sock")) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot connect to QMP socket /nonexistent/qmp.sock"), "\(error)")
        }
    }
}

struct BenchError: Error { let message: String; init(_ m: String) { message = m } }
