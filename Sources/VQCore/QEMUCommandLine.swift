/// What a QEMU process's command line says about its machine: the facts vqscope needs and does
/// not guess (RAM size, machine type, accelerator, memory backends, QMP sockets).
public struct QEMUCommandLine: Sendable, Hashable {
    public var arguments: [String]
    /// `-name`.
    public var name: String?
    /// Guest RAM in bytes from `-m` (QEMU's default is 128 MiB).
    public var ramSize: UInt64
    /// Whether `-m` was given at all.
    public var ramSizeGiven: Bool
    /// `-machine`/`-M` type (`pc`, `q35`, `pc-i440fx-7.2`...), or `nil` for QEMU's default.
    public var machineType: String?
    /// `-machine max-ram-below-4g=`.
    public var maxRAMBelow4G: UInt64?
    /// `-machine memory-backend=`: the id of the object holding all of RAM.
    public var memoryBackendID: String?
    /// The accelerator named on the command line (`kvm`, `tcg`...), if any.
    public var accelerator: String?
    /// Memory backend objects (`-object memory-backend-*`), by id.
    public var memoryBackends: [MemoryBackend]
    /// Unix sockets that serve QMP, in command-line order.
    public var qmpSockets: [String]
    /// `-numa node,memdev=ID` in order: the backends that make up RAM on a NUMA machine.
    public var numaMemoryDevices: [String] = []

    /// A `-object memory-backend-ram|file|memfd,id=...,size=...`.
    public struct MemoryBackend: Hashable, Sendable {
        public var type: String
        public var id: String
        public var size: UInt64?
        public var path: String?
        public var shared: Bool
    }

    /// The architecture from the executable's name (`qemu-system-x86_64` → `x86_64`).
    public var architecture: String?

    public init(arguments: [String]) {
        self.arguments = arguments
        name = nil
        ramSize = 128 << 20
        ramSizeGiven = false
        machineType = nil
        maxRAMBelow4G = nil
        memoryBackendID = nil
        accelerator = nil
        memoryBackends = []
        qmpSockets = []
        if let first = arguments.first {
            let base = first.split(separator: "/").last.map(String.init) ?? first
            if base.hasPrefix("qemu-system-") { architecture = String(base.dropFirst("qemu-system-".count)) }
        }

        var chardevSockets: [String: String] = [:]
        var controlMonitors: [String] = []
        var i = 1
        while i < arguments.count {
            var option = arguments[i]
            if option.hasPrefix("--") { option.removeFirst() }
            let value = i + 1 < arguments.count ? arguments[i + 1] : nil
            var consumed = 1
            switch option {
            case "-name":
                if let value {
                    let o = QEMUOptions(value, impliedKey: "guest")
                    name = o["guest"]
                    consumed = 2
                }
            case "-m":
                if let value {
                    let o = QEMUOptions(value, impliedKey: "size")
                    if let size = o["size"].flatMap({ Hex.parseSize($0, defaultUnit: 1 << 20) }) {
                        ramSize = size
                        ramSizeGiven = true
                    }
                    consumed = 2
                }
            case "-machine", "-M":
                if let value {
                    let o = QEMUOptions(value, impliedKey: "type")
                    if let t = o["type"] { machineType = t }
                    if let a = o["accel"] { accelerator = a.split(separator: ":").first.map(String.init) }
                    if let m = o["max-ram-below-4g"].flatMap({ Hex.parseSize($0) }) { maxRAMBelow4G = m }
                    if let b = o["memory-backend"] { memoryBackendID = b }
                    consumed = 2
                }
            case "-accel":
                if let value {
                    accelerator = QEMUOptions(value, impliedKey: "accel")["accel"]
                    consumed = 2
                }
            case "-numa":
                if let value {
                    let o = QEMUOptions(value, impliedKey: "type")
                    if o["type"] == "node", let memdev = o["memdev"] { numaMemoryDevices.append(memdev) }
                    consumed = 2
                }
            case "-enable-kvm":
                accelerator = "kvm"
            case "-qmp", "-qmp-pretty":
                if let value {
                    if let path = Self.unixSocketPath(value) { qmpSockets.append(path) }
                    consumed = 2
                }
            case "-chardev":
                if let value {
                    let o = QEMUOptions(value, impliedKey: "backend")
                    if o["backend"] == "socket", let id = o["id"], let path = o["path"] { chardevSockets[id] = path }
                    consumed = 2
                }
            case "-mon":
                if let value {
                    let o = QEMUOptions(value, impliedKey: "chardev")
                    if o["mode"] == "control", let id = o["chardev"] { controlMonitors.append(id) }
                    consumed = 2
                }
            case "-object":
                if let value {
                    let o = QEMUOptions(value, impliedKey: "qom-type")
                    if let type = o["qom-type"], type.hasPrefix("memory-backend-"), let id = o["id"] {
                        memoryBackends.append(MemoryBackend(
                            type: type, id: id, size: o["size"].flatMap { Hex.parseSize($0) },
                            path: o["mem-path"], shared: o["share"] == "on" || o["share"] == "yes" || o["share"] == "true"))
                    }
                    consumed = 2
                }
            default:
                // Options that take a value: skip it so it is never read as an option. QEMU's
                // options that take none all appear as flags; anything else starting with "-"
                // followed by a non-option value is taken as option+value.
                if option.hasPrefix("-"), let value, !value.hasPrefix("-") || Self.negativeNumber(value) {
                    consumed = Self.flagOptions.contains(option) ? 1 : 2
                }
            }
            i += consumed
        }
        for id in controlMonitors { if let path = chardevSockets[id] { qmpSockets.append(path) } }
        if !ramSizeGiven {
            let ids = memoryBackendID.map { [$0] } ?? numaMemoryDevices
            let sizes = ids.compactMap { id in memoryBackends.first(where: { $0.id == id })?.size }
            if !ids.isEmpty, sizes.count == ids.count { ramSize = sizes.reduce(0, +) }
        }
    }

    /// The canonical machine family: `pc` (i440fx), `q35`, or the type as written.
    public var machineFamily: String {
        guard let type = machineType else { return architecture == "x86_64" || architecture == "i386" ? "pc" : "" }
        if type == "pc" || type.hasPrefix("pc-i440fx") || type == "pc-1.0" { return "pc" }
        if type == "q35" || type.hasPrefix("pc-q35") { return "q35" }
        if type.hasPrefix("pc-") { return "pc" }
        return type
    }

    private static func unixSocketPath(_ value: String) -> String? {
        // -qmp unix:PATH,server=on,wait=off   or   -qmp unix:PATH,server,nowait
        guard value.hasPrefix("unix:") else { return nil }
        let options = QEMUOptions(String(value.dropFirst(5)), impliedKey: "path")
        return options["path"]
    }

    private static func negativeNumber(_ s: String) -> Bool {
        s.count > 1 && s.dropFirst().allSatisfy(\.isNumber)
    }

    /// QEMU options that take no value.
    static let flagOptions: Set<String> = [
        "-enable-kvm", "-nographic", "-nodefaults", "-no-user-config", "-S", "-daemonize", "-snapshot",
        "-no-reboot", "-no-shutdown", "-no-hpet", "-no-acpi", "-s", "-full-screen", "-version", "-help",
        "-enable-fips", "-only-migratable", "-preconfig", "-no-fd-bootchk", "-win2k-hack", "-rtc-td-hack",
        "-no-kvm", "-alt-grab", "-ctrl-grab", "-no-quit", "-no-frame", "-portrait", "-curses", "-old-param",
    ]
}
