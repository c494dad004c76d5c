/// How a QEMU machine type lays its RAM block out in guest-physical space, as QEMU's board code
/// does it (hw/i386/pc_piix.c, hw/i386/pc_q35.c, hw/arm/virt.c, hw/riscv/virt.c). Used where no
/// QMP or KVM slot list says it: the `maps` slot source.
public struct MachineLayout: Equatable, Sendable {
    /// A guest-physical range of RAM and its offset into the RAM block.
    public struct Piece: Equatable, Sendable {
        public var guest: GuestPhysicalAddress
        public var size: UInt64
        public var ramOffset: UInt64

        public init(guest: GuestPhysicalAddress, size: UInt64, ramOffset: UInt64) {
            self.guest = guest
            self.size = size
            self.ramOffset = ramOffset
        }
    }

    public var pieces: [Piece]
    /// Ranges inside or beside RAM that are not plain RAM (the legacy VGA/BIOS window, the PCI hole).
    public var holes: [MemoryHole]
    /// Where memory devices (`-device pc-dimm`) start: on x86 the end of the RAM above 4 GiB rounded
    /// up to 1 GiB (hw/i386/pc.c); nil where vqscope does not know it.
    public var deviceMemoryBase: UInt64?

    /// The layout for `commandLine`, or a reason why it is not known.
    public static func forMachine(_ commandLine: QEMUCommandLine) throws(TargetError) -> MachineLayout {
        let ram = commandLine.ramSize
        switch (commandLine.architecture ?? "x86_64", commandLine.machineFamily) {
        case ("x86_64", "pc"), ("i386", "pc"):
            return x86(ramSize: ram, below4G: pcBelow4G(ramSize: ram, maxRAMBelow4G: commandLine.maxRAMBelow4G))
        case ("x86_64", "q35"), ("i386", "q35"):
            return x86(ramSize: ram, below4G: q35Below4G(ramSize: ram, maxRAMBelow4G: commandLine.maxRAMBelow4G))
        case ("aarch64", "virt"), ("arm", "virt"):
            return flat(base: 0x4000_0000, ramSize: ram)
        case ("riscv64", "virt"), ("riscv32", "virt"):
            return flat(base: 0x8000_0000, ramSize: ram)
        case let (arch, family):
            throw .noSlotMap("vqscope does not know how machine '\(family.isEmpty ? "default" : family)' on \(arch) lays out RAM; use --slots qmp or --slots kvm")
        }
    }

    /// RAM below 4 GiB on the i440fx `pc` machine: all of it up to max-ram-below-4g (default
    /// 3.5 GiB); from there on, gigabyte alignment keeps at most 3 GiB low.
    public static func pcBelow4G(ramSize: UInt64, maxRAMBelow4G: UInt64?) -> UInt64 {
        let limit = maxRAMBelow4G ?? 0xE000_0000
        var low = limit
        if ramSize >= limit, low > 0xC000_0000 { low = 0xC000_0000 }
        return min(ramSize, low)
    }

    /// RAM below 4 GiB on `q35`: 2 GiB when RAM is 2.75 GiB or more, else all of it (up to
    /// 2.75 GiB), lowered further by max-ram-below-4g.
    public static func q35Below4G(ramSize: UInt64, maxRAMBelow4G: UInt64?) -> UInt64 {
        var low: UInt64 = ramSize >= 0xB000_0000 ? 0x8000_0000 : 0xB000_0000
        if let limit = maxRAMBelow4G, low > limit { low = limit }
        return min(ramSize, low)
    }

    static let legacyWindowStart: UInt64 = 0xA0000
    static let legacyWindowEnd: UInt64 = 0x100000

    /// x86 PC layout: low RAM below 4 GiB with the legacy window (0xa0000-0xfffff) left out (what
    /// the guest sees there depends on the VGA device and the chipset's PAM registers, which only
    /// QMP or KVM can say), the rest from 4 GiB.
    static func x86(ramSize: UInt64, below4G: UInt64) -> MachineLayout {
        var pieces: [Piece] = []
        var holes: [MemoryHole] = []
        pieces.append(Piece(guest: GuestPhysicalAddress(0), size: min(below4G, legacyWindowStart), ramOffset: 0))
        if below4G > legacyWindowStart {
            holes.append(MemoryHole(guest: GuestPhysicalAddress(legacyWindowStart), size: min(below4G, legacyWindowEnd) - legacyWindowStart,
                                    name: "the legacy VGA/BIOS window (its mapping depends on chipset state: use --slots qmp or kvm)"))
        }
        if below4G > legacyWindowEnd {
            pieces.append(Piece(guest: GuestPhysicalAddress(legacyWindowEnd), size: below4G - legacyWindowEnd, ramOffset: legacyWindowEnd))
        }
        holes.append(MemoryHole(guest: GuestPhysicalAddress(below4G), size: (1 << 32) - below4G, name: "the PCI/MMIO hole below 4 GiB"))
        if ramSize > below4G {
            pieces.append(Piece(guest: GuestPhysicalAddress(1 << 32), size: ramSize - below4G, ramOffset: below4G))
        }
        let gigabyte: UInt64 = 1 << 30
        let deviceMemory = ((1 << 32) + (ramSize - below4G) + gigabyte - 1) / gigabyte * gigabyte
        return MachineLayout(pieces: pieces.filter { $0.size > 0 }, holes: holes, deviceMemoryBase: deviceMemory)
    }

    static func flat(base: UInt64, ramSize: UInt64) -> MachineLayout {
        MachineLayout(pieces: [Piece(guest: GuestPhysicalAddress(base), size: ramSize, ramOffset: 0)],
                      holes: [MemoryHole(guest: GuestPhysicalAddress(0), size: base, name: "device memory below RAM")])
    }

    /// The slot map of this layout for a RAM block made of `chunks` (host-virtual address and size,
    /// in RAM-offset order: one chunk, or one per NUMA memory backend).
    public func slotMap(chunks: [(host: UInt64, size: UInt64, name: String)]) throws(TargetError) -> SlotMap {
        var slots: [MemorySlot] = []
        for piece in pieces {
            var gpa = piece.guest.rawValue
            var offset = piece.ramOffset
            var remaining = piece.size
            var chunkStart: UInt64 = 0
            for chunk in chunks where remaining > 0 {
                defer { chunkStart += chunk.size }
                guard offset >= chunkStart, offset < chunkStart + chunk.size else { continue }
                let n = min(remaining, chunkStart + chunk.size - offset)
                slots.append(MemorySlot(guest: GuestPhysicalAddress(gpa), size: n, host: chunk.host + (offset - chunkStart), name: chunk.name))
                gpa += n; offset += n; remaining -= n
            }
            guard remaining == 0 else {
                throw .noSlotMap("the RAM found in the process (\(Hex.humanSize(chunks.reduce(0) { $0 + $1.size }))) is smaller than the machine's layout needs")
            }
        }
        do { return try SlotMap(slots: slots, holes: holes) } catch { throw .noSlotMap(error.description) }
    }
}
