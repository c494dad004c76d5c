// Fuzz target: the Intel IOMMU walk (VTdDeviceTranslation, VTdPageTables, IOVASpace) over arbitrary
// table bytes in guest RAM: it must end, never trap, and give either pieces inside guest RAM or a
// named error of one line.
//
// Input: [0] options: bit 0 scalable mode, bit 1 translation enabled, bits 2-3 CAP (QEMU 39-bit,
// QEMU 48-bit, a Skylake unit's, 48-bit), bit 4 the device needs read, bit 5 write; [1] bus;
// [2] devfn; [3-4] root table page (little-endian, × 4 KiB); [5] most tables for walking every
// mapping (mod 64); [6-13] IOVA; [14-17] byte count (mod 1 MiB); then guest RAM from
// guest-physical 0 (FuzzGuest: its first page also at 1 MiB).
import VQCore

let capabilities: [UInt64] = [0x00D2_008C_2226_0206, 0x00D2_008C_222F_0606, 0x00D2_008C_4066_0462, 0x00D2_008C_222F_0606]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let options = input.u8()
    let device = PCIAddress(bus: input.u8(), devfn: input.u8())
    let rootPage = UInt64(input.u16())
    let maxTables = Int(input.u8()) % 64
    let iova = input.u64()
    let count = UInt64(input.u32() & 0xF_FFFF)
    var needs: IOMMUAccess = []
    if options & 16 != 0 { needs.insert(.read) }
    if options & 32 != 0 { needs.insert(.write) }
    let registers = VTdRegisters(capability: capabilities[Int(options >> 2) & 3], extendedCapability: 0xF0_0F5E,
                                 globalStatus: options & 2 != 0 ? 0xC400_0000 : 0,
                                 rootTableAddress: rootPage << 12 | (options & 1 != 0 ? 1 << 10 : 0))
    let memory = FuzzGuest.memory(input.rest())

    let translation: VTdDeviceTranslation
    do {
        translation = try VTdDeviceTranslation(device: device, registers: registers, memory: memory)
    } catch {
        checkDescribed(error)
        return 0
    }
    if case let .pageTables(tables) = translation {
        require((3...5).contains(tables.levels), "\(tables.levels) levels")
        require(tables.addressBits <= 12 + 9 * tables.levels, "address bits \(tables.addressBits)")
        do {
            let page = try tables.translate(iova, memory: memory)
            require([0x1000, 0x20_0000, 0x4000_0000].contains(page.size), "page size \(page.size)")
            require(page.contains(iova) && page.iova % page.size == 0 && page.gpa.rawValue % page.size == 0, "page \(page) for \(iova)")
            require((1...3).contains(page.level) && !page.access.isEmpty, "page \(page)")
        } catch {
            checkDescribed(error)
        }
        let all = tables.allMappings(memory: memory, maxTables: maxTables)
        require(all.tablesRead <= maxTables, "\(all.tablesRead) tables read, limit \(maxTables)")
        for (a, b) in zip(all.mappings, all.mappings.dropFirst()) {
            require(a.iova < b.iova && b.iova - a.iova >= a.size, "mappings \(a) and \(b) overlap or are out of order")
        }
        for m in all.mappings { require(m.iova >> UInt64(tables.addressBits) == 0, "mapping \(m) beyond \(tables.addressBits) bits") }
        for p in all.problems { checkDescribed(p) }
    }

    var space = IOVASpace(device: device, translation: translation, memory: memory)
    do {
        let pieces = try space.translate(iova, count: count, needs: needs)
        require(pieces.reduce(0) { $0 + $1.count } == count, "pieces \(pieces) do not add up to \(count)")
        var next = iova
        for piece in pieces {
            require(piece.iova == next && piece.count > 0, "piece \(piece) does not follow on from \(next)")
            require(piece.access.isSuperset(of: needs), "piece \(piece) lacks \(needs)")
            do {
                _ = try memory.map.pieces(from: piece.gpa, count: Int(piece.count))
            } catch {
                require(false, "piece \(piece) is not all guest RAM: \(error)")
            }
            next &+= piece.count
        }
        let again = try space.translate(iova, count: count, needs: needs)
        require(again == pieces, "the cache answered \(again), the walk \(pieces)")
        require(space.changes().isEmpty, "mappings changed in memory that did not")
    } catch {
        checkDescribed(error)
    }

    // The device's view: every slot backed by guest RAM.
    let view = space.deviceMemory(space.allMappings(maxTables: maxTables))
    for slot in view.map.slots {
        require(memory.map.slots.contains { slot.host >= $0.host && slot.host - $0.host < $0.size && slot.size <= $0.size - (slot.host - $0.host) },
                "device slot \(slot) outside guest RAM")
    }
    return 0
}

/// An error has words, on one line.
func checkDescribed(_ error: IOMMUTranslationError) {
    let text = error.description
    require(!text.isEmpty && !text.contains("\n"), "error \(text.debugDescription)")
}
