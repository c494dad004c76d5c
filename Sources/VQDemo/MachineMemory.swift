import VQCore

/// The simulated machine's guest-physical address space as QEMU's `pc` machine lays it out and its
/// flat view (`info mtree -f`) shows it: RAM below the legacy VGA window, the option ROM and the
/// top of the BIOS in the legacy window, RAM from 1 MiB, each virtio-pci device's MMIO, and the
/// whole BIOS below 4 GiB. RAM is one block at guest-physical 0 (so below 4 GiB a guest-physical
/// address is also the offset into the block, as QEMU's `pc.ram` has it for small guests).
final class MachineMemory: Sendable {
    let blocks: MemoryBlocks
    /// Every range of the flat view, in address order.
    let ranges: [MemoryRange]

    /// One range of the flat view.
    struct MemoryRange: Sendable {
        var start: UInt64
        var last: UInt64
        var priority: Int
        /// `ram`, `rom` or `i/o`.
        var kind: String
        var name: String
        /// Offset into the memory region (printed as `@...` when not 0).
        var offset: UInt64
        /// The memory behind a RAM or ROM range.
        var block: GuestRAM?

        func contains(_ gpa: UInt64) -> Bool { gpa >= start && gpa <= last }
    }

    static let legacyWindow: UInt64 = 0xa0000
    static let highMemory: UInt64 = 0x100000
    static let mmioBase: UInt64 = 0xfe00_0000
    static let msixBase: UInt64 = 0xfebf_0000

    /// The address space of `blocks` with MMIO for `devices` (each with its queue count), which get
    /// their ranges in PCI order.
    init(blocks: MemoryBlocks, devices: [(identity: DeviceIdentity, queues: Int)]) {
        self.blocks = blocks
        let ram = blocks.ram, bios = blocks.bios
        var ranges: [MemoryRange] = [
            MemoryRange(start: 0, last: Self.legacyWindow - 1, priority: 0, kind: "ram", name: "pc.ram", offset: 0, block: ram),
            MemoryRange(start: Self.legacyWindow, last: 0xbffff, priority: 1, kind: "i/o", name: "vga-lowmem", offset: 0),
            MemoryRange(start: 0xc0000, last: 0xdffff, priority: 1, kind: "rom", name: "pc.rom", offset: 0, block: blocks.optionROM),
            MemoryRange(start: 0xe0000, last: 0xfffff, priority: 1, kind: "rom", name: "pc.bios", offset: 0x20000, block: bios),
            MemoryRange(start: Self.highMemory, last: ram.size - 1, priority: 0, kind: "ram", name: "pc.ram", offset: Self.highMemory, block: ram),
        ]
        let inPCIOrder = devices.sorted { $0.identity.devfn < $1.identity.devfn }
        for (k, device) in inPCIOrder.enumerated() {
            let bar = Self.mmioBase + UInt64(k) * 0x4000
            for (n, part) in ["common", "isr", "device", "notify"].enumerated() {
                let start = bar + UInt64(n) * 0x1000
                ranges.append(MemoryRange(start: start, last: start + 0xfff, priority: 0, kind: "i/o",
                                          name: "virtio-pci-\(part)-\(device.identity.name)", offset: 0))
            }
            let msix = Self.msixBase + UInt64(k) * 0x1000
            ranges.append(MemoryRange(start: msix, last: msix + UInt64(device.queues + 1) * 16 - 1, priority: 0, kind: "i/o", name: "msix-table", offset: 0))
            ranges.append(MemoryRange(start: msix + 0x800, last: msix + 0x807, priority: 0, kind: "i/o", name: "msix-pba", offset: 0))
        }
        ranges += [
            MemoryRange(start: 0xfec0_0000, last: 0xfec0_0fff, priority: 0, kind: "i/o", name: "ioapic", offset: 0),
            MemoryRange(start: 0xfed0_0000, last: 0xfed0_03ff, priority: 0, kind: "i/o", name: "hpet", offset: 0),
            MemoryRange(start: 0xfee0_0000, last: 0xfeef_ffff, priority: 4096, kind: "i/o", name: "apic-msi", offset: 0),
            MemoryRange(start: 0xfffc_0000, last: 0xffff_ffff, priority: 0, kind: "rom", name: "pc.bios", offset: 0, block: bios),
        ]
        self.ranges = ranges.sorted { $0.start < $1.start }
    }

    // MARK: What QEMU's monitor answers

    /// `info mtree -f` as QEMU 7.2 prints it: the I/O flat view, then the one of `memory` with
    /// every address space that shares it (`busMasters`: the PCI devices' bus-master spaces).
    func flatViewText(busMasters: [String]) -> String {
        var lines = ["FlatView #0", " AS \"I/O\", root: io", " Root memory region: io"]
        let io: [(UInt64, UInt64, String)] = [
            (0x0, 0x7, "dma-chan"), (0x8, 0xf, "dma-cont"), (0x20, 0x21, "pic"), (0x40, 0x43, "pit"),
            (0x60, 0x60, "i8042-data"), (0x64, 0x64, "i8042-cmd"), (0x70, 0x71, "rtc-index"),
            (0x3f8, 0x3ff, "serial"), (0xcf8, 0xcfb, "pci-conf-idx"), (0xcfc, 0xcff, "pci-conf-data"),
        ]
        for (start, last, name) in io { lines.append("  \(Self.digits(start))-\(Self.digits(last)) (prio 0, i/o): \(name)") }
        lines += ["", "FlatView #1", " AS \"cpu-memory-0\", root: system", " AS \"memory\", root: system"]
        lines += busMasters.map { " AS \"\($0)\", root: bus master container" }
        lines.append(" Root memory region: system")
        for range in ranges {
            var line = "  \(Self.digits(range.start))-\(Self.digits(range.last)) (prio \(range.priority), \(range.kind)): \(range.name)"
            if range.offset != 0 { line += " @" + Self.digits(range.offset) }
            lines.append(line)
        }
        lines.append("")
        return lines.map { $0 + "\n" }.joined()
    }

    /// 16 lowercase hex digits, as QEMU prints flat view addresses.
    private static func digits(_ value: UInt64) -> String { String(Hex.padded(value).dropFirst(2)) }

    /// What guest-physical `gpa` is.
    enum Translation: Equatable {
        /// RAM or ROM: the region's name and the host-virtual address in this process.
        case memory(region: String, host: UInt64)
        /// Device MMIO.
        case notRAM
        case unmapped
    }

    func translate(_ gpa: UInt64) -> Translation {
        guard let range = ranges.first(where: { $0.contains(gpa) }) else { return .unmapped }
        guard let block = range.block else { return .notRAM }
        return .memory(region: range.name, host: block.hostAddress + range.offset + (gpa - range.start))
    }

    /// The slot map QEMU's answers give (what `QMPSlotSource` builds), for in-process readers.
    var slotMap: SlotMap {
        let slots = ranges.compactMap { range -> MemorySlot? in
            guard let block = range.block else { return nil }
            return MemorySlot(guest: GuestPhysicalAddress(range.start), size: range.last - range.start + 1,
                              host: block.hostAddress + range.offset, name: range.name,
                              kind: range.kind == "rom" ? .rom : .ram)
        }
        let holes = ranges.filter { $0.block == nil }.map {
            MemoryHole(guest: GuestPhysicalAddress($0.start), size: $0.last - $0.start + 1, name: $0.name)
        }
        return try! SlotMap(slots: slots, holes: holes)
    }
}
