/// What runs a guest's CPUs: KVM, QEMU's own translator (TCG), another accelerator the command line
/// names, or vqscope's simulated guest (`vqscope demo-guest`), which has no CPUs to run.
public enum Accelerator: Sendable, Hashable, CustomStringConvertible {
    /// The process holds `/dev/kvm` open: guest RAM is also reachable through KVM's memory slots.
    case kvm
    /// QEMU's tiny code generator, the default when nothing else is named.
    case tcg
    /// vqscope's simulated guest.
    case simulated
    /// Another accelerator the command line names (`xen`, `hvf`, `qtest`...).
    case other(String)

    /// The accelerator a command line's name stands for (`kvm`, `tcg`, or another).
    public init(name: String) {
        switch name {
        case "kvm": self = .kvm
        case "tcg": self = .tcg
        default: self = .other(name)
        }
    }

    /// The name as output shows it: `kvm`, `tcg`, `sim`, or the command line's.
    public var description: String {
        switch self {
        case .kvm: return "kvm"
        case .tcg: return "tcg"
        case .simulated: return "sim"
        case .other(let name): return name
        }
    }
}
