import Glibc

/// An audit trail of every QMP command a process sends: with `VQSCOPE_QMP_LOG=FILE` in the
/// environment, ``QMPClient`` appends one JSON line per command before sending it:
///
///     {"program":"vqscope","pid":4242,"policy":"read-only","socket":"/tmp/vq.sock","execute":"x-query-virtio"}
///
/// (`arguments` beside `execute` when the command has any, `"user_request": true` for the pause and
/// resume a user asked for, and on a queue-state query what the client last heard of the device's
/// vhost: `"vhost": "stopped"`, the only state in which it is sent). The test command sets it for the whole
/// suite and holds every line of a read-only client against docs/qmp-allowlist.md. Nothing is
/// logged without the variable; a log that cannot be opened or written is skipped, never an error.
enum QMPCommandLog {
    /// The environment variable that names the log file.
    static let variable = "VQSCOPE_QMP_LOG"

    /// The log file opened for appending, or -1 when there is none.
    static func open() -> Int32 {
        guard let value = getenv(variable), value.pointee != 0 else { return -1 }
        guard case .success(let fd) = Sys.openAppending(String(cString: value)) else { return -1 }
        return fd
    }

    /// Appends the line for one command (nothing when `fd` is -1).
    static func append(_ fd: Int32, command: String, arguments: JSON?, policy: QMPClient.Policy, socket: String, userRequest: Bool,
                       vhost: QMPAllowlist.VhostKnowledge?) {
        guard fd >= 0 else { return }
        var fields: [(String, JSON)] = [
            ("program", .string(programName)), ("pid", .int(Int64(getpid()))), ("policy", .string(policy.rawValue)),
            ("socket", .string(socket)), ("execute", .string(command)),
        ]
        if let arguments { fields.append(("arguments", arguments)) }
        if userRequest { fields.append(("user_request", .bool(true))) }
        if let vhost { fields.append(("vhost", .string("\(vhost)"))) }
        _ = Sys.appendLine(fd, Array((JSON.object(fields).text + "\n").utf8))
    }

    /// The running program's file name (`vqscope`, or the test bundle's).
    static var programName: String {
        let path = Sys.readLink("/proc/self/exe") ?? "?"
        return String(path.split(separator: "/").last ?? "?")
    }
}
