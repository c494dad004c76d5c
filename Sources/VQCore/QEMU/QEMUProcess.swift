import Glibc

/// A QEMU system-emulator process on this host, as `/proc` describes it, or vqscope's own simulated
/// guest (`vqscope demo-guest`, started by `vqscope demo`), which looks like one from outside: guest
/// RAM in an anonymous mapping, QEMU's options on its command line, QMP on its sockets.
public struct QEMUProcess: Sendable {
    public let pid: Int32
    /// The executable (`/proc/PID/exe`), or argv[0] where the link cannot be read.
    public let executable: String
    public let commandLine: QEMUCommandLine
    /// KVM when the process holds `/dev/kvm` open, else the accelerator its command line names,
    /// else TCG; ``Accelerator/simulated`` for vqscope's simulated guest.
    public let accelerator: Accelerator
    /// The libvirt domain this QEMU is, if libvirt started it.
    public let libvirtDomain: LibvirtDomain?

    /// Inspects process `pid`; throws if there is none, or if it is neither a QEMU system emulator
    /// nor the simulated guest.
    public init(pid: Int32) throws(TargetError) {
        guard pid > 0 else { throw .noSuchProcess(pid: pid) }
        let arguments: [String]
        switch Sys.readFile("/proc/\(pid)/cmdline") {
        case .failure(let code):
            if code == .permissionDenied || code == .notPermitted { throw .permissionDenied(pid: pid, what: "the command line") }
            throw .noSuchProcess(pid: pid)
        case .success(let bytes):
            arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map {
                String(decoding: $0, as: UTF8.self)
            }
        }
        guard !arguments.isEmpty else {
            throw Sys.isProcessAlive(pid) ? .notQEMU(pid: pid, executable: "a kernel thread") : .noSuchProcess(pid: pid)
        }
        let exe = Sys.readLink("/proc/\(pid)/exe") ?? arguments[0]
        let simulated = Self.isSimulatedGuest(executable: exe, arguments: arguments)
        guard simulated || Self.isQEMU(executable: exe) || Self.isQEMU(executable: arguments[0]) else {
            throw .notQEMU(pid: pid, executable: exe)
        }
        self.pid = pid
        self.executable = exe
        var commandLine = QEMUCommandLine(arguments: arguments)
        if commandLine.architecture == nil {
            commandLine.architecture = QEMUCommandLine(arguments: [exe]).architecture
        }
        self.commandLine = commandLine
        self.libvirtDomain = simulated ? nil : LibvirtDomain.locate(pid: pid, commandLine: commandLine)
        if simulated {
            self.accelerator = .simulated
        } else {
            let holdsKVM = Sys.listDirectory("/proc/\(pid)/fd").contains { Sys.readLink("/proc/\(pid)/fd/\($0)") == "/dev/kvm" }
            self.accelerator = holdsKVM ? .kvm : commandLine.accelerator.map(Accelerator.init(name:)) ?? .tcg
        }
    }

    /// Whether an executable path names a QEMU system emulator.
    public static func isQEMU(executable: String) -> Bool {
        let base = executable.split(separator: "/").last.map(String.init) ?? executable
        return base.hasPrefix("qemu-system-") || base == "qemu-kvm" || base.hasPrefix("qemu-kvm ")
    }

    /// Whether a process is vqscope's simulated guest: its argv[1] is `demo-guest` and its
    /// executable is named `vqscope` (`vqscope (deleted)` once a rebuild replaced the file).
    public static func isSimulatedGuest(executable: String, arguments: [String]) -> Bool {
        guard arguments.count > 1, arguments[1] == "demo-guest" else { return false }
        let base = executable.split(separator: "/").last.map(String.init) ?? executable
        return base == "vqscope" || base == "vqscope (deleted)"
    }

    /// Every QEMU process (and simulated guest) this user can see, in PID order.
    public static func all() -> [QEMUProcess] {
        Sys.listDirectory("/proc").compactMap { Int32($0) }.sorted().compactMap { try? QEMUProcess(pid: $0) }
    }

    /// The process's memory mappings.
    public func mappings() throws(TargetError) -> [ProcessMapping] {
        try Self.mappings(pid: pid)
    }

    /// The memory mappings of any process `pid` (a QEMU or a vhost-user back-end).
    public static func mappings(pid: Int32) throws(TargetError) -> [ProcessMapping] {
        switch Sys.readFile("/proc/\(pid)/maps") {
        case .failure(let code):
            if code == .permissionDenied || code == .notPermitted { throw .permissionDenied(pid: pid, what: "the memory map") }
            throw .noSuchProcess(pid: pid)
        case .success(let bytes):
            return ProcessMapping.parse(String(decoding: bytes, as: UTF8.self))
        }
    }

    public var isAlive: Bool { Sys.isProcessAlive(pid) }

    /// How vqscope can reach this process's QMP: its own sockets (relative paths resolved against
    /// the process's working directory), libvirt's monitor, or none.
    public var qmpAccess: QMPAccess {
        QMPAccess(commandLine: commandLine, libvirtDomain: libvirtDomain,
                  workingDirectory: Sys.readLink("/proc/\(pid)/cwd") ?? "/")
    }
}
