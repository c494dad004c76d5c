import Glibc

/// Why the demo's simulated guest, its QMP server or its launcher could not do what was asked.
public enum DemoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The options or the configuration cannot work (a message a user can act on).
    case invalidConfiguration(String)
    /// A system call failed: what was being done, and errno.
    case system(String, Int32)
    /// Guest RAM has no room left for what a device needs.
    case outOfGuestMemory(needed: UInt64)
    /// The child process did not come up: why, with the end of its log when there is one.
    case launchFailed(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): return message
        case let .system(what, code): return "\(what): \(String(cString: strerror(code)))"
        case .outOfGuestMemory(let needed): return "guest RAM has no room for \(needed) more bytes (give more with -m)"
        case .launchFailed(let why): return "the demo guest did not start: \(why)"
        }
    }
}
