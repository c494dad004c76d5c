/// Why an I/O virtual address of a device behind a virtual IOMMU could not be turned into a
/// guest-physical one. Each case is one line a user can act on, and says where the walk stopped.
public enum IOMMUTranslationError: Error, Equatable, Sendable {
    /// The machine's IOMMU is one vqscope does not walk (AMD, virtio-iommu, SMMUv3).
    case untranslatable(VirtualIOMMU, reason: String)
    /// The DMAR registers cannot be used as read (a mode vqscope does not walk, an address width
    /// the hardware does not list).
    case unsupportedMode(String)
    /// The root table has no entry for the device's bus: the guest gave no device on it a domain.
    case rootNotPresent(bus: UInt8)
    /// The context table has no entry for the device: the guest has not attached it to a domain
    /// (the driver is not bound, or the IOMMU blocks it).
    case contextNotPresent(PCIAddress)
    /// Scalable mode: the PASID directory or table has no entry for the PASID requests without a
    /// PASID use.
    case pasidNotPresent(PCIAddress, pasid: UInt32)
    /// A table the walk must read is not in guest RAM.
    case tableOutsideRAM(VTdStructure, GuestPhysicalAddress)
    /// Reading a table failed for another reason (the process went away, a permission).
    case readFailed(VTdStructure, MemoryError)
    /// The address is above what the domain translates (2^bits).
    case beyondAddressWidth(iova: UInt64, bits: Int)
    /// No mapping: the entry at `level` (4 = PML4 ... 1 = page table) has neither read nor write
    /// permission. The device faults on this address.
    case unmapped(iova: UInt64, level: Int)
    /// A present page-table entry has reserved bits set; QEMU faults the access as the hardware does.
    case reservedBits(iova: UInt64, level: Int, entry: UInt64)
    /// A table of the walk points back at a table this walk already read: garbage or a hostile guest.
    case tableLoop(iova: UInt64, level: Int, table: GuestPhysicalAddress)
    /// The mapping lands outside guest RAM (device MMIO, a hole): nothing vqscope can read.
    case mappedOutsideRAM(iova: UInt64, gpa: GuestPhysicalAddress)
    /// The mapping exists but does not allow what the device needs to do there.
    case permission(iova: UInt64, has: IOMMUAccess, needs: IOMMUAccess)
    /// Walking every mapping of a domain stopped after reading this many tables.
    case tooManyTables(limit: Int)
}

/// The VT-d structure a walk was reading when it stopped.
public enum VTdStructure: Hashable, Sendable, CustomStringConvertible {
    case rootTable
    case contextTable(bus: UInt8)
    case pasidDirectory
    case pasidTable
    /// A second-level page table: 5 (PML5) down to 1 (the last, 4 KiB pages).
    case pageTable(level: Int)

    public var description: String {
        switch self {
        case .rootTable: return "root table"
        case let .contextTable(bus): return "context table of bus \(Hex.padded(UInt64(bus), width: 2))"
        case .pasidDirectory: return "PASID directory"
        case .pasidTable: return "PASID table"
        case let .pageTable(level): return "level-\(level) page table"
        }
    }
}

extension IOMMUTranslationError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .untranslatable(iommu, reason):
            return "addresses are I/O virtual addresses of the \(iommu.displayName), which vqscope cannot translate: \(reason)"
        case let .unsupportedMode(what):
            return "the Intel IOMMU is in a mode vqscope does not walk: \(what)"
        case let .rootNotPresent(bus):
            return "the Intel IOMMU's root table has no entry for bus \(Hex.padded(UInt64(bus), width: 2)): no device on it has a DMA domain (is the guest's driver bound?)"
        case let .contextNotPresent(device):
            return "the Intel IOMMU has no context entry for \(device): the guest has not attached it to a DMA domain (is its driver bound?)"
        case let .pasidNotPresent(device, pasid):
            return "the Intel IOMMU's PASID tables have no entry \(pasid) for \(device): the guest has not attached it to a DMA domain"
        case let .tableOutsideRAM(structure, gpa):
            return "the Intel IOMMU's \(structure) at \(gpa) is not in guest RAM: the guest's tables are garbage, or the slot map misses RAM"
        case let .readFailed(structure, error):
            return "reading the Intel IOMMU's \(structure) failed: \(error)"
        case let .beyondAddressWidth(iova, bits):
            return "I/O virtual address \(Hex.string(iova)) is above the \(bits)-bit range the device's domain translates"
        case let .unmapped(iova, level):
            return "I/O virtual address \(Hex.string(iova)) is not mapped for this device (no permission in its level-\(level) page-table entry): the device would fault here"
        case let .reservedBits(iova, level, entry):
            return "the level-\(level) page-table entry for I/O virtual address \(Hex.string(iova)) has reserved bits set (\(Hex.padded(entry))): the device would fault here"
        case let .tableLoop(iova, level, table):
            return "walking I/O virtual address \(Hex.string(iova)): the level-\(level) table at \(table) is one this walk already read (the tables loop: garbage or a hostile guest)"
        case let .mappedOutsideRAM(iova, gpa):
            return "I/O virtual address \(Hex.string(iova)) maps to guest-physical \(gpa), which is not RAM"
        case let .permission(iova, has, needs):
            return "I/O virtual address \(Hex.string(iova)) is mapped \(has), but the device needs \(needs) there: it would fault"
        case let .tooManyTables(limit):
            return "the device's IOMMU page tables hold more than \(limit) tables; vqscope stopped walking them"
        }
    }
}
