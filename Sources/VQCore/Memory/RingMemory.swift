/// The memory one virtio device's rings are read through, and what the addresses in them are:
/// guest-physical, or I/O virtual addresses of the device's DMA domain behind an IOMMU. Ring
/// decoders read through ``memory`` unchanged; output shows ``guestPhysical(of:)`` beside each
/// address the device uses.
public struct RingMemory {
    /// What a device's addresses are.
    public enum Addressing: Equatable, Sendable {
        /// Guest-physical addresses.
        case guestPhysical
        /// I/O virtual addresses of this IOMMU, translated by walking its tables.
        case iova(VirtualIOMMU)

        /// `gpa` or `iova`, as JSON shows it.
        public var name: String {
            switch self {
            case .guestPhysical: return "gpa"
            case .iova: return "iova"
            }
        }
    }

    /// Memory keyed by the device's addresses: guest memory itself, or its IOVA view.
    public let memory: GuestMemory
    /// What the device's addresses are.
    public let addressing: Addressing
    /// The device's mappings, merged into runs in IOVA order (empty for guest-physical addressing).
    public let runs: [IOVAPiece]
    /// What walking the device's tables could not read (tables outside RAM, loops).
    public let problems: [IOMMUTranslationError]

    /// Guest memory read as it is: addresses are guest-physical.
    public init(guest: GuestMemory) {
        self.init(memory: guest, addressing: .guestPhysical, runs: [], problems: [])
    }

    /// A device's memory from its parts.
    public init(memory: GuestMemory, addressing: Addressing, runs: [IOVAPiece], problems: [IOMMUTranslationError]) {
        self.memory = memory
        self.addressing = addressing
        self.runs = runs.sorted { $0.iova < $1.iova }
        self.problems = problems
    }

    /// Whether the device's addresses are I/O virtual addresses.
    public var isIOVA: Bool { addressing != .guestPhysical }

    /// The guest-physical address one of the device's addresses reaches: itself for guest-physical
    /// addressing, the mapping's target for an IOVA, `nil` for an IOVA the device's domain does
    /// not map.
    public func guestPhysical(of address: GuestPhysicalAddress) -> GuestPhysicalAddress? {
        guard isIOVA else { return address }
        var low = 0, high = runs.count
        while low < high {
            let mid = (low + high) / 2
            if runs[mid].iova <= address.rawValue { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let run = runs[low - 1]
        let offset = address.rawValue &- run.iova
        guard offset < run.count else { return nil }
        return GuestPhysicalAddress(run.gpa.rawValue &+ offset)
    }
}
