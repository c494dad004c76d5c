/// The Intel VT-d (DMAR) registers the walk needs, as values (Intel VT-d 4.x, chapter 11; QEMU's
/// hw/i386/intel_iommu_internal.h). Reading them is the caller's job: through HMP `xp` at the
/// register window ``VTdRegisterWindow`` finds.
public struct VTdRegisters: Hashable, Sendable {
    /// CAP_REG: supported address widths (SAGAW, bits 12:8) and the largest guest address (MGAW, 21:16).
    public static let capabilityOffset: UInt64 = 0x08
    /// ECAP_REG: pass-through (bit 6), scalable mode (bit 43) and more.
    public static let extendedCapabilityOffset: UInt64 = 0x10
    /// GSTS_REG (32 bits): translation enabled (TES, bit 31), root table pointer set (RTPS, bit 30).
    public static let globalStatusOffset: UInt64 = 0x1C
    /// RTADDR_REG: the root table (bits 63:12) and its mode (TTM, bits 11:10).
    public static let rootTableAddressOffset: UInt64 = 0x20

    /// How the root table's entries read (RTADDR_REG.TTM).
    public enum TranslationTableMode: Hashable, Sendable {
        /// 00: legacy root and context entries (16 bytes), second-level tables only.
        case legacy
        /// 01: scalable-mode root and context entries (32 bytes) and PASID tables.
        case scalable
        /// 11: every DMA is aborted.
        case abortDMA
        /// 10: reserved.
        case reserved
    }

    public var capability: UInt64
    public var extendedCapability: UInt64
    public var globalStatus: UInt32
    public var rootTableAddress: UInt64

    /// Registers from their values.
    public init(capability: UInt64, extendedCapability: UInt64 = 0, globalStatus: UInt32, rootTableAddress: UInt64) {
        self.capability = capability
        self.extendedCapability = extendedCapability
        self.globalStatus = globalStatus
        self.rootTableAddress = rootTableAddress
    }

    /// GSTS.TES: DMA remapping is on. Off, every device's DMA is untranslated (guest-physical).
    public var translationEnabled: Bool { globalStatus & (1 << 31) != 0 }
    /// GSTS.RTPS: the root table pointer was latched.
    public var rootTablePointerSet: Bool { globalStatus & (1 << 30) != 0 }

    /// Host address width: CAP.MGAW + 1 (QEMU's `aw-bits`, 39 by default in 7.2, 48 from 9.x).
    /// Table and page addresses above it are reserved.
    public var hostAddressWidth: Int { Int((capability >> 16) & 0x3F) + 1 }

    /// Page-table depths the hardware walks, from CAP.SAGAW (bit 1: 3 levels, 39-bit; bit 2: 4
    /// levels, 48-bit; bit 3: 5 levels, 57-bit).
    public var supportedLevels: [Int] {
        let sagaw = (capability >> 8) & 0x1F
        return (1...3).filter { sagaw & (1 << $0) != 0 }.map { $0 + 2 }
    }

    /// ECAP.PT: context entries may ask for pass-through.
    public var supportsPassThrough: Bool { extendedCapability & (1 << 6) != 0 }

    /// RTADDR.TTM.
    public var translationTableMode: TranslationTableMode {
        switch (rootTableAddress >> 10) & 3 {
        case 0: return .legacy
        case 1: return .scalable
        case 3: return .abortDMA
        default: return .reserved
        }
    }

    /// The root table: RTADDR bits 63:12, below the host address width.
    public var rootTable: GuestPhysicalAddress { GuestPhysicalAddress(rootTableAddress & addressMask) }

    /// Bits 51:12 below the host address width: how table addresses are taken from RTADDR and entries.
    var addressMask: UInt64 {
        let width = UInt64(min(max(hostAddressWidth, 12), 52))
        return ((1 << width) - 1) & ~0xFFF
    }
}
