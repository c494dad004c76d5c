// Fuzz target: Chain.split and Chain.packed, reading indirect tables from guest memory and with
// supplied tables, on a descriptor table that is the start of the input's guest RAM.
//
// Input: [0] options: bit 0 packed, bit 1 small walk limits, bit 2 a packed chain bounded by
// [3], bit 3 check supplied walks against the slot map; [1] table size - 1 (mod 64); [2] head (mod
// size + 2); [3] packed max slots; then guest RAM from guest-physical 0, the table at 0.
import VQCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let options = input.u8()
    let n = 1 + Int(input.u8()) % 64
    let head = UInt16(Int(input.u8()) % (n + 2))
    let slotsByte = Int(input.u8())
    let maxSlots = options & 4 != 0 ? slotsByte : nil
    let layout: RingLayout = options & 1 != 0 ? .packed : .split
    let limits = FuzzGuest.limits(small: options & 2 != 0)
    let ram = input.rest()
    let memory = FuzzGuest.memory(ram)
    let table = Descriptor.decode(try! memory.bytes(at: GuestPhysicalAddress(0), count: 16 * n), layout: layout)
    require(table.count == n, "decoded \(table.count) of \(n) descriptors")

    let read = layout == .split
        ? Chain.split(head: head, table: table, memory: memory, limits: limits)
        : Chain.packed(head: head, ring: table, maxSlots: maxSlots, memory: memory, limits: limits)
    checkChain(read, ringSize: n, limits: limits)

    // The same walk with the indirect tables handed over: those the table's descriptors name, as far
    // as guest RAM holds them.
    var supplied: [GuestPhysicalAddress: [Descriptor]] = [:]
    for d in table where d.isIndirect {
        let count = min(Int(d.length / 16), 256)
        if let bytes = try? memory.bytes(at: d.address, count: 16 * count) { supplied[d.address] = Descriptor.decode(bytes, layout: layout) }
    }
    let map = options & 8 != 0 ? memory.map : nil
    let given = layout == .split
        ? Chain.split(head: head, table: table, indirectTables: supplied, map: map, limits: limits)
        : Chain.packed(head: head, ring: table, maxSlots: maxSlots, indirectTables: supplied, map: map, limits: limits)
    checkChain(given, ringSize: n, limits: limits)
    return 0
}
