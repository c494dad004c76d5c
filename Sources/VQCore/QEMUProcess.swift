import Glibc

/// A QEMU system-emulator process on this host, as `/proc` describes it.
public struct QEMUProcess: Sendable {
    public let pid: Int32
    /// The executable (`/proc/PID/exe`), or argv[0] where the link cannot be read.
    public let executable: String
    public let commandLine: QEMUCommandLine
    /// `kvm` when the process holds `/dev/kvm` open, else the accelerator its command line names,
    /// else `tcg`.
    public let accelerator: String

    /// Inspects process `pid`; throws if there is none, or if it is not a QEMU system emulator.
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
        guard Self.isQEMU(executable: exe) || Self.isQEMU(executable: arguments[0]) else {
            throw .notQEMU(pid: pid, executable: exe)
        }
        self.pid = pid
        self.executable = exe
        var commandLine = QEMUCommandLine(arguments: arguments)
        if commandLine.architecture == nil {
            commandLine.architecture = QEMUCommandLine(arguments: [exe]).architecture
        }
        self.commandLine = commandLine
        let holdsKVM = Sys.listDirectory("/proc/\(pid)/fd").contains { Sys.readLink("/proc/\(pid)/fd/\($0)") == "/dev/kvm" }
        self.accelerator = holdsKVM ? "kvm" : (commandLine.accelerator ?? "tcg")
    }

    /// Whether an executable path names a QEMU system emulator.
    public static func isQEMU(executable: String) -> Bool {
        let base = executable.split(separator: "/").last.map(String.init) ?? executable
        return base.hasPrefix("qemu-system-") || base == "qemu-kvm" || base.hasPrefix("qemu-kvm ")
    }

    /// Every QEMU process this user can see, in PID order.
    public static func all() -> [QEMUProcess] {
        Sys.listDirectory("/proc").compactMap { Int32($0) }.sorted().compactMap { try? QEMUProcess(pid: $0) }
    }

    /// The process's memory mappings.
    public func mappings() throws(TargetError) -> [ProcessMapping] {
        switch Sys.readFile("/proc/\(pid)/maps") {
        case .failure(let code):
            if code == .permissionDenied || code == .notPermitted { throw .permissionDenied(pid: pid, what: "the memory map") }
            throw .noSuchProcess(pid: pid)
        case .success(let bytes):
            return ProcessMapping.parse(String(decoding: bytes, as: UTF8.self))
        }
    }

    public var isAlive: Bool { Sys.isProcessAlive(pid) }
}
