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
    /// Unix sockets that serve QMP, in command-line order: the paths of ``qmpMonitors``.
    public var qmpSockets: [String]
    /// QMP monitors on Unix sockets: every `-qmp unix:PATH`, then every control `-mon` on a socket
    /// `-chardev` (with a path, or handed over as a file descriptor), in command-line order.
    public var qmpMonitors: [QMPMonitor] = []
    /// `-uuid`: the machine's UUID (libvirt gives every domain's).
    public var uuid: String?
    /// `-numa node,memdev=ID` in order: the backends that make up RAM on a NUMA machine.
    public var numaMemoryDevices: [String] = []
    /// `-device pc-dimm,memdev=ID[,addr=GPA]` in command-line order: RAM beyond `-m`'s, in the
    /// machine's device-memory area.
    public var dimms: [DIMM] = []

    /// A `-device pc-dimm`: its backend and, when the command line fixes it, its guest address.
    public struct DIMM: Hashable, Sendable {
        public var id: String?
        public var memoryBackendID: String
        public var address: UInt64?
    }

    /// A `-object memory-backend-ram|file|memfd,id=...,size=...`.
    public struct MemoryBackend: Hashable, Sendable {
        public var type: String
        public var id: String
        public var size: UInt64?
        public var path: String?
        public var shared: Bool
    }

    /// A QMP monitor on a Unix socket.
    public struct QMPMonitor: Hashable, Sendable {
        /// The `-chardev` id of a `-mon` (`charmonitor`); nil for `-qmp`.
        public var chardevID: String?
        /// The socket's path, when the command line names one.
        public var path: String?
        /// `-chardev socket,fd=N`: the socket was made by whoever started QEMU and handed over as
        /// descriptor N (libvirt does this, and keeps the only connection to it).
        public var fileDescriptor: Int32?
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

        var socketChardevs: [String: QEMUOptions] = [:]
        var controlMonitors: [String] = []
        var directMonitors: [QMPMonitor] = []
        for (option, value) in Self.optionsAndValues(arguments) {
            let o = value.map { QEMUOptions($0, impliedKey: Self.impliedKeys[option]) }
            switch option {
            case "-name":
                if let o { name = o["guest"] }
            case "-uuid":
                uuid = value
            case "-m":
                if let size = o?["size"].flatMap({ QEMUSize.parseRAMSize($0) }) {
                    ramSize = size
                    ramSizeGiven = true
                }
            case "-machine":
                guard let o else { break }
                if let t = o["type"] { machineType = t }
                if let a = o["accel"] { accelerator = a.split(separator: ":").first.map(String.init) }
                if let m = o["max-ram-below-4g"].flatMap({ QEMUSize.parse($0) }) { maxRAMBelow4G = m }
                if let b = o["memory-backend"] { memoryBackendID = b }
            case "-accel":
                if let a = o?["accel"] { accelerator = a }
            case "-numa":
                if let o, o["type"] == "node", let memdev = o["memdev"] { numaMemoryDevices.append(memdev) }
            case "-enable-kvm":
                accelerator = "kvm"
            case "-qmp", "-qmp-pretty":
                if let path = value.flatMap(Self.unixSocketPath) { directMonitors.append(QMPMonitor(chardevID: nil, path: path, fileDescriptor: nil)) }
            case "-chardev":
                if let o, o["backend"] == "socket", let id = o["id"] { socketChardevs[id] = o }
            case "-mon":
                if let o, o["mode"] == "control", let id = o["chardev"] { controlMonitors.append(id) }
            case "-device":
                if let o, o["driver"] == "pc-dimm", let memdev = o["memdev"] {
                    dimms.append(DIMM(id: o["id"], memoryBackendID: memdev, address: o["addr"].flatMap { QEMUSize.parse($0) }))
                }
            case "-object":
                if let o, let type = o["qom-type"], type.hasPrefix("memory-backend-"), let id = o["id"] {
                    memoryBackends.append(MemoryBackend(
                        type: type, id: id, size: o["size"].flatMap { QEMUSize.parse($0) },
                        path: o["mem-path"], shared: ["on", "yes", "true"].contains(o["share"] ?? "off")))
                }
            default:
                break
            }
        }
        // A control monitor on a socket: a listening path (`path=`), or a socket QEMU was handed
        // ready-made (`fd=N`, as libvirt does). TCP sockets (`host=`, `port=`) are not QMP sockets here.
        let chardevMonitors: [QMPMonitor] = controlMonitors.compactMap { id in
            guard let chardev = socketChardevs[id] else { return nil }
            let descriptor = chardev["fd"].flatMap { Int32($0) }
            guard chardev["path"] != nil || descriptor != nil else { return nil }
            return QMPMonitor(chardevID: id, path: chardev["path"], fileDescriptor: descriptor)
        }
        qmpMonitors = directMonitors + chardevMonitors
        qmpSockets = qmpMonitors.compactMap(\.path)
        if !ramSizeGiven {
            let ids = memoryBackendID.map { [$0] } ?? numaMemoryDevices
            let sizes = ids.compactMap { id in memoryBackends.first(where: { $0.id == id })?.size }
            if !ids.isEmpty, sizes.count == ids.count { ramSize = sizes.reduce(0, +) }
        }
    }

    /// Every value of `option` (`-device`, `-object`, `-blockdev`, `-netdev`, `-machine`...), in
    /// command-line order, in either of QEMU's syntaxes (``QEMUOptions``) with the option's implied
    /// key (`driver` for `-device`, `qom-type` for `-object`, `type` for `-netdev` and `-machine`).
    /// `-M` is `-machine`, and `--name` is `-name`.
    public func options(_ option: String) -> [QEMUOptions] {
        let wanted = Self.canonicalName(option)
        return Self.optionsAndValues(arguments).compactMap { name, value in
            guard name == wanted, let value else { return nil }
            return QEMUOptions(value, impliedKey: Self.impliedKeys[name])
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

    /// The option words and their values, in order: `--x` is `-x`, `-M` is `-machine`; a flag has
    /// no value, and positional words are left out.
    static func optionsAndValues(_ arguments: [String]) -> [(option: String, value: String?)] {
        var result: [(option: String, value: String?)] = []
        var i = 1
        while i < arguments.count {
            let word = arguments[i]
            guard word.hasPrefix("-") else { i += 1; continue }  // a positional argument (a disk image)
            let option = canonicalName(word)
            let next = i + 1 < arguments.count ? arguments[i + 1] : nil
            let takesValue: Bool
            if flagOptions.contains(option) {
                takesValue = false
            } else if valueOptions.contains(option) {
                takesValue = next != nil
            } else {
                // Options vqscope does not read: a following word that is not an option is taken
                // as the value, so it is never read as an option itself.
                takesValue = next.map { !$0.hasPrefix("-") || negativeNumber($0) } ?? false
            }
            result.append((option, takesValue ? next : nil))
            i += takesValue ? 2 : 1
        }
        return result
    }

    private static func canonicalName(_ word: String) -> String {
        var option = word
        if option.hasPrefix("--") { option.removeFirst() }
        return option == "-M" ? "-machine" : option
    }

    private static func negativeNumber(_ s: String) -> Bool {
        s.count > 1 && s.dropFirst().allSatisfy(\.isNumber)
    }

    /// The key a value's first bare word is bound to, per option (`-device virtio-blk-pci,...`).
    static let impliedKeys: [String: String] = [
        "-name": "guest", "-m": "size", "-machine": "type", "-accel": "accel", "-numa": "type",
        "-chardev": "backend", "-mon": "chardev", "-object": "qom-type", "-device": "driver",
        "-netdev": "type", "-smp": "cpus", "-display": "type", "-boot": "order", "-audiodev": "driver",
    ]

    /// Options vqscope reads, which always take the next word as their value.
    static let valueOptions: Set<String> = [
        "-name", "-uuid", "-m", "-machine", "-accel", "-numa", "-qmp", "-qmp-pretty", "-chardev", "-mon", "-object",
    ]

    /// QEMU options that take no value.
    static let flagOptions: Set<String> = [
        "-enable-kvm", "-nographic", "-nodefaults", "-no-user-config", "-S", "-daemonize", "-snapshot",
        "-no-reboot", "-no-shutdown", "-no-hpet", "-no-acpi", "-s", "-full-screen", "-version", "-help",
        "-enable-fips", "-only-migratable", "-preconfig", "-no-fd-bootchk", "-win2k-hack", "-rtc-td-hack",
        "-no-kvm", "-alt-grab", "-ctrl-grab", "-no-quit", "-no-frame", "-portrait", "-curses", "-old-param",
    ]
}
