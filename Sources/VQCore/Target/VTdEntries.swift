/// The entry formats of Intel VT-d's translation structures (Intel VT-d 4.x, chapter 9; QEMU's
/// hw/i386/intel_iommu_internal.h), decoded from little-endian words. Addresses are bits 63:12;
/// the walk keeps only those below the host address width.

/// A root-table entry: 16 bytes, one per bus (256 in the 4 KiB root table).
public struct VTdRootEntry: Hashable, Sendable {
    public var low: UInt64
    public var high: UInt64

    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    /// Legacy mode: bit 0 of the low word. Scalable mode: the low word serves devfn 0-127, the high
    /// word 128-255, each with its own present bit 0.
    public func isPresent(devfn: UInt8, scalable: Bool) -> Bool {
        (scalable && devfn >= 128 ? high : low) & 1 != 0
    }

    /// The context table for `devfn` (bits 63:12 of the word that serves it).
    public func contextTable(devfn: UInt8, scalable: Bool) -> UInt64 {
        (scalable && devfn >= 128 ? high : low) & ~0xFFF
    }
}

/// A legacy-mode context entry: 16 bytes, one per devfn.
public struct VTdContextEntry: Hashable, Sendable {
    /// Translation types (low bits 3:2).
    public enum TranslationType: UInt8, Hashable, Sendable {
        /// 00: untranslated requests go through the second-level tables.
        case secondLevel = 0
        /// 01: the same, and the device may cache translations (device-TLB).
        case secondLevelWithDeviceTLB = 1
        /// 10: pass-through: addresses are guest-physical.
        case passThrough = 2
        /// 11: reserved.
        case reserved = 3
    }

    public var low: UInt64
    public var high: UInt64

    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    /// Low bit 0.
    public var isPresent: Bool { low & 1 != 0 }
    /// Low bits 3:2.
    public var translationType: TranslationType { TranslationType(rawValue: UInt8((low >> 2) & 3))! }
    /// Low bits 63:12: the second-level page table's top level.
    public var secondLevelTable: UInt64 { low & ~0xFFF }
    /// High bits 2:0: 1 = 39-bit (3 levels), 2 = 48-bit (4 levels), 3 = 57-bit (5 levels).
    public var addressWidth: Int { Int(high & 7) }
    /// Page-table levels: 2 + AW.
    public var levels: Int { 2 + addressWidth }
    /// High bits 23:8: the domain the device belongs to.
    public var domain: UInt16 { UInt16(truncatingIfNeeded: high >> 8) }
}

/// A scalable-mode context entry: 32 bytes, one per devfn (128 per table, two tables per bus).
/// Only its first 16 bytes matter for requests without a PASID.
public struct VTdScalableContextEntry: Hashable, Sendable {
    public var word0: UInt64
    public var word1: UInt64

    public init(word0: UInt64, word1: UInt64) {
        self.word0 = word0
        self.word1 = word1
    }

    /// Bit 0.
    public var isPresent: Bool { word0 & 1 != 0 }
    /// Bits 63:12: the PASID directory.
    public var pasidDirectory: UInt64 { word0 & ~0xFFF }
    /// Entries of the PASID directory: 2^(PDTS + 7), PDTS in bits 11:9.
    public var pasidDirectoryEntries: Int { 1 << (Int((word0 >> 9) & 7) + 7) }
    /// Bits 83:64 (word 1, bits 19:0): the PASID of requests without one (RID_PASID; Linux uses 0,
    /// and QEMU 8 and later always use 0).
    public var requestWithoutPASID: UInt32 { UInt32(truncatingIfNeeded: word1 & 0xF_FFFF) }
}

/// A PASID directory entry: 8 bytes, one per 64 PASIDs.
public struct VTdPASIDDirectoryEntry: Hashable, Sendable {
    public var value: UInt64
    public init(value: UInt64) { self.value = value }
    /// Bit 0.
    public var isPresent: Bool { value & 1 != 0 }
    /// Bits 63:12: the PASID table of these 64 PASIDs.
    public var pasidTable: UInt64 { value & ~0xFFF }
}

/// A scalable-mode PASID table entry: 64 bytes; the first 16 say how second-level translation goes.
public struct VTdPASIDEntry: Hashable, Sendable {
    /// PASID-granular translation types (bits 8:6).
    public enum TranslationType: UInt8, Hashable, Sendable {
        case firstLevel = 1, secondLevel = 2, nested = 3, passThrough = 4
    }

    public var word0: UInt64
    public var word1: UInt64

    public init(word0: UInt64, word1: UInt64) {
        self.word0 = word0
        self.word1 = word1
    }

    /// Bit 0.
    public var isPresent: Bool { word0 & 1 != 0 }
    /// Bits 4:2: the second-level address width, as in a legacy context entry.
    public var addressWidth: Int { Int((word0 >> 2) & 7) }
    /// Second-level page-table levels: 2 + AW.
    public var levels: Int { 2 + addressWidth }
    /// Bits 8:6 (PGTT), raw.
    public var translationTypeBits: UInt8 { UInt8((word0 >> 6) & 7) }
    /// PGTT, when it is one the spec defines.
    public var translationType: TranslationType? { TranslationType(rawValue: translationTypeBits) }
    /// Bits 63:12: the second-level page table's top level.
    public var secondLevelTable: UInt64 { word0 & ~0xFFF }
    /// Word 1 bits 15:0.
    public var domain: UInt16 { UInt16(truncatingIfNeeded: word1) }
}

/// A second-level page-table entry: 8 bytes, 512 per table.
public struct VTdPageTableEntry: Hashable, Sendable {
    public var value: UInt64
    public init(value: UInt64) { self.value = value }

    /// Bits 0 (read) and 1 (write). An entry with neither is not present.
    public var access: IOMMUAccess { IOMMUAccess(rawValue: UInt8(value & 3)) }
    /// Bit 7: at level 2 a 2 MiB page, at level 3 a 1 GiB page (reserved above).
    public var isLargePage: Bool { value & (1 << 7) != 0 }
}
