import VQCore

/// The command line of `vqscope demo-guest`, in QEMU's syntax so that vqscope reads it as it reads
/// a QEMU's: `-name NAME -machine pc -m SIZE -qmp unix:PATH,server=on,wait=off [-qmp ...]`, plus
/// the demo's own `-seed N` (the traffic's seed).
public struct DemoGuestOptions: Hashable, Sendable {
    /// The guest to build.
    public var configuration: SimulatedGuest.Configuration
    /// The QMP sockets to serve, in command-line order.
    public var qmpSockets: [String]

    /// Options with the defaults of `vqscope demo` (64 MiB, pc) and the given sockets.
    public init(configuration: SimulatedGuest.Configuration = .init(), qmpSockets: [String]) {
        self.configuration = configuration
        self.qmpSockets = qmpSockets
    }

    /// Parses the arguments that follow `demo-guest`.
    public init(arguments: [String]) throws(DemoError) {
        var configuration = SimulatedGuest.Configuration()
        var sockets: [String] = []
        var i = 0
        while i < arguments.count {
            var option = arguments[i]
            if option.hasPrefix("--") { option.removeFirst() }
            guard i + 1 < arguments.count else { throw .invalidConfiguration("demo-guest: option \(option) needs a value") }
            let value = arguments[i + 1]
            switch option {
            case "-name":
                guard let name = QEMUOptions(value, impliedKey: "guest")["guest"], !name.isEmpty else {
                    throw .invalidConfiguration("demo-guest: -name needs a name")
                }
                configuration.name = name
            case "-machine", "-M":
                let type = QEMUOptions(value, impliedKey: "type")["type"] ?? "pc"
                guard QEMUCommandLine(arguments: ["vqscope", "-machine", type]).machineFamily == "pc" else {
                    throw .invalidConfiguration("demo-guest: the simulated guest is a 'pc' machine, not '\(type)'")
                }
            case "-m":
                guard let size = QEMUOptions(value, impliedKey: "size")["size"].flatMap({ Hex.parseSize($0, defaultUnit: 1 << 20) }) else {
                    throw .invalidConfiguration("demo-guest: -m \(value) is not a size")
                }
                configuration.ramSize = size
            case "-qmp":
                guard value.hasPrefix("unix:"), let path = QEMUOptions(String(value.dropFirst(5)), impliedKey: "path")["path"], !path.isEmpty else {
                    throw .invalidConfiguration("demo-guest: -qmp takes unix:PATH,server=on,wait=off, not \(value)")
                }
                sockets.append(path)
            case "-seed":
                guard let seed = UInt64(value) else { throw .invalidConfiguration("demo-guest: -seed takes a number, not \(value)") }
                configuration.seed = seed
            default:
                throw .invalidConfiguration("demo-guest: unknown option \(arguments[i]) (it takes -name, -machine, -m, -qmp and -seed)")
            }
            i += 2
        }
        guard !sockets.isEmpty else { throw .invalidConfiguration("demo-guest: give at least one -qmp unix:PATH,server=on,wait=off") }
        self.configuration = configuration
        self.qmpSockets = sockets
    }

    /// The arguments that give these options back (after `demo-guest`), the seed left out when it
    /// is the default.
    public var arguments: [String] {
        var arguments = ["-name", configuration.name, "-machine", "pc", "-m", "\(configuration.ramSize >> 20)M"]
        for socket in qmpSockets { arguments += ["-qmp", "unix:\(socket),server=on,wait=off"] }
        if configuration.seed != SimulatedGuest.Configuration().seed { arguments += ["-seed", String(configuration.seed)] }
        return arguments
    }
}
