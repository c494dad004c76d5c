import Glibc

/// An error number from a failed system call, as in swift-system's `Errno`.
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The current thread's `errno`.
    static var current: Errno { Errno(errno) }

    public static let noSuchProcess = Errno(ESRCH)
    public static let permissionDenied = Errno(EACCES)
    public static let notPermitted = Errno(EPERM)
    public static let badAddress = Errno(EFAULT)
    public static let interrupted = Errno(EINTR)
    public static let noEntry = Errno(ENOENT)
    public static let wouldBlock = Errno(EAGAIN)

    public var description: String { String(cString: strerror(rawValue)) }

    public static func ~= (lhs: Errno, rhs: any Error) -> Bool {
        (rhs as? Errno) == lhs
    }
}

/// Runs a closure of an untyped-throwing standard library helper (`withUnsafeMutableBytes`...) whose
/// body throws only `E`, and rethrows with the type restored.
@inlinable
func rethrowing<E: Error, R>(_: E.Type, _ body: () throws -> R) throws(E) -> R {
    do { return try body() } catch { throw error as! E }
}
