// Fuzz target: PackedRing.snapshot over a small guest RAM image made of the input.
//
// Input: [0] ring size (an index into FuzzGuest.sizes), [1] options: bit 0 IN_ORDER, bit 1 a used
// index hint, bit 2 the hint without a wrap counter, bit 3 its wrap counter, bit 4 the hint as
// last-avail-idx too, bit 5 small walk limits, bits 6-7 attempts - 1; [2..4) the hint's index;
// [4..6) and [6..8) the driver and device event areas (u16 offsets); then guest RAM from
// guest-physical 0, the descriptor ring at 0.
import VQCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let n = Int(FuzzGuest.sizes[Int(input.u8()) % FuzzGuest.sizes.count])
    let options = input.u8()
    let hintIndex = input.u16(), driver = input.u16(), device = input.u16()
    var features: VirtioFeatures = [.packedRing]
    if options & 1 != 0 { features.insert(.inOrder) }
    let hint: PackedRing.Hint? = options & 2 != 0 ? PackedRing.Hint(index: hintIndex, wrap: options & 4 != 0 ? nil : options & 8 != 0) : nil
    let limits = FuzzGuest.limits(small: options & 32 != 0)
    let memory = FuzzGuest.memory(input.rest())
    let location = VirtqueueLocation(layout: .packed, size: UInt16(n), descriptors: GuestPhysicalAddress(0),
                                     driverArea: GuestPhysicalAddress(UInt64(driver)), deviceArea: GuestPhysicalAddress(UInt64(device)),
                                     features: features)
    guard let s = try? PackedRing.snapshot(memory: memory, location: location, usedIndex: hint,
                                           lastAvailIndex: options & 16 != 0 ? hint : nil,
                                           maxAttempts: 1 + Int(options >> 6), limits: limits) else { return 0 }
    require(s.descriptors.count == n && s.states.count == n, "\(s.descriptors.count) descriptors, \(s.states.count) states for N=\(n)")
    if n > 0 {
        require(Int(s.driver.index) < n, "driver index \(s.driver.index) for N=\(n)")
        require(Int(s.deviceUsed.index) < n, "device index \(s.deviceUsed.index) for N=\(n)")
    }
    // The available chains tile the slots from the device's used position to the driver's.
    let covered = s.available.reduce(0) { $0 + max(1, $1.chain.ringDescriptors) }
    require(covered <= max(n, 0), "available chains cover \(covered) slots of \(n)")
    var tables = Set<GuestPhysicalAddress>(), elements = 0
    for a in s.available {
        checkChain(a.chain, ringSize: n, limits: limits)
        elements += a.chain.elements.count
        tables.formUnion(a.chain.elements.compactMap(\.indirectTable))
    }
    let cap = min(max(limits.maxIndirectEntries, 0), 65536)
    require(elements <= n + tables.count * cap, "\(elements) elements, N=\(n), \(tables.count) tables")
    checkProblems(s.allProblems)
    return 0
}
