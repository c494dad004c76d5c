import Glibc

/// Why a read of guest or host memory failed. Each case says what a user can do about it.
public enum MemoryError: Error, Equatable, Sendable {
    /// No slot of the map holds this guest-physical address (MMIO, a hole, past the end of RAM).
    case guestUnmapped(GuestPhysicalAddress, reason: String)
    /// The backing address space has nothing at this address (the QEMU process unmapped it,
    /// or an image file is shorter than its headers claim).
    case backingUnmapped(UInt64)
    /// The target process no longer exists.
    case processGone(pid: Int32)
    /// The kernel refused to let this user read the process's memory.
    case permissionDenied(pid: Int32)
    /// Any other failure of the operating system, with the call that failed.
    case system(call: String, errno: Int32)
    /// A device's addresses are I/O virtual addresses that cannot be translated (the IOMMU is one
    /// vqscope does not walk, its registers were not read): nothing is read at them.
    indirect case untranslated(IOMMUTranslationError)
}

extension MemoryError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .guestUnmapped(gpa, reason):
            return "guest-physical address \(gpa) is not backed by RAM: \(reason)"
        case let .backingUnmapped(address):
            return "nothing is mapped at \(Hex.string(address)) in the target (it may have changed its memory map; run again)"
        case let .processGone(pid):
            return "process \(pid) has exited"
        case let .permissionDenied(pid):
            return "no permission to read the memory of process \(pid) (run as root, or as its owner with ptrace_scope 0)"
        case let .system(call, code):
            return "\(call) failed: \(String(cString: strerror(code)))"
        case let .untranslated(error):
            return error.description
        }
    }
}
