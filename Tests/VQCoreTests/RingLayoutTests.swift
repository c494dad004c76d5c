import VQCore
import XCTest

/// The byte layouts of both ring formats against the spec's numbers, and the one snapshot function
/// reading each layout the way its own decoder does.
final class RingLayoutTests: XCTestCase {
    func testSplitLayoutSizesAndOffsets() {
        let l = SplitRingLayout(size: 256)
        XCTAssertEqual(l.descriptorTableBytes, 4096)
        XCTAssertEqual(l.availEntryOffset(0), 4)
        XCTAssertEqual(l.availEntryOffset(255), 4 + 510)
        XCTAssertEqual(l.usedEventOffset, 516)
        XCTAssertEqual(l.availEntriesBytes, 516)
        XCTAssertEqual(l.availBytes, 518)
        XCTAssertEqual(l.usedEntryOffset(1), 12)
        XCTAssertEqual(l.availEventOffset, 2052)
        XCTAssertEqual(l.usedEntriesBytes, 2052)
        XCTAssertEqual(l.usedBytes, 2054)
        XCTAssertEqual(SplitRingLayout.indexOffset, 2)
    }

    /// Virtio 1.2, 2.7.2: avail right after the table, used on the next 4096-byte boundary after
    /// `used_event` (QEMU's legacy PCI: 256 entries put the used ring at +0x2000, 128 at +0x1000).
    func testLegacyLayout() {
        XCTAssertEqual(SplitRingLayout(size: 256).legacyAvailOffset, 0x1000)
        XCTAssertEqual(SplitRingLayout(size: 256).legacyUsedOffset, 0x2000)
        XCTAssertEqual(SplitRingLayout(size: 128).legacyUsedOffset, 0x1000)
        XCTAssertEqual(SplitRingLayout(size: 1024).legacyUsedOffset, 0x5000)
        XCTAssertEqual(SplitRingLayout(size: 256).legacyTotalBytes, 0x2000 + 6 + 8 * 256)
        XCTAssertEqual(SplitRingLayout.alignedUp(UInt64(0x1001)), 0x2000)
        XCTAssertEqual(SplitRingLayout.alignedUp(0x1000), 0x1000)
    }

    func testPackedLayout() {
        let l = PackedRingLayout(size: 64)
        XCTAssertEqual(l.descriptorRingBytes, 1024)
        XCTAssertEqual(l.descriptorOffset(3), 48)
        XCTAssertEqual(PackedRingLayout.eventAreaBytes, 4)
        XCTAssertEqual(PackedRingLayout.eventFlagsOffset, 2)
    }

    /// The one snapshot function reads each layout as that layout's decoder does.
    func testReadPicksTheLayoutsDecoder() throws {
        let host: UInt64 = 0x7f00_0000_0000
        var ram = BufferMemory(base: host, count: 0x20000)
        let memory = GuestMemory(map: try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: 0x20000, host: host, name: "pc.ram")]),
                                 reader: ram)
        let split = VirtqueueLocation(layout: .split, size: 16, descriptors: GuestPhysicalAddress(0x1000),
                                      driverArea: GuestPhysicalAddress(0x1100), deviceArea: GuestPhysicalAddress(0x1200))
        ram.store(Descriptor(address: GuestPhysicalAddress(0x8000), length: 64).splitBytes, at: host + 0x1000)
        ram.store(UInt16(1), at: host + 0x1100 + UInt64(SplitRingLayout.indexOffset))
        let s = try RingSnapshot.read(memory: GuestMemory(map: memory.map, reader: ram), location: split)
        XCTAssertEqual(s, .split(try SplitRing.snapshot(memory: GuestMemory(map: memory.map, reader: ram), location: split)))
        XCTAssertEqual(s.pendingCount, 1)

        let packed = VirtqueueLocation(layout: .packed, size: 16, descriptors: GuestPhysicalAddress(0x4000),
                                       driverArea: GuestPhysicalAddress(0x5000), deviceArea: GuestPhysicalAddress(0x6000))
        let p = try RingSnapshot.read(memory: memory, location: packed)
        XCTAssertEqual(p.layout, .packed)
        XCTAssertEqual(p, .packed(try PackedRing.snapshot(memory: memory, location: packed)))
    }
}
