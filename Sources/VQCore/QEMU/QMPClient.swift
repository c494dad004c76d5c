import Glibc

/// A client of QEMU's machine protocol (QMP) over a Unix socket: greeting, capabilities
/// negotiation, then one command at a time. Events and replies to other ids are skipped.
///
/// Every wait is bounded: the greeting and each reply must arrive whole within the time-out, however
/// the peer spreads it (a byte at a time, or behind endless events). A peer that times out or closes
/// the connection is not asked again: later commands fail at once with the same error, so a hung
/// QEMU costs one time-out, not one per command.
///
/// A ``Policy/readOnly`` client (vqscope's only kind) sends nothing that is not on
/// ``QMPAllowlist``: a command off the list throws ``QMPError/refused(command:reason:)`` before a
/// byte is written. The one exception, `stop`/`cont`, goes through ``userRequested(_:)``, which the
/// inspector calls only on the user's explicit request. It learns from its own `x-query-virtio-status`
/// replies which devices run a vhost back-end, and never asks QEMU for such a device's queue state
/// (that would stop a vhost-user back-end's ring).
///
/// With `VQSCOPE_QMP_LOG=FILE` in the environment, every command sent is appended to FILE as a
/// JSON line (the test command holds them all against docs/qmp-allowlist.md).
public final class QMPClient {
    /// Which commands a client may send.
    public enum Policy: String, Sendable {
        /// Only ``QMPAllowlist``'s commands (and ``QMPClient/userRequested(_:)``): vqscope's own.
        case readOnly = "read-only"
        /// Anything: for harnesses that own the VM (tests, benchmarks), never for vqscope's commands.
        case unrestricted
    }

    /// What a user may ask of the VM through vqscope, the only commands outside ``QMPAllowlist``.
    public enum UserRequest: String, Sendable {
        /// Pause the VM (`stop`).
        case stop
        /// Resume it (`cont`).
        case cont
    }

    public let path: String
    public let timeoutMilliseconds: Int32
    public let policy: Policy
    /// What this client's `x-query-virtio-status` replies said of each device's vhost, and when
    /// (``MonotonicClock/nanoseconds()``), by QOM path.
    private var vhostHeard: [String: (started: Bool, at: UInt64)] = [:]
    /// How long a `vhost-started: false` stays trusted.
    public static let vhostKnowledgeNanoseconds: UInt64 = 1_000_000_000
    /// `VQSCOPE_QMP_LOG`'s file, opened for appending, or -1.
    private let logFD: Int32
    /// QEMU's version from the greeting (`7.2.0`).
    public private(set) var version: String = ""
    private var fd: Int32
    /// The libvirt domain whose monitor this client reaches through libvirt's pass-through
    /// (`virsh qemu-monitor-command`), when it does not own a QMP socket.
    public let libvirtDomain: String?
    private var buffer: [UInt8] = []
    private var nextID = 0
    /// Why the conversation ended (a time-out, the peer closing, an overlong message), once it did.
    private var lost: QMPError?
    /// The longest reply accepted (an `info mtree` of a large machine is well under this).
    public static let maxMessageBytes = 32 << 20

    /// How long a socket may stay silent before vqscope takes it for one another client holds:
    /// QEMU greets a client the moment it accepts it, and accepts only one at a time.
    public static let greetingWaitMilliseconds: Int32 = 300

    /// Connects, reads the greeting and negotiates capabilities.
    ///
    /// A socket another client holds (libvirt, a test harness) accepts the connection into its queue
    /// and says nothing: when no byte of the greeting comes within ``greetingWaitMilliseconds`` (or
    /// the time-out, if shorter), the connection is closed at once and `.held` thrown, so that it
    /// is never left waiting in QEMU's queue. A full queue is `.held` at once. A greeting that has
    /// begun must then be whole within the time-out.
    public init(path: String, timeoutMilliseconds: Int32 = 2000, policy: Policy = .readOnly) throws(QMPError) {
        self.path = path
        self.timeoutMilliseconds = timeoutMilliseconds
        self.policy = policy
        libvirtDomain = nil
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, timeoutMilliseconds)) * 1_000_000
        switch Sys.connectUnix(path) {
        case .failure(.wouldBlock): throw .held(path: path, milliseconds: 0, holder: nil)
        case .failure(let code): throw .cannotConnect(path: path, errno: code.rawValue)
        case .success(let fd): self.fd = fd
        }
        logFD = QMPCommandLog.open()
        do throws(QMPError) {
            let wait = min(Self.greetingWaitMilliseconds, max(0, timeoutMilliseconds))
            switch Sys.waitReadable(fd, milliseconds: wait) {
            case .failure: throw QMPError.closed(path: path)
            case .success(false): throw QMPError.held(path: path, milliseconds: wait, holder: nil)
            case .success(true): break
            }
            let greeting = try readMessage(what: "the greeting", deadline: deadline)
            guard let qmp = greeting["QMP"] else { throw QMPError.garbage(path: path, reason: "no QMP greeting") }
            if let v = qmp["version"]?["qemu"] {
                version = [v["major"], v["minor"], v["micro"]].map { $0?.int.map(String.init) ?? "?" }.joined(separator: ".")
            }
            _ = try execute("qmp_capabilities")
        } catch {
            Sys.close(fd)
            fd = -1
            if logFD >= 0 { Sys.close(logFD) }
            throw error
        }
    }

    /// A client that talks to the QEMU of libvirt domain `domain` (a name or UUID) through libvirt's
    /// monitor pass-through, `virsh qemu-monitor-command`, one command a call (libvirt holds QEMU's
    /// only monitor). The same policy, allowlist and log apply. libvirt marks the domain tainted
    /// ("custom-monitor") on the first such command. Checks the domain answers `query-status`.
    public init(libvirtDomain domain: String, timeoutMilliseconds: Int32 = 2000, policy: Policy = .readOnly) throws(QMPError) {
        path = "libvirt:\(domain)"
        libvirtDomain = domain
        self.timeoutMilliseconds = timeoutMilliseconds
        self.policy = policy
        fd = -1
        logFD = QMPCommandLog.open()
        do throws(QMPError) {
            _ = try execute("query-status")
        } catch {
            if logFD >= 0 { Sys.close(logFD) }
            throw error
        }
    }

    deinit {
        if fd >= 0 { Sys.close(fd) }
        if logFD >= 0 { Sys.close(logFD) }
    }

    /// Runs `command` and returns its `return` value; a QMP error reply throws `.commandFailed`, a
    /// command the policy forbids `.refused` (nothing is sent).
    @discardableResult
    public func execute(_ command: String, arguments: JSON? = nil) throws(QMPError) -> JSON {
        if policy == .readOnly, let reason = QMPAllowlist.check(command, arguments: arguments, vhost: { self.vhostKnowledge(path: $0) }) {
            throw .refused(command: command, reason: reason)
        }
        let value = try execute(command, arguments: arguments, naming: command)
        if command == "x-query-virtio-status", let path = arguments?["path"]?.string {
            vhostHeard[path] = (value["vhost-started"]?.bool ?? false, MonotonicClock.nanoseconds())
        }
        return value
    }

    /// Pauses or resumes the VM: only on the user's explicit request (the inspector's step and
    /// continue keys), the one thing vqscope may change.
    public func userRequested(_ request: UserRequest) throws(QMPError) {
        _ = try execute(request.rawValue, arguments: nil, naming: request.rawValue, userRequest: true)
    }

    /// Whether the vhost of the device at `path` is stopped now, so that QEMU's own queue state may
    /// be asked: from this client's last `x-query-virtio-status` answer while it is fresh, else
    /// asked again.
    public func vhostStoppedNow(path: String) throws(QMPError) -> Bool {
        switch vhostKnowledge(path: path) {
        case .stopped: return true
        case .started: return false
        case .unknown:
            let status = try execute("x-query-virtio-status", arguments: .object([("path", .string(path))]))
            return !(status["vhost-started"]?.bool ?? false)
        }
    }

    /// What this client's own `x-query-virtio-status` replies said of the vhost of the device at
    /// `path`: a `vhost-started: false` older than ``vhostKnowledgeNanoseconds`` is ``QMPAllowlist/VhostKnowledge/unknown``.
    public func vhostKnowledge(path: String) -> QMPAllowlist.VhostKnowledge {
        guard let heard = vhostHeard[path] else { return .unknown }
        if heard.started { return .started }
        return MonotonicClock.nanoseconds() &- heard.at <= Self.vhostKnowledgeNanoseconds ? .stopped : .unknown
    }

    /// ``execute(_:arguments:)``, with `label` naming the command in a time-out's message.
    private func execute(_ command: String, arguments: JSON?, naming label: String, userRequest: Bool = false) throws(QMPError) -> JSON {
        if let lost { throw lost }
        do throws(QMPError) { return try exchange(command, arguments: arguments, naming: label, userRequest: userRequest) } catch {
            switch error {
            case .timeout, .closed: lost = error
            case .garbage where buffer.count >= Self.maxMessageBytes: lost = error
            default: break
            }
            throw error
        }
    }

    /// Sends one request and reads until its reply, which must come whole within the time-out.
    private func exchange(_ command: String, arguments: JSON?, naming label: String, userRequest: Bool) throws(QMPError) -> JSON {
        nextID += 1
        var request: [(String, JSON)] = [("execute", .string(command)), ("id", .int(Int64(nextID)))]
        if let arguments { request.append(("arguments", arguments)) }
        let vhost = QMPAllowlist.vhostSensitive.contains(command) ? arguments?["path"]?.string.map { vhostKnowledge(path: $0) } : nil
        QMPCommandLog.append(logFD, command: command, arguments: arguments, policy: policy, socket: path, userRequest: userRequest, vhost: vhost)
        if let libvirtDomain {
            // libvirt numbers the commands itself and refuses an `id` of ours.
            return try throughLibvirt(libvirtDomain, request: JSON.object(request.filter { $0.0 != "id" }).text, command: command, naming: label)
        }
        guard case .success = Sys.writeAll(fd, Array((JSON.object(request).text + "\n").utf8)) else {
            throw .closed(path: path)
        }
        let deadline = deadline()
        var skipped = 0
        while true {
            let what = "the reply to \(label)" + (skipped == 0 ? "" : ", only \(skipped) event\(skipped == 1 ? "" : "s") or replies to other ids,")
            let reply = try readMessage(what: what, deadline: deadline)
            if reply["event"] != nil { skipped += 1; continue }
            if let id = reply["id"], id.int != nextID { skipped += 1; continue }
            if let error = reply["error"] {
                throw .commandFailed(command: command, errorClass: error["class"]?.string ?? "?",
                                     description: error["desc"]?.string ?? reply.text)
            }
            guard let value = reply["return"] else { throw .garbage(path: path, reason: "reply without return: \(reply.text.prefix(200))") }
            return value
        }
    }

    /// One command through `virsh qemu-monitor-command DOMAIN JSON`, bounded by the time-out: QEMU's
    /// reply as virsh prints it (`{"return": ..., "id": "libvirt-N"}`, or `{"error": ...}`).
    private func throughLibvirt(_ domain: String, request: String, command: String, naming label: String) throws(QMPError) -> JSON {
        switch Sys.runChild(["virsh", "--quiet", "qemu-monitor-command", domain, request], timeoutMilliseconds: timeoutMilliseconds) {
        case .notStarted(let code):
            throw .cannotConnect(path: path, errno: code.rawValue)
        case .timedOut:
            throw .timeout(path: path, waitingFor: "the reply to \(label)", milliseconds: timeoutMilliseconds)
        case let .exited(status, output, errors):
            guard status == 0 else {
                let message = String(decoding: errors, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "exit status \(status)"
                throw .libvirt(domain: domain, message: message)
            }
            let reply: JSON
            do { reply = try JSON.parse(Array(output.drop { $0 == 0x20 || $0 == 0x0a })) } catch {
                throw .garbage(path: path, reason: "virsh printed no QMP reply: \(error.description)")
            }
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
        let value = try execute("human-monitor-command", arguments: .object([("command-line", .string(line))]), naming: "HMP `\(line)`")
        guard let text = value.string else { throw .garbage(path: path, reason: "HMP reply is not text") }
        return text
    }

    /// The monotonic time, in nanoseconds, by which a message asked for now must have arrived.
    private func deadline() -> UInt64 {
        MonotonicClock.nanoseconds() + UInt64(max(0, timeoutMilliseconds)) * 1_000_000
    }

    /// The next whole message, which must arrive by `deadline` (``MonotonicClock/nanoseconds()``).
    private func readMessage(what: String, deadline: UInt64) throws(QMPError) -> JSON {
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
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { throw .timeout(path: path, waitingFor: what, milliseconds: timeoutMilliseconds) }
            // Rounded up, so that a wait never ends just before the deadline and spins.
            let left = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
            switch Sys.waitReadable(fd, milliseconds: left) {
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
    /// libvirt's pass-through failed (`virsh`'s own error: no such domain, no permission, libvirtd down).
    case libvirt(domain: String, message: String)
    /// A command vqscope's read-only policy does not send (nothing was sent).
    case refused(command: String, reason: String)
    /// The socket sent no greeting within `milliseconds` (0: its queue of connections was full):
    /// another client, `holder` if vqscope knows which, holds it.
    case held(path: String, milliseconds: Int32, holder: Holder?)

    /// Who holds a QMP socket, when vqscope knows.
    public enum Holder: Hashable, Sendable {
        /// libvirt, which keeps the monitor of the domain named `domain`.
        case libvirt(domain: String)
    }

    /// This error with the socket's holder named, when it is `.held` by someone not yet named.
    public func naming(holder: Holder?) -> QMPError {
        guard case let .held(path, ms, nil) = self, let holder else { return self }
        return .held(path: path, milliseconds: ms, holder: holder)
    }

    public var description: String {
        switch self {
        case let .cannotConnect(path, code):
            return "cannot connect to QMP socket \(path): \(String(cString: strerror(code)))"
        case let .held(path, ms, holder):
            let what = ms > 0 ? "did not send the greeting within \(ms) ms" : "accepts no more connections"
            switch holder {
            case .libvirt(let domain)?:
                return "QMP socket \(path) \(what): it is held by libvirt, the monitor of domain '\(domain)' "
                    + "(QEMU answers one QMP client at a time); \(LibvirtDomain.ownSocketAdvice)"
            case nil:
                return "QMP socket \(path) \(what): it is held by another client (QEMU answers one QMP client at a time); "
                    + "give QEMU a -qmp socket of its own for vqscope (-qmp unix:PATH,server=on,wait=off), or use --no-qmp"
            }
        case let .timeout(path, what, ms) where what == "the greeting":
            return "QMP socket \(path) did not send all of \(what) within \(ms) ms (--qmp-timeout waits longer, --no-qmp does without)"
        case let .timeout(path, what, ms):
            return "QMP socket \(path) did not send \(what) within \(ms) ms (it is not answering; --qmp-timeout waits longer, --no-qmp does without)"
        case let .closed(path):
            return "QMP socket \(path) closed the connection"
        case let .garbage(path, reason):
            return "QMP socket \(path) answered something that is not QMP: \(reason)"
        case let .commandFailed(command, cls, desc):
            return "QMP command \(command) failed: \(desc) (\(cls))"
        case let .libvirt(domain, message):
            return "libvirt's monitor pass-through to domain \(domain) failed: \(message.hasPrefix("error: ") ? String(message.dropFirst(7)) : message)"
        case let .refused(_, reason):
            return "not sent: \(reason)"
        }
    }
}
