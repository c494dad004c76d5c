import VQCore
import XCTest

/// A packed ring's event areas found where QEMU keeps a queue's three ring addresses side by side.
final class DeviceRingAreasTests: XCTestCase {
    /// QEMU's heap (4 MiB), then guest RAM (8 MiB) in the same process.
    private let heap: UInt64 = 0x5600_0000_0000
    private var ramHost: UInt64 { heap + (4 << 20) }

    private func packedRing(at desc: UInt64, size: UInt16 = 256) -> ScannedRing {
        ScannedRing(location: VirtqueueLocation(layout: .packed, size: size, descriptors: GuestPhysicalAddress(desc),
                                                driverArea: GuestPhysicalAddress(desc - 0x1000), deviceArea: GuestPhysicalAddress(desc - 0x2000)),
                    availIndex: 0, usedIndex: 0, deviceGuess: nil, score: 15, reasons: [])
    }

    func testTheAreasFollowingTheRingInQEMUsMemoryAreTaken() throws {
        var memory = BufferMemory(base: heap, count: 12 << 20)
        func triple(_ at: UInt64, _ words: UInt64...) { for (i, w) in words.enumerated() { memory.store(w, at: heap + at + 8 * UInt64(i)) } }
        // Ring A's VRing (num, num_default, align, then desc, avail, used), and a copy that agrees.
        memory.store(UInt32(256), at: heap + 0x1000)
        triple(0x1010, 0x7fb000, 0x79f000, 0x78d000)
        triple(0x20_0000, 0x7fb000, 0x79f000, 0x78d000)
        // Ring A's address beside a size and a host pointer, and beside a zero: not taken.
        triple(0x3000, 0x7fb000, 0x1000, 0x7f69_9cd4_cbc0)
        triple(0x3800, 0x7fb000, 0x400, 0)
        // Ring B's address followed by two different plausible pairs: undecided.
        triple(0x5000, 0x600000, 0x400000, 0x401000)
        triple(0x6000, 0x600000, 0x410000, 0x411000)
        // Ring C's address followed by addresses inside its own ring: not taken.
        triple(0x7000, 0x500000, 0x500100, 0x500200)
        // Ring D's address followed by the real-mode vector table and the BIOS data area: no event
        // structures there (flags 0xf000), not taken.
        triple(0x8000, 0x300000, 0x80, 0x400)
        memory.store(UInt32(0xf000_e2c3), at: ramHost + 0x80)
        memory.store(UInt32(0x0010_03f8), at: ramHost + 0x400)
        // Ring A's triple written by the guest into its own RAM (another driver area): never searched.
        memory.store(UInt64(0x7fb000), at: ramHost + 0x100000)
        memory.store(UInt64(0x100), at: ramHost + 0x100008)
        memory.store(UInt64(0x200), at: ramHost + 0x100010)

        let ram = try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: 8 << 20, host: ramHost, name: "pc.ram")])
        let mappings = [ProcessMapping.parse(line: "\(String(heap, radix: 16))-\(String(ramHost, radix: 16)) rw-p 00000000 00:00 0 [heap]")!,
                        ProcessMapping.parse(line: "\(String(ramHost, radix: 16))-\(String(ramHost + (8 << 20), radix: 16)) rw-p 00000000 00:00 0")!]
        let rings = [packedRing(at: 0x7fb000), packedRing(at: 0x600000), packedRing(at: 0x500000), packedRing(at: 0x300000),
                     ScannedRing(location: VirtqueueLocation(layout: .split, size: 256, descriptors: GuestPhysicalAddress(0x200000),
                                                             driverArea: GuestPhysicalAddress(0x201000), deviceArea: GuestPhysicalAddress(0x201240)),
                                 availIndex: 1, usedIndex: 1, deviceGuess: nil, score: 15, reasons: [])]
        let found = DeviceRingAreas.find(for: rings, reader: memory, mappings: mappings, ram: ram, resident: nil)
        XCTAssertEqual(found, [0x7fb000: DeviceRingAreas.Areas(driver: 0x79f000, device: 0x78d000)])
        // Pages that are not resident are not read: nothing is found there.
        let none = DeviceRingAreas.find(for: rings, reader: memory, mappings: mappings, ram: ram, resident: { _, n in [Bool](repeating: false, count: n) })
        XCTAssertEqual(none, [:])
        // The byte budget bounds the search: the first triple lies past 4 KiB.
        XCTAssertEqual(DeviceRingAreas.find(for: rings, reader: memory, mappings: mappings, ram: ram, resident: nil, maximumBytes: 4096), [:])
    }
}
