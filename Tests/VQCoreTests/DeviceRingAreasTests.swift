import VQCore
import XCTest

/// A packed ring's event areas found where QEMU keeps a queue's three ring addresses side by side.
final class DeviceRingAreasTests: XCTestCase {
    private let heap: UInt64 = 0x5600_0000_0000
    private let ramHost: UInt64 = 0x7f00_0000_0000

    private func packedRing(at desc: UInt64, size: UInt16 = 256) -> ScannedRing {
        ScannedRing(location: VirtqueueLocation(layout: .packed, size: size, descriptors: GuestPhysicalAddress(desc),
                                                driverArea: GuestPhysicalAddress(desc - 0x1000), deviceArea: GuestPhysicalAddress(desc - 0x2000)),
                    availIndex: 0, usedIndex: 0, deviceGuess: nil, score: 15, reasons: [])
    }

    func testTheAreasFollowingTheRingInQEMUsHeapAreTaken() throws {
        var memory = BufferMemory(base: heap, count: 3 << 20)
        // Ring A's VRing: num, num_default, align, then desc, avail, used.
        memory.store(UInt32(256), at: heap + 0x1000)
        memory.store(UInt64(0x2bfb000), at: heap + 0x1010)
        memory.store(UInt64(0x2b9f000), at: heap + 0x1018)
        memory.store(UInt64(0x278d000), at: heap + 0x1020)
        // The same triple again (a copy QEMU keeps): agrees, still one answer.
        memory.store(UInt64(0x2bfb000), at: heap + 0x20_0000)
        memory.store(UInt64(0x2b9f000), at: heap + 0x20_0008)
        memory.store(UInt64(0x278d000), at: heap + 0x20_0010)
        // Ring A's address beside values that are no RAM addresses: not taken.
        memory.store(UInt64(0x2bfb000), at: heap + 0x3000)
        memory.store(UInt64(0xdead_beef_0000), at: heap + 0x3008)
        memory.store(UInt64(0x1234), at: heap + 0x3010)
        // Ring B's address followed by two different plausible pairs: undecided.
        memory.store(UInt64(0x3000000), at: heap + 0x5000)
        memory.store(UInt64(0x2000000), at: heap + 0x5008)
        memory.store(UInt64(0x2001000), at: heap + 0x5010)
        memory.store(UInt64(0x3000000), at: heap + 0x6000)
        memory.store(UInt64(0x2100000), at: heap + 0x6008)
        memory.store(UInt64(0x2101000), at: heap + 0x6010)
        // Ring C's address followed by addresses inside its own ring: not taken.
        memory.store(UInt64(0x4000000), at: heap + 0x7000)
        memory.store(UInt64(0x4000100), at: heap + 0x7008)
        memory.store(UInt64(0x4000200), at: heap + 0x7010)
        // The same triple in guest RAM's own mapping (the guest wrote it): never searched.
        let ram = try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: 256 << 20, host: ramHost, name: "pc.ram")])
        let mappings = [ProcessMapping.parse(line: "\(String(heap, radix: 16))-\(String(heap + (3 << 20), radix: 16)) rw-p 00000000 00:00 0 [heap]")!,
                        ProcessMapping.parse(line: "\(String(ramHost, radix: 16))-\(String(ramHost + (256 << 20), radix: 16)) rw-p 00000000 00:00 0")!]
        let rings = [packedRing(at: 0x2bfb000), packedRing(at: 0x3000000), packedRing(at: 0x4000000),
                     ScannedRing(location: VirtqueueLocation(layout: .split, size: 256, descriptors: GuestPhysicalAddress(0x5000000),
                                                             driverArea: GuestPhysicalAddress(0x5001000), deviceArea: GuestPhysicalAddress(0x5001240)),
                                 availIndex: 1, usedIndex: 1, deviceGuess: nil, score: 15, reasons: [])]
        let found = DeviceRingAreas.find(for: rings, reader: memory, mappings: mappings, ram: ram, resident: nil)
        XCTAssertEqual(found, [0x2bfb000: DeviceRingAreas.Areas(driver: 0x2b9f000, device: 0x278d000)])
        // Pages that are not resident are not read: nothing is found there.
        let none = DeviceRingAreas.find(for: rings, reader: memory, mappings: mappings, ram: ram, resident: { _, n in [Bool](repeating: false, count: n) })
        XCTAssertEqual(none, [:])
        // The byte budget bounds the search: the first copy lies past 4 KiB.
        XCTAssertEqual(DeviceRingAreas.find(for: rings, reader: memory, mappings: mappings, ram: ram, resident: nil, maximumBytes: 4096), [:])
    }
}
