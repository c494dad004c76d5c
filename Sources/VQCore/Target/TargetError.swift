import Glibc

/// A target (a QEMU process or an image) that cannot be opened or understood.
/// Every message names the problem and, where there is one, what to do.
public enum TargetError: Error, Equatable, Sendable, CustomStringConvertible {
    case noSuchProcess(pid: Int32)
    case notQEMU(pid: Int32, executable: String)
    case permissionDenied(pid: Int32, what: String)
    case cannotOpen(path: String, errno: Int32)
    case badImage(path: String, reason: String)
    case noSlotMap(String)
    case noQMP(String)
    case usage(String)

    public var description: String {
        switch self {
        case let .noSuchProcess(pid):
            return "no process with PID \(pid) (see `vqscope list` for QEMU processes)"
        case let .notQEMU(pid, exe):
            return "process \(pid) (\(exe.isEmpty ? "unknown executable" : exe)) is not a QEMU system emulator"
        case let .permissionDenied(pid, what):
            return "no permission to read \(what) of process \(pid) (run as root or as the process's owner)"
        case let .cannotOpen(path, code):
            return "cannot open \(path): \(String(cString: strerror(code)))"
        case let .badImage(path, reason):
            return "\(path) is not a usable memory image: \(reason)"
        case let .noSlotMap(reason):
            return "cannot build the slot map: \(reason)"
        case let .noQMP(reason):
            return "QMP: \(reason)"
        case let .usage(message):
            return message
        }
    }
}
