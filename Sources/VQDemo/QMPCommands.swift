import Glibc
import VQCore

/// The QMP commands of the simulated guest, answered as QEMU 7.2 answers them (hw/virtio/virtio-qmp.c,
/// monitor/qmp-cmds.c, qom/qom-qmp-cmds.c) with the same member names, error classes and wording.
struct QMPCommands: Sendable {
    let guest: SimulatedGuest
    let monitor: HumanMonitor

    init(guest: SimulatedGuest) {
        self.guest = guest
        self.monitor = HumanMonitor(guest: guest)
    }

    static let version: JSON = .object([("qemu", .object([("micro", .int(0)), ("minor", .int(2)), ("major", .int(7))])),
                                         ("package", .string("vqscope-demo"))])
    /// The first message on every connection.
    static let greeting: JSON = .object([("QMP", .object([("version", version), ("capabilities", .array([]))]))])

    static let names = ["qmp_capabilities", "query-version", "query-name", "query-status", "query-kvm", "query-commands",
                        "stop", "cont", "x-query-virtio", "x-query-virtio-status", "x-query-virtio-queue-status",
                        "qom-get", "human-monitor-command"]

    /// Answers one line of client input.
    func handle(_ line: [UInt8], session: inout QMPSession) -> QMPReply {
        let request: JSON
        do { request = try JSON.parse(line) } catch {
            return QMPReply(response: Self.errorReply(QMPFailure(.generic, "JSON parse error, \(error.reason)"), id: nil))
        }
        let id = request["id"]
        do throws(QMPFailure) {
            guard case .object(let members) = request else { throw QMPFailure(.generic, "QMP input must be a JSON object") }
            for (key, _) in members where !["execute", "arguments", "id"].contains(key) {
                throw QMPFailure(.generic, "QMP input member '\(key)' is unexpected")
            }
            guard let execute = request["execute"] else { throw QMPFailure(.generic, "QMP input lacks member 'execute'") }
            guard let command = execute.string else { throw QMPFailure(.generic, "QMP input member 'execute' must be a string") }
            let arguments = request["arguments"] ?? .object([])
            guard case .object = arguments else { throw QMPFailure(.generic, "QMP input member 'arguments' must be an object") }
            let (value, events) = try run(command, Arguments(arguments), session: &session)
            var response: [(String, JSON)] = [("return", value)]
            if let id { response.append(("id", id)) }
            return QMPReply(events: events, response: .object(response))
        } catch {
            return QMPReply(response: Self.errorReply(error, id: id))
        }
    }

    static func errorReply(_ failure: QMPFailure, id: JSON?) -> JSON {
        var response: [(String, JSON)] = [("error", .object([("class", .string(failure.errorClass.rawValue)), ("desc", .string(failure.description))]))]
        if let id { response.append(("id", id)) }
        return .object(response)
    }

    /// A QMP event with the time now, as QEMU stamps them.
    static func event(_ name: String) -> JSON {
        var now = timeval()
        gettimeofday(&now, nil)
        return .object([("timestamp", .object([("seconds", .int(Int64(now.tv_sec))), ("microseconds", .int(Int64(now.tv_usec)))])),
                        ("event", .string(name))])
    }

    private func run(_ command: String, _ arguments: Arguments, session: inout QMPSession) throws(QMPFailure) -> (JSON, [JSON]) {
        if command == "qmp_capabilities" {
            guard !session.negotiated else {
                throw QMPFailure(.commandNotFound, "Capabilities negotiation is already complete, command ignored")
            }
            try arguments.allow(["enable"])
            session.negotiated = true
            return (.object([]), [])
        }
        guard Self.names.contains(command) else { throw QMPFailure(.commandNotFound, "The command \(command) has not been found") }
        guard session.negotiated else { throw QMPFailure(.commandNotFound, "Expecting capabilities negotiation with 'qmp_capabilities'") }
        switch command {
        case "query-version":
            try arguments.allow([])
            return (Self.version, [])
        case "query-name":
            try arguments.allow([])
            return (.object([("name", .string(guest.configuration.name))]), [])
        case "query-status":
            try arguments.allow([])
            let running = guest.isRunning
            return (.object([("status", .string(running ? "running" : "paused")), ("singlestep", .bool(false)),
                             ("running", .bool(running))]), [])
        case "query-kvm":
            try arguments.allow([])
            return (.object([("enabled", .bool(false)), ("present", .bool(false))]), [])
        case "query-commands":
            try arguments.allow([])
            return (.array(Self.names.map { .object([("name", .string($0))]) }), [])
        case "stop":
            try arguments.allow([])
            return (.object([]), guest.pause() ? [Self.event("STOP")] : [])
        case "cont":
            try arguments.allow([])
            return (.object([]), guest.resume() ? [Self.event("RESUME")] : [])
        case "x-query-virtio":
            try arguments.allow([])
            // QEMU walks the QOM tree and prepends: the newest device comes first.
            return (.array(guest.deviceStates().reversed().map {
                .object([("path", .string($0.identity.backendPath)), ("name", .string($0.identity.name))])
            }), [])
        case "x-query-virtio-status":
            try arguments.allow(["path"])
            return (try virtioStatus(path: try arguments.string("path")), [])
        case "x-query-virtio-queue-status":
            try arguments.allow(["path", "queue"])
            return (try queueStatus(path: try arguments.string("path"), queue: try arguments.integer("queue", in: 0...65535)), [])
        case "qom-get":
            try arguments.allow(["path", "property"])
            return (try qomGet(path: try arguments.string("path"), property: try arguments.string("property")), [])
        default:  // human-monitor-command
            try arguments.allow(["command-line", "cpu-index"])
            let output = monitor.execute(try arguments.string("command-line"))
            return (.string(output.text), output.events)
        }
    }

    private func device(at path: String) throws(QMPFailure) -> (identity: DeviceIdentity, queues: [QueueReport]) {
        guard let state = guest.deviceStates().first(where: { $0.identity.backendPath == path }) else {
            throw QMPFailure(.generic, "Path \(path) is not a VirtIODevice")
        }
        return state
    }

    private func virtioStatus(path: String) throws(QMPFailure) -> JSON {
        let state = try device(at: path)
        let identity = state.identity
        let running = guest.isRunning
        return .object([
            ("name", .string(identity.name)),
            ("device-id", .int(Int64(identity.deviceID))),
            ("vhost-started", .bool(false)),
            ("device-endian", .string("little")),
            ("guest-features", VirtioFeatureNames.decode(identity.guestFeatures, deviceID: identity.deviceID)),
            ("host-features", VirtioFeatureNames.decode(identity.hostFeatures, deviceID: identity.deviceID)),
            ("backend-features", VirtioFeatureNames.decode(0, deviceID: identity.deviceID)),
            ("num-vqs", .int(Int64(state.queues.count))),
            ("status", VirtioFeatureNames.decodeStatus(identity.status)),
            ("isr", .int(0)),
            ("queue-sel", .int(Int64(state.queues.count - 1))),
            ("vm-running", .bool(running)),
            ("broken", .bool(false)),
            ("disabled", .bool(false)),
            ("use-started", .bool(true)),
            ("started", .bool(true)),
            ("start-on-kick", .bool(false)),
            ("disable-legacy-check", .bool(false)),
            ("bus-name", .string("")),
            ("use-guest-notifier-mask", .bool(true)),
        ])
    }

    private func queueStatus(path: String, queue: Int) throws(QMPFailure) -> JSON {
        let state = try device(at: path)
        guard queue < state.queues.count else { throw QMPFailure(.generic, "Invalid virtqueue number \(queue)") }
        let report = state.queues[queue]
        return .object([
            ("name", .string(state.identity.name)),
            ("queue-index", .int(Int64(queue))),
            ("inuse", .int(Int64(report.view.inUse))),
            ("vring-num", .int(Int64(report.addresses.size))),
            ("vring-num-default", .int(Int64(report.defaultSize))),
            ("vring-align", .int(4096)),
            ("vring-desc", .uint(report.addresses.descriptors)),
            ("vring-avail", .uint(report.addresses.driverArea)),
            ("vring-used", .uint(report.addresses.deviceArea)),
            ("last-avail-idx", .int(Int64(report.view.lastAvailIndex))),
            ("shadow-avail-idx", .int(Int64(report.view.shadowAvailIndex))),
            ("used-idx", .int(Int64(report.view.usedIndex))),
            ("signalled-used", .int(Int64(report.view.signalledUsed))),
            ("signalled-used-valid", .bool(true)),
        ])
    }

    private func qomGet(path: String, property: String) throws(QMPFailure) -> JSON {
        let states = guest.deviceStates()
        if let proxy = states.first(where: { $0.identity.proxyPath == path })?.identity {
            switch property {
            case "addr": return .int(Int64(proxy.devfn))
            case "type": return .string(proxy.proxyType)
            default: throw QMPFailure(.generic, "Property '\(proxy.proxyType).\(property)' not found")
            }
        }
        if let backend = states.first(where: { $0.identity.backendPath == path })?.identity {
            if property == "type" { return .string(backend.name) }
            throw QMPFailure(.generic, "Property '\(backend.name).\(property)' not found")
        }
        throw QMPFailure(.deviceNotFound, "Device '\(path)' not found")
    }
}
