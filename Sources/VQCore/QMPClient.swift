import Glibc

/// A client of QEMU's machine protocol (QMP) over a Unix socket: greeting, capabilities
/// negotiation, then one command at a time. Every wait is bounded; events are skipped.
///
/// vqscope only queries (`query-*`, `x-query-*`, HMP `info`, `gpa2hva`, `gpa2hpa`) except for
/// `stop`/`cont`, which the front ends send only on the user's explicit request.
public final class QMPClient {
    public let path: String
    public let timeoutMilliseconds: Int32
    /// QEMU's version from the greeting (`7.2.0`).
    public private(set) var version: String = ""
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var nextID = 0
    /// The longest reply accepted (an `info mtree` of a large machine is well under this).
    public static let maxMessageBytes = 32 << 20

    /// Connects, reads the greeting and negotiates capabilities. A socket that another client holds
    /// gives no greeting: that is a time-out, reported as such.
    public init(path: String, timeoutMilliseconds: Int32 = 2000) throws(QMPError) {
        self.path = path
        self.timeoutMilliseconds = timeoutMilliseconds
        switch Sys.connectUnix(path) {
        case .failure(let code): throw .cannotConnect(path: path, errno: code.rawValue)
        case .success(let fd): self.fd = fd
        }
        do throws(QMPError) {
            let greeting = try readMessage(what: "the greeting")
            guard let qmp = greeting["QMP"] else { throw QMPError.garbage(path: path, reason: "no QMP greeting") }
            if let v = qmp["version"]?["qemu"] {
                version = [v["major"], v["minor"], v["micro"]].map { $0?.int.map(String.init) ?? "?" }.joined(separator: ".")
            }
            _ = try execute("qmp_capabilities")
        } catch {
            Sys.close(fd)
            fd = -1
            throw error
        }
    }

    deinit { if fd >= 0 { Sys.close(fd) } }

    /// Runs `command` and returns its `return` value; a QMP error reply throws `.commandFailed`.
    @discardableResult
    public func execute(_ command: String, arguments: JSON? = nil) throws(QMPError) -> JSON {
        nextID += 1
        var request: [(String, JSON)] = [("execute", .string(command)), ("id", .int(Int64(nextID)))]
        if let arguments { request.append(("arguments", arguments)) }
        guard case .success = Sys.writeAll(fd, Array((JSON.object(request).text + "\n").utf8)) else {
            throw .closed(path: path)
        }
        while true {
            let reply = try readMessage(what: "the reply to \(command)")
            if reply["event"] != nil { continue }
            if let id = reply["id"], id.int != nextID { continue }
            if let error = reply["error"] {
                throw .commandFailed(command: command, errorClass: error["class"]?.string ?? "?",
                                     description: error["desc"]?.string ?? reply.text)
            }
            guard let value = reply["return"] else { throw .garbage(path: path, reason: "reply without return: \(reply.text.prefix(200))") }
            return value
        }
    }

    /// Runs an HMP command (`info mtree -f`, `gpa2hva 0x1000`) and returns its text.
    public func humanMonitorCommand(_ line: String) throws(QMPError) -> String {
        let value = try execute("human-monitor-command", arguments: .object([("command-line", .string(line))]))
        guard let text = value.string else { throw .garbage(path: path, reason: "HMP reply is not text") }
        return text
    }

    private func readMessage(what: String) throws(QMPError) -> JSON {
        while true {
            if let newline = buffer.firstIndex(of: 0x0a) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.allSatisfy({ $0 == 0x0d || $0 == 0x20 }) { continue }
                do { return try JSON.parse(line) } catch {
                    throw .garbage(path: path, reason: error.description)
                }
            }
            guard buffer.count < Self.maxMessageBytes else {
                throw .garbage(path: path, reason: "a message longer than \(Self.maxMessageBytes) bytes")
            }
            switch Sys.waitReadable(fd, milliseconds: timeoutMilliseconds) {
            case .failure: throw .closed(path: path)
            case .success(false): throw .timeout(path: path, waitingFor: what, milliseconds: timeoutMilliseconds)
            case .success(true): break
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { Sys.readSome(fd, $0) }
            switch n {
            case .failure, .success(0): throw .closed(path: path)
            case .success(let count): buffer.append(contentsOf: chunk[0..<count])
            }
        }
    }
}

/// A QMP conversation that failed.
public enum QMPError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotConnect(path: String, errno: Int32)
    case timeout(path: String, waitingFor: String, milliseconds: Int32)
    case closed(path: String)
    case garbage(path: String, reason: String)
    case commandFailed(command: String, errorClass: String, description: String)

    public var description: String {
        switch self {
        case let .cannotConnect(path, code):
            return "cannot connect to QMP socket \(path): \(String(cString: strerror(code)))"
        case let .timeout(path, what, ms):
            return "QMP socket \(path) did not send \(what) within \(ms) ms (another client may hold it; give QEMU a second -qmp socket, or use --no-qmp)"
        case let .closed(path):
            return "QMP socket \(path) closed the connection"
        case let .garbage(path, reason):
            return "QMP socket \(path) answered something that is not QMP: \(reason)"
        case let .commandFailed(command, cls, desc):
            return "QMP command \(command) failed: \(desc) (\(cls))"
        }
    }
}
