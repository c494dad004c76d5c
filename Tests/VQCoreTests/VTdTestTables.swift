import VQCore

/// Hand-built Intel IOMMU tables in 8 MiB of in-memory guest RAM at guest-physical 0: a root
/// table, context tables and second-level page tables, written the way a guest's driver writes them.
struct VTdTestTables {
    static let host: UInt64 = 0x7f00_0000_0000
    static let ramSize: UInt64 = 8 << 20
    /// QEMU 7.2's CAP with aw-bits=39: SAGAW 39-bit (3 levels), MGAW 38, 2 MiB and 1 GiB pages.
    static let cap39: UInt64 = 0x00D2_008C_2226_0206
    /// QEMU's CAP with aw-bits=48: SAGAW 39- and 48-bit, MGAW 47.
    static let cap48: UInt64 = 0x00D2_008C_222F_0606
    /// GSTS with translation enabled and the root table pointer set (plus queued invalidation).
    static let enabled: UInt32 = 0xC400_0000

    var ram = BufferMemory(base: host, count: Int(ramSize))
    /// Where the next table goes: tables from 1 MiB up, data below.
    var nextPage: UInt64 = 0x10_0000
    let rootTable: UInt64 = 0x1000
    var scalable = false

    var memory: GuestMemory {
        GuestMemory(map: try! SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: Self.ramSize, host: Self.host, name: "pc.ram")]),
                    reader: ram)
    }

    func registers(cap: UInt64 = cap48, status: UInt32 = enabled) -> VTdRegisters {
        VTdRegisters(capability: cap, extendedCapability: 0xF0_0F5E, globalStatus: status,
                     rootTableAddress: rootTable | (scalable ? 1 << 10 : 0))
    }

    mutating func page() -> UInt64 {
        defer { nextPage += 0x1000 }
        return nextPage
    }

    mutating func store(_ value: UInt64, at gpa: UInt64) { ram.store(value, at: Self.host + gpa) }

    func load(_ gpa: UInt64) -> UInt64 { try! memory.load(UInt64.self, at: GuestPhysicalAddress(gpa)) }

    /// A legacy root entry for the device's bus and a context entry for the device, pointing at a
    /// new top-level table (returned). `type`: 0 translated, 2 pass-through.
    mutating func attach(_ device: PCIAddress, levels: Int, type: UInt64 = 0, domain: UInt64 = 7) -> UInt64 {
        let top = page()
        let rootEntry = rootTable + UInt64(device.bus) * 16
        var context = load(rootEntry) & ~0xFFF
        if context == 0 {
            context = page()
            store(context | 1, at: rootEntry)
        }
        store(top | type << 2 | 1, at: context + UInt64(device.devfn) * 16)
        store(UInt64(levels - 2) | domain << 8, at: context + UInt64(device.devfn) * 16 + 8)
        return top
    }

    /// A scalable-mode root entry, context entry (RID_PASID 0), PASID directory and PASID entry
    /// with translation type `pgtt` (2 second-level, 4 pass-through), pointing at a new top table.
    mutating func attachScalable(_ device: PCIAddress, levels: Int, pgtt: UInt64 = 2, domain: UInt64 = 9) -> UInt64 {
        scalable = true
        let top = page(), context = page(), directory = page(), pasidTable = page()
        let rootEntry = rootTable + UInt64(device.bus) * 16 + (device.devfn >= 128 ? 8 : 0)
        store(context | 1, at: rootEntry)
        store(directory | 1, at: context + UInt64(device.devfn & 0x7F) * 32)
        store(pasidTable | 1, at: directory)
        store(top | pgtt << 6 | UInt64(levels - 2) << 2 | 1, at: pasidTable)
        store(domain, at: pasidTable + 8)
        return top
    }

    /// Maps the page of `iova` to `gpa` with a leaf at `leafLevel` (1: 4 KiB, 2: 2 MiB, 3: 1 GiB),
    /// making the tables on the way.
    mutating func map(_ iova: UInt64, to gpa: UInt64, top: UInt64, levels: Int, leafLevel: Int = 1, access: UInt64 = 3) {
        var table = top
        for level in stride(from: levels, to: leafLevel, by: -1) {
            let slot = table + ((iova >> UInt64(12 + 9 * (level - 1))) & 0x1FF) * 8
            var next = load(slot) & ~0xFFF
            if next == 0 {
                next = page()
                store(next | 3, at: slot)
            }
            table = next
        }
        let slot = table + ((iova >> UInt64(12 + 9 * (leafLevel - 1))) & 0x1FF) * 8
        store(gpa | access | (leafLevel > 1 ? 1 << 7 : 0), at: slot)
    }

    /// The slot of the entry for `iova` at `level`, following the tables from `top`.
    func entryAddress(_ iova: UInt64, top: UInt64, levels: Int, level: Int) -> UInt64 {
        var table = top
        for l in stride(from: levels, to: level, by: -1) {
            table = load(table + ((iova >> UInt64(12 + 9 * (l - 1))) & 0x1FF) * 8) & ~0xFFF
        }
        return table + ((iova >> UInt64(12 + 9 * (level - 1))) & 0x1FF) * 8
    }
}
