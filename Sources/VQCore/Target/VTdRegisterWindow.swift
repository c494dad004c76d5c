/// Where the Intel IOMMU's registers (its DRHD, DMA remapping hardware unit) are in guest-physical
/// memory, and how to read them through HMP. QEMU maps them at 0xfed90000 on q35, but vqscope takes
/// the address from QEMU's own flat view: the I/O region QEMU names `intel_iommu`.
public struct VTdRegisterWindow: Hashable, Sendable {
    /// QEMU's name for the region (`memory_region_init_io(&s->csrmem, ..., "intel_iommu", DMAR_REG_SIZE)`).
    public static let regionName = "intel_iommu"

    /// The first register's guest-physical address.
    public var base: GuestPhysicalAddress
    /// The window's size (0x230 in QEMU 7.2: up to the one fault recording register).
    public var size: UInt64

    public init(base: GuestPhysicalAddress, size: UInt64) {
        self.base = base
        self.size = size
    }

    /// Finds the window in `info mtree -f` text (address space `memory`); `nil` when the machine
    /// has no Intel IOMMU. Throws when the text has no flat view of `memory` at all.
    public static func find(inFlatView text: String) throws(TargetError) -> VTdRegisterWindow? {
        try find(in: FlatView.parse(text))
    }

    /// The window among the ranges of a flat view.
    public static func find(in ranges: [FlatRange]) -> VTdRegisterWindow? {
        guard let range = ranges.first(where: { $0.name == regionName && $0.kind == "i/o" }) else { return nil }
        return VTdRegisterWindow(base: GuestPhysicalAddress(range.start &- range.regionOffset), size: range.size &+ range.regionOffset)
    }

    /// The one HMP command that reads CAP, ECAP, GCMD/GSTS and RTADDR: four 8-byte values from
    /// base + 0x08. (An 8-byte read at 0x18 returns GCMD in its low half and GSTS in its high half.)
    public var readCommand: String {
        HMPMemoryDump.command(address: base.rawValue &+ VTdRegisters.capabilityOffset, quadWords: 4)
    }

    /// The registers from the output of ``readCommand`` (or any dump that holds them); `nil` when
    /// CAP, GSTS or RTADDR is missing from it.
    public func registers(fromDump text: String) -> VTdRegisters? {
        registers(from: HMPMemoryDump.parse(text))
    }

    /// The registers from dumped values.
    public func registers(from words: [HMPMemoryDump.Word]) -> VTdRegisters? {
        func value(at offset: UInt64, size: Int) -> UInt64? {
            let address = base.rawValue &+ offset
            // A value of the size asked for at the address, or the half of a wider value that holds it.
            for word in words where word.size >= size && address >= word.address && address &- word.address < UInt64(word.size) {
                let shift = (address &- word.address) * 8
                guard Int(address &- word.address) + size <= word.size else { continue }
                let bits = UInt64(size) * 8
                return (word.value >> shift) & (bits >= 64 ? .max : (1 << bits) &- 1)
            }
            return nil
        }
        guard let cap = value(at: VTdRegisters.capabilityOffset, size: 8),
              let gsts = value(at: VTdRegisters.globalStatusOffset, size: 4),
              let rtaddr = value(at: VTdRegisters.rootTableAddressOffset, size: 8) else { return nil }
        let ecap = value(at: VTdRegisters.extendedCapabilityOffset, size: 8) ?? 0
        return VTdRegisters(capability: cap, extendedCapability: ecap, globalStatus: UInt32(truncatingIfNeeded: gsts),
                            rootTableAddress: rtaddr)
    }
}

extension VTdRegisters {
    /// Reads the Intel IOMMU's registers through QEMU's monitor: `info mtree -f` for the window,
    /// then one `xp`. `nil` when the flat view shows no Intel IOMMU or the dump lacks a register.
    public static func read(through client: QMPClient) throws(QMPError) -> VTdRegisters? {
        let mtree = try client.humanMonitorCommand("info mtree -f")
        guard let window = (try? VTdRegisterWindow.find(inFlatView: mtree)) ?? nil else { return nil }
        return window.registers(fromDump: try client.humanMonitorCommand(window.readCommand))
    }
}
