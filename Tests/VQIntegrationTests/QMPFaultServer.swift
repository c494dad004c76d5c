import Foundation
import Glibc
import VQCore

/// A QMP socket that misbehaves on purpose, in front of a real QEMU's QMP socket: it greets with
/// QEMU's own greeting, passes each request on, and then, request by request, passes QEMU's reply
/// back or does what ``rule`` says instead: stays silent, closes in the middle of the reply, buries
/// it under events, sends it a byte at a time or under another id, or rewrites it into a
/// well-formed lie. It serves one client at a time, as QEMU does, each with its own connection to
/// QEMU, closed when that client goes. Call ``stop()`` when done (it frees QEMU's socket).
final class QMPFaultServer: @unchecked Sendable {
    /// One request, as the client sent it.
    struct Request: Sendable {
        var command: String
        var arguments: JSON?
        /// The command line of a `human-monitor-command` (`info mtree -f`), "" for other commands.
        var hmp: String { arguments?["command-line"]?.string ?? "" }
        /// How many earlier requests of this connection had the same command and arguments.
        var repeats: Int
    }

    /// What the server does before any request.
    enum Greeting: Sendable {
        /// QEMU's own greeting.
        case real
        /// Nothing: the client waits for a greeting that never comes.
        case silent
        /// The first half of QEMU's greeting, then the connection closes.
        case half
    }

    /// What the server does with one request.
    enum Action: Sendable {
        /// QEMU's reply, rewritten by the function (the identity: passed on as it came).
        case reply(@Sendable (JSON) -> JSON)
        /// No reply, ever: whatever the client sends next is read and dropped until it hangs up.
        case hang
        /// The first half of QEMU's reply, then the connection closes.
        case closeMidReply
        /// An event every 50 ms, never the reply.
        case events
        /// QEMU's reply, one byte every 200 ms.
        case drip
        /// QEMU's reply under another id, every 50 ms, never under the request's.
        case wrongID
        /// These bytes instead of QEMU's reply (after QEMU answered), e.g. a line that is not JSON.
        case raw(String)

        /// QEMU's reply as it came.
        static let pass = Action.reply { $0 }
    }

    let path: String
    private let upstream: String
    private let greeting: Greeting
    private let rule: @Sendable (Request) -> Action
    private let listener: Int32
    private let lock = NSLock()
    private var stopping = false
    private var _requests: [Request] = []
    private var _problems: [String] = []
    private let finished = DispatchSemaphore(value: 0)
    /// How long QEMU itself may take to greet or answer (a loaded 2-core machine).
    static let upstreamTimeout: TimeInterval = 60

    /// Listens on a new socket in the temporary folder, in front of QEMU's QMP socket `upstream`.
    init(upstream: String, greeting: Greeting = .real, rule: @escaping @Sendable (Request) -> Action = { _ in .pass }) throws {
        self.upstream = upstream
        self.greeting = greeting
        self.rule = rule
        path = NSTemporaryDirectory() + "vqscope-fakeqmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        unlink(path)
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, listen(listener, 4) == 0 else {
            close(listener)
            throw BenchError("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        Thread.detachNewThread { [self] in
            defer { finished.signal() }
            serve()
        }
    }

    /// Every request served so far, in order.
    var requests: [Request] { lock.withLock { _requests } }
    /// What went wrong on the server's side (QEMU not answering it), for a test's failure message.
    var problems: [String] { lock.withLock { _problems } }
    private var isStopping: Bool { lock.withLock { stopping } }

    /// Stops serving, closes every connection (its own to QEMU too) and removes the socket. Waits
    /// for that, so that QEMU's socket is free for the next client when it returns.
    func stop() {
        let first = lock.withLock {
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        finished.wait()
        close(listener)
        unlink(path)
    }

    // MARK: Serving

    private func serve() {
        while !isStopping {
            guard wait(listener, for: Int16(POLLIN), milliseconds: 100) else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)  // not inherited by the vqscope runs the test starts
            converse(with: Connection(fd: client))
        }
    }

    /// One client's conversation, until it hangs up, a fault ends it, or the server stops.
    private func converse(with client: Connection) {
        defer { client.close() }
        if case .silent = greeting { return drain(client) }
        guard let qemu = connectUpstream() else { return }
        defer { qemu.close() }
        guard let hello = qemu.readLine(timeout: Self.upstreamTimeout, stop: { isStopping }) else {
            return note("QEMU's socket \(upstream) sent no greeting")
        }
        if case .half = greeting { _ = client.send(Array(hello.prefix(hello.count / 2))); return }
        guard client.send(hello + [0x0d, 0x0a]) else { return }
        var seen: [String: Int] = [:]
        while let line = client.readLine(timeout: .infinity, stop: { isStopping }) {
            guard let json = try? JSON.parse(line), let command = json["execute"]?.string else { return }
            let key = JSON.object([("execute", .string(command)), ("arguments", json["arguments"] ?? .null)]).text
            let request = Request(command: command, arguments: json["arguments"], repeats: seen[key, default: 0])
            seen[key, default: 0] += 1
            lock.withLock { _requests.append(request) }
            let action = rule(request)
            if case .hang = action { return drain(client) }
            guard qemu.send(line + [0x0a]), let reply = replyFromQEMU(qemu, passingEventsTo: client) else { return }
            guard respond(action, reply: reply, to: client, id: json["id"]) else { return }
        }
    }

    /// Does `action` with QEMU's `reply`; whether the conversation goes on.
    private func respond(_ action: Action, reply: [UInt8], to client: Connection, id: JSON?) -> Bool {
        switch action {
        case .reply(let rewrite):
            guard let parsed = try? JSON.parse(reply) else { return client.send(reply + [0x0d, 0x0a]) }
            let lie = rewrite(parsed)
            return client.send(lie == parsed ? reply + [0x0d, 0x0a] : Array((lie.text + "\r\n").utf8))
        case .hang:
            drain(client)
            return false
        case .closeMidReply:
            _ = client.send(Array(reply.prefix(reply.count / 2)))
            return false
        case .events:
            let event = Array((#"{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "RTC_CHANGE", "data": {"offset": 0}}"# + "\r\n").utf8)
            while !isStopping, client.send(event), !client.hasHungUp(milliseconds: 50) {}
            return false
        case .drip:
            for byte in reply + [0x0d, 0x0a] {
                guard !isStopping, client.send([byte]), !client.hasHungUp(milliseconds: 200) else { return false }
            }
            return true
        case .raw(let text):
            return client.send(Array(text.utf8))
        case .wrongID:
            guard let parsed = try? JSON.parse(reply), case .object(var fields) = parsed else { return false }
            fields.removeAll { $0.0 == "id" }
            fields.append(("id", .int((id?.int64 ?? 0) + 1000)))
            let other = Array((JSON.object(fields).text + "\r\n").utf8)
            while !isStopping, client.send(other), !client.hasHungUp(milliseconds: 50) {}
            return false
        }
    }

    /// QEMU's reply to the request just sent (its line without the line end); events that come
    /// before it are passed on to `client`, as QEMU would send them.
    private func replyFromQEMU(_ qemu: Connection, passingEventsTo client: Connection) -> [UInt8]? {
        while true {
            guard let line = qemu.readLine(timeout: Self.upstreamTimeout, stop: { isStopping }) else {
                note("QEMU's socket \(upstream) did not answer")
                return nil
            }
            if let json = try? JSON.parse(line), json["event"] != nil {
                guard client.send(line + [0x0d, 0x0a]) else { return nil }
                continue
            }
            return line
        }
    }

    /// Reads and drops what `client` sends until it hangs up or the server stops.
    private func drain(_ client: Connection) {
        while !isStopping, !client.hasHungUp(milliseconds: 100) {}
    }

    private func connectUpstream() -> Connection? {
        let deadline = Date().addingTimeInterval(Self.upstreamTimeout)
        while !isStopping {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in upstream.utf8.enumerated() { raw[i] = b } }
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if rc == 0 { return Connection(fd: fd) }
            Glibc.close(fd)
            guard Date() < deadline else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        note("cannot connect to QEMU's socket \(upstream)")
        return nil
    }

    private func note(_ problem: String) { lock.withLock { _problems.append(problem) } }

    private func wait(_ fd: Int32, for events: Int16, milliseconds: Int32) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        return poll(&p, 1, milliseconds) > 0
    }
}

/// One end of a stream socket, read a line at a time.
private final class Connection {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    func close() { Glibc.close(fd) }

    /// Sends all of `bytes`; false once the peer is gone.
    func send(_ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; return false }
            done += n
        }
        return true
    }

    /// The next line, without its `\r\n` or `\n`; nil at the end of the stream, after `timeout`, or
    /// when `stop` says so (asked every 100 ms).
    func readLine(timeout: TimeInterval, stop: () -> Bool) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: 0x0a) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == 0x0d { line.removeLast() }
                if line.isEmpty { continue }
                return line
            }
            guard !stop(), Date() < deadline, readable(milliseconds: 100) != false else { return nil }
        }
    }

    /// Waits up to `milliseconds` for input and reads it into the buffer: nil when none came,
    /// false at the end of the stream.
    private func readable(milliseconds: Int32) -> Bool? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, milliseconds) > 0 else { return nil }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// Waits up to `milliseconds`, reading and dropping input: whether the peer hung up meanwhile.
    func hasHungUp(milliseconds: Int32) -> Bool {
        let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
        while true {
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            switch readable(milliseconds: left) {
            case false?: return true
            case true?: buffer.removeAll()
            case nil: return false
            }
            if left == 0 { return false }
        }
    }
}
