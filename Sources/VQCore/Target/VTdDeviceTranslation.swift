/// How the Intel IOMMU translates one PCI device's DMA, found by walking the root table, the
/// device's context entry and, in scalable mode, its PASID entry for requests without a PASID.
public enum VTdDeviceTranslation: Hashable, Sendable {
    /// The device's addresses reach memory untranslated: they are guest-physical. `reason` says
    /// why (translation off, pass-through).
    case untranslated(reason: String)
    /// The device's addresses go through these second-level page tables.
    case pageTables(VTdPageTables)

    /// Finds how `device`'s DMA is translated, reading the tables from `memory` (guest-physical,
    /// read-only). Reads at most the root entry, the context entry and, in scalable mode, one PASID
    /// directory entry and one PASID entry.
    public init(device: PCIAddress, registers: VTdRegisters, memory: GuestMemory) throws(IOMMUTranslationError) {
        guard registers.translationEnabled else {
            self = .untranslated(reason: "DMA remapping is off (GSTS.TES=0): the guest has not enabled the Intel IOMMU, so addresses are guest-physical")
            return
        }
        let scalable: Bool
        switch registers.translationTableMode {
        case .legacy: scalable = false
        case .scalable: scalable = true
        case .abortDMA: throw .unsupportedMode("RTADDR.TTM=11 (abort-DMA mode): the IOMMU blocks every DMA")
        case .reserved: throw .unsupportedMode("RTADDR.TTM=10 is reserved")
        }
        let mask = registers.addressMask
        let rootTable = registers.rootTable
        let root = try Self.read16(memory, rootTable, plus: UInt64(device.bus) * 16, .rootTable)
        let rootEntry = VTdRootEntry(low: root.0, high: root.1)
        guard rootEntry.isPresent(devfn: device.devfn, scalable: scalable) else { throw .rootNotPresent(bus: device.bus) }
        let contextTable = GuestPhysicalAddress(rootEntry.contextTable(devfn: device.devfn, scalable: scalable) & mask)
        let contextStructure = VTdStructure.contextTable(bus: device.bus)
        let width = registers.hostAddressWidth

        if !scalable {
            let words = try Self.read16(memory, contextTable, plus: UInt64(device.devfn) * 16, contextStructure)
            let context = VTdContextEntry(low: words.0, high: words.1)
            guard context.isPresent else { throw .contextNotPresent(device) }
            switch context.translationType {
            case .passThrough:
                self = .untranslated(reason: "the context entry of \(device) is pass-through: its addresses are guest-physical")
                return
            case .reserved:
                throw .unsupportedMode("the context entry of \(device) has translation type 11, which is reserved (QEMU faults its DMA)")
            case .secondLevel, .secondLevelWithDeviceTLB:
                try Self.checkLevels(context.levels, registers: registers, what: "the context entry of \(device)")
                self = .pageTables(VTdPageTables(root: GuestPhysicalAddress(context.secondLevelTable & mask), levels: context.levels,
                                                 hostAddressWidth: width, domain: context.domain))
            }
            return
        }

        // Scalable mode: 32-byte context entries, 128 a table; requests without PASID use RID_PASID.
        let index = UInt64(device.devfn & 0x7F)
        let words = try Self.read16(memory, contextTable, plus: index * 32, contextStructure)
        let context = VTdScalableContextEntry(word0: words.0, word1: words.1)
        guard context.isPresent else { throw .contextNotPresent(device) }
        let pasid = context.requestWithoutPASID
        let directory = GuestPhysicalAddress(context.pasidDirectory & mask)
        let directoryEntry = VTdPASIDDirectoryEntry(value: try Self.read8(memory, directory, plus: UInt64(pasid >> 6) * 8, .pasidDirectory))
        guard directoryEntry.isPresent else { throw .pasidNotPresent(device, pasid: pasid) }
        let table = GuestPhysicalAddress(directoryEntry.pasidTable & mask)
        let pe = try Self.read16(memory, table, plus: UInt64(pasid & 0x3F) * 64, .pasidTable)
        let entry = VTdPASIDEntry(word0: pe.0, word1: pe.1)
        guard entry.isPresent else { throw .pasidNotPresent(device, pasid: pasid) }
        switch entry.translationType {
        case .passThrough:
            self = .untranslated(reason: "the PASID entry of \(device) is pass-through (PGTT=100): its addresses are guest-physical")
        case .secondLevel:
            try Self.checkLevels(entry.levels, registers: registers, what: "the PASID entry of \(device)")
            self = .pageTables(VTdPageTables(root: GuestPhysicalAddress(entry.secondLevelTable & mask), levels: entry.levels,
                                             hostAddressWidth: width, domain: entry.domain))
        case .firstLevel:
            throw .unsupportedMode("the PASID entry of \(device) uses first-level translation (PGTT=001), which vqscope does not walk")
        case .nested:
            throw .unsupportedMode("the PASID entry of \(device) uses nested translation (PGTT=011), which vqscope does not walk")
        case nil:
            throw .unsupportedMode("the PASID entry of \(device) has translation type \(entry.translationTypeBits), which is reserved")
        }
    }

    /// The top-level table's depth must be one CAP.SAGAW lists (QEMU faults the DMA otherwise).
    private static func checkLevels(_ levels: Int, registers: VTdRegisters, what: String) throws(IOMMUTranslationError) {
        guard registers.supportedLevels.contains(levels) else {
            let supported = registers.supportedLevels.map(String.init).joined(separator: ", ")
            throw .unsupportedMode("\(what) asks for \(levels)-level page tables; the IOMMU walks \(supported.isEmpty ? "none" : supported) (CAP.SAGAW)")
        }
    }

    static func read8(_ memory: GuestMemory, _ table: GuestPhysicalAddress, plus offset: UInt64,
                      _ structure: VTdStructure) throws(IOMMUTranslationError) -> UInt64 {
        do {
            return try memory.load(UInt64.self, at: GuestPhysicalAddress(table.rawValue &+ offset))
        } catch {
            throw tableError(error, table: table, structure)
        }
    }

    static func read16(_ memory: GuestMemory, _ table: GuestPhysicalAddress, plus offset: UInt64,
                       _ structure: VTdStructure) throws(IOMMUTranslationError) -> (UInt64, UInt64) {
        let bytes: [UInt8]
        do {
            bytes = try memory.bytes(at: GuestPhysicalAddress(table.rawValue &+ offset), count: 16)
        } catch {
            throw tableError(error, table: table, structure)
        }
        return (littleEndianWord(bytes, at: 0), littleEndianWord(bytes, at: 8))
    }

    /// The little-endian 8 bytes at `offset` of `bytes`.
    static func littleEndianWord(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for k in 0..<8 { value |= UInt64(bytes[offset + k]) << (8 * k) }
        return value
    }

    static func tableError(_ error: MemoryError, table: GuestPhysicalAddress, _ structure: VTdStructure) -> IOMMUTranslationError {
        if case .guestUnmapped = error { return .tableOutsideRAM(structure, table) }
        return .readFailed(structure, error)
    }
}

/// A device's second-level page tables: where the top table is, how deep they go, and how wide
/// an address they translate.
public struct VTdPageTables: Hashable, Sendable {
    /// The top-level table (PML4 for 4 levels, PDPT for 3).
    public var root: GuestPhysicalAddress
    /// 3, 4 or 5.
    public var levels: Int
    /// CAP.MGAW + 1: table and page addresses keep the bits below it.
    public var hostAddressWidth: Int
    /// The domain the device belongs to.
    public var domain: UInt16

    public init(root: GuestPhysicalAddress, levels: Int, hostAddressWidth: Int, domain: UInt16 = 0) {
        self.root = root
        self.levels = levels
        self.hostAddressWidth = hostAddressWidth
        self.domain = domain
    }

    /// I/O virtual addresses below 2^bits are translated: the smaller of the tables' reach
    /// (12 + 9 × levels) and the host address width, as QEMU checks (vtd_iova_range_check).
    public var addressBits: Int { min(12 + 9 * levels, hostAddressWidth) }
}
