// Fuzz target: SplitRing.snapshot over a small guest RAM image made of the input.
//
// Input: [0] ring size (an index into FuzzGuest.sizes), [1] options: bit 0 EVENT_IDX, bit 1
// INDIRECT_DESC, bit 2 ring areas from the header (else the standard layout), bit 3 small walk
// limits, bits 4-5 attempts - 1; [2..8) descriptor table, avail and used offsets (u16, with bit 2);
// then guest RAM from guest-physical 0. Standard layout: descriptors at 0, the avail ring right
// after them, the used ring after it aligned to 4.
import VQCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let n = Int(FuzzGuest.sizes[Int(input.u8()) % FuzzGuest.sizes.count])
    let options = input.u8()
    let custom = (input.u16(), input.u16(), input.u16())
    var desc: UInt64 = 0, avail = UInt64(16 * n), used = (avail + 6 + 2 * UInt64(n) + 3) / 4 * 4
    if options & 4 != 0 { (desc, avail, used) = (UInt64(custom.0), UInt64(custom.1), UInt64(custom.2)) }
    var features: VirtioFeatures = []
    if options & 1 != 0 { features.insert(.eventIndex) }
    if options & 2 != 0 { features.insert(.indirectDescriptors) }
    let limits = FuzzGuest.limits(small: options & 8 != 0)
    let memory = FuzzGuest.memory(input.rest())
    let location = VirtqueueLocation(layout: .split, size: UInt16(n), descriptors: GuestPhysicalAddress(desc),
                                     driverArea: GuestPhysicalAddress(avail), deviceArea: GuestPhysicalAddress(used), features: features)
    guard let s = try? SplitRing.snapshot(memory: memory, location: location, maxAttempts: 1 + Int(options >> 4 & 3), limits: limits) else {
        return 0  // ring areas outside RAM: refused, as documented
    }
    require(n == 0 ? s.descriptors.isEmpty : s.descriptors.count == n, "\(s.descriptors.count) descriptors for N=\(n)")
    require(s.inFlight.count <= n, "\(s.inFlight.count) in flight for N=\(n)")
    require(s.inFlight.count == min(s.pendingCount, n), "in flight \(s.inFlight.count) vs pending \(s.pendingCount)")
    var heads = Set<UInt16>(), tables = Set<GuestPhysicalAddress>(), elements = 0
    for f in s.inFlight {
        guard let c = f.chain else {
            require(Int(f.head) >= n, "no chain for head \(f.head) in range")
            continue
        }
        checkChain(c, ringSize: n, limits: limits)
        guard heads.insert(f.head).inserted else { continue }
        elements += c.elements.count
        tables.formUnion(c.elements.compactMap(\.indirectTable))
    }
    let cap = min(max(limits.maxIndirectEntries, 0), 65536)
    require(elements <= n + tables.count * cap, "\(elements) elements in distinct chains, N=\(n), \(tables.count) tables")
    checkProblems(s.allProblems)
    return 0
}
