import XCTest
@testable import VQCore

private func gpa(_ value: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(value) }

final class SlotMapTests: XCTestCase {
    // A PC-like layout: low RAM, the VGA window (a named hole), BIOS ROM, RAM to 2 GiB,
    // a PCI hole, and RAM above 4 GiB.
    private let lowRAM = MemorySlot(guest: gpa(0x0), size: 0xa_0000, host: 0x7f00_0000_0000, name: "pc.ram")
    private let bios = MemorySlot(guest: gpa(0xc_0000), size: 0x4_0000, host: 0x7f10_0000_0000, name: "pc.bios", kind: .rom)
    private let midRAM = MemorySlot(guest: gpa(0x10_0000), size: 0x7ff0_0000, host: 0x7f00_0010_0000, name: "pc.ram")
    private let highRAM = MemorySlot(guest: gpa(0x1_0000_0000), size: 0x8000_0000, host: 0x7f00_8000_0000, name: "pc.ram")
    private let vga = MemoryHole(guest: gpa(0xa_0000), size: 0x2_0000, name: "vga-lowmem")
    private let ioapic = MemoryHole(guest: gpa(0xfec0_0000), size: 0x1000, name: "ioapic")

    private func pcMap() throws -> SlotMap {
        // Given out of order on purpose.
        try SlotMap(slots: [highRAM, bios, lowRAM, midRAM], holes: [ioapic, vga])
    }

    private func pieces(_ map: SlotMap, _ address: UInt64, _ count: Int) throws -> [[UInt64]] {
        try map.pieces(from: gpa(address), count: count).map { [$0.host, UInt64($0.count)] }
    }

    private func unmappedError(_ body: () throws -> Void) -> MemoryError? {
        do {
            try body()
            return nil
        } catch let error as MemoryError {
            return error
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    // MARK: Building

    func testSlotsAreSorted() throws {
        let map = try pcMap()
        XCTAssertEqual(map.slots, [lowRAM, bios, midRAM, highRAM])
        XCTAssertEqual(map.holes, [vga, ioapic])
        XCTAssertEqual(map.totalSize, 0xa_0000 + 0x4_0000 + 0x7ff0_0000 + 0x8000_0000)
    }

    func testEmptyMap() throws {
        let map = SlotMap.empty
        XCTAssertTrue(map.slots.isEmpty)
        XCTAssertEqual(map.totalSize, 0)
        XCTAssertNil(map.slotIndex(containing: gpa(0)))
        XCTAssertNil(map.slotIndex(containing: gpa(.max)))
        XCTAssertNil(map.hostAddress(of: gpa(0x1000)))
        XCTAssertEqual(map.reasonUnmapped(gpa(0x1000)), "the slot map is empty")
        XCTAssertEqual(try map.pieces(from: gpa(0x1000), count: 0).count, 0)
        XCTAssertEqual(unmappedError { _ = try map.pieces(from: gpa(0x1000), count: 1) },
                       .guestUnmapped(gpa(0x1000), reason: "the slot map is empty"))
    }

    func testEmptySlotIsRefused() {
        let empty = MemorySlot(guest: gpa(0x2000), size: 0, host: 0, name: "nothing")
        XCTAssertThrowsError(try SlotMap(slots: [lowRAM, empty])) { error in
            XCTAssertEqual(error as? SlotMapError, .emptySlot("nothing", gpa(0x2000)))
            XCTAssertEqual("\(error)", "memory slot nothing at 0x2000 has size 0")
        }
    }

    func testOverlapIsRefused() {
        let a = MemorySlot(guest: gpa(0x1000), size: 0x2000, host: 0x10000, name: "a")
        let b = MemorySlot(guest: gpa(0x2fff), size: 0x1000, host: 0x20000, name: "b")  // shares a's last byte
        XCTAssertThrowsError(try SlotMap(slots: [b, a])) { error in
            XCTAssertEqual(error as? SlotMapError, .overlap(a, b))
            XCTAssertEqual("\(error)", "memory slots overlap: a at 0x1000 (+0x2000) and b at 0x2fff")
        }
    }

    func testSameStartIsRefused() {
        let a = MemorySlot(guest: gpa(0x1000), size: 0x1000, host: 0x10000, name: "a")
        let b = MemorySlot(guest: gpa(0x1000), size: 0x10, host: 0x20000, name: "b")
        XCTAssertThrowsError(try SlotMap(slots: [a, b])) { error in
            guard case .overlap(let x, let y) = error as? SlotMapError else { return XCTFail("\(error)") }
            XCTAssertEqual(Set([x.name, y.name]), ["a", "b"])
        }
        XCTAssertThrowsError(try SlotMap(slots: [a, a]))
    }

    func testContainedSlotIsRefused() {
        let outer = MemorySlot(guest: gpa(0x0), size: 0x10_0000, host: 0x10000, name: "outer")
        let inner = MemorySlot(guest: gpa(0x8_0000), size: 0x1000, host: 0x20000, name: "inner")
        XCTAssertThrowsError(try SlotMap(slots: [inner, outer])) { error in
            XCTAssertEqual(error as? SlotMapError, .overlap(outer, inner))
        }
    }

    func testAdjacentSlotsAreAccepted() throws {
        let a = MemorySlot(guest: gpa(0x1000), size: 0x1000, host: 0x10000, name: "a")
        let b = MemorySlot(guest: gpa(0x2000), size: 0x1000, host: 0x50000, name: "b")
        let map = try SlotMap(slots: [b, a])
        XCTAssertEqual(map.slots.map(\.name), ["a", "b"])
    }

    func testOverlapAtTopOfAddressSpaceIsRefused() {
        // `top` ends exactly at 2^64, so its end saturates; the last byte is still shared.
        let top = MemorySlot(guest: gpa(.max - 0xfff), size: 0x1000, host: 0x10000, name: "top")
        let last = MemorySlot(guest: gpa(.max), size: 1, host: 0x20000, name: "last")
        XCTAssertThrowsError(try SlotMap(slots: [top, last])) { error in
            XCTAssertEqual(error as? SlotMapError, .overlap(top, last))
        }
        let below = MemorySlot(guest: gpa(.max - 0x1fff), size: 0x1000, host: 0x30000, name: "below")
        XCTAssertNoThrow(try SlotMap(slots: [top, below]))
    }

    // MARK: Lookup

    func testBoundariesOfEachSlot() throws {
        let map = try pcMap()
        for (index, slot) in map.slots.enumerated() {
            let first = slot.guest.rawValue, last = first + slot.size - 1
            XCTAssertEqual(map.slotIndex(containing: gpa(first)), index, slot.name)
            XCTAssertEqual(map.slotIndex(containing: gpa(last)), index, slot.name)
            XCTAssertEqual(map.hostAddress(of: gpa(first)), slot.host)
            XCTAssertEqual(map.hostAddress(of: gpa(last)), slot.host + slot.size - 1)
        }
        // One past each slot: the VGA hole, then midRAM (adjacent to bios), the PCI hole, the end.
        XCTAssertNil(map.slotIndex(containing: gpa(0xa_0000)))
        XCTAssertEqual(map.slotIndex(containing: gpa(0x10_0000)), 2)
        XCTAssertNil(map.slotIndex(containing: gpa(0x8000_0000)))
        XCTAssertNil(map.slotIndex(containing: gpa(0x1_8000_0000)))
        XCTAssertNil(map.hostAddress(of: gpa(0x1_8000_0000)))
        XCTAssertNil(map.slotIndex(containing: gpa(.max)))
    }

    func testHostAddressInTheMiddle() throws {
        let map = try pcMap()
        XCTAssertEqual(map.hostAddress(of: gpa(0x1234)), 0x7f00_0000_1234)
        XCTAssertEqual(map.hostAddress(of: gpa(0xf_fff0)), 0x7f10_0003_fff0)
        XCTAssertEqual(map.hostAddress(of: gpa(0x4000_0000)), 0x7f00_4000_0000)
        XCTAssertEqual(map.hostAddress(of: gpa(0x1_2345_6789)), 0x7f00_a345_6789)
    }

    func testBeforeFirstSlot() throws {
        let map = try SlotMap(slots: [MemorySlot(guest: gpa(0x1000), size: 0x1000, host: 0x5000, name: "r")])
        XCTAssertNil(map.slotIndex(containing: gpa(0)))
        XCTAssertNil(map.slotIndex(containing: gpa(0xfff)))
        XCTAssertEqual(map.slotIndex(containing: gpa(0x1000)), 0)
        XCTAssertEqual(map.slotIndex(containing: gpa(0x1fff)), 0)
        XCTAssertNil(map.slotIndex(containing: gpa(0x2000)))
    }

    func testManySlotsBinarySearch() throws {
        // 1000 one-page slots with one-page gaps between them.
        let slots = (0..<1000).map { i in
            MemorySlot(guest: gpa(UInt64(i) * 0x2000), size: 0x1000, host: 0x100_0000 + UInt64(i) * 0x1000, name: "s\(i)")
        }
        let map = try SlotMap(slots: slots.reversed())
        for i in [0, 1, 2, 499, 500, 998, 999] {
            let base = UInt64(i) * 0x2000
            XCTAssertEqual(map.slotIndex(containing: gpa(base)), i)
            XCTAssertEqual(map.slotIndex(containing: gpa(base + 0xfff)), i)
            XCTAssertNil(map.slotIndex(containing: gpa(base + 0x1000)))
            XCTAssertNil(map.slotIndex(containing: gpa(base + 0x1fff)))
            XCTAssertEqual(map.hostAddress(of: gpa(base + 0x10)), 0x100_0000 + UInt64(i) * 0x1000 + 0x10)
        }
    }

    // MARK: Reasons

    func testReasonsForUnmappedAddresses() throws {
        let map = try pcMap()
        XCTAssertEqual(map.reasonUnmapped(gpa(0xa_0000)), "in vga-lowmem (0xa0000-0xbffff), not RAM")
        XCTAssertEqual(map.reasonUnmapped(gpa(0xb_ffff)), "in vga-lowmem (0xa0000-0xbffff), not RAM")
        XCTAssertEqual(map.reasonUnmapped(gpa(0xfec0_0010)), "in ioapic (0xfec00000-0xfec00fff), not RAM")
        XCTAssertEqual(map.reasonUnmapped(gpa(0xfec0_1000)), "in no memory slot (a hole between RAM ranges)")
        XCTAssertEqual(map.reasonUnmapped(gpa(0x8000_0000)), "in no memory slot (a hole between RAM ranges)")
        XCTAssertEqual(map.reasonUnmapped(gpa(0x1_8000_0000)), "past the end of guest memory (0x180000000)")
        XCTAssertEqual(map.reasonUnmapped(gpa(.max)), "past the end of guest memory (0x180000000)")
    }

    func testHoleContains() {
        XCTAssertFalse(vga.contains(gpa(0x9_ffff)))
        XCTAssertTrue(vga.contains(gpa(0xa_0000)))
        XCTAssertTrue(vga.contains(gpa(0xb_ffff)))
        XCTAssertFalse(vga.contains(gpa(0xc_0000)))
        let top = MemoryHole(guest: gpa(.max - 1), size: 2, name: "top")
        XCTAssertTrue(top.contains(gpa(.max)))
        XCTAssertFalse(top.contains(gpa(0)))
    }

    // MARK: Pieces

    func testPiecesWithinOneSlot() throws {
        let map = try pcMap()
        XCTAssertEqual(try pieces(map, 0x1000, 16), [[0x7f00_0000_1000, 16]])
        XCTAssertEqual(try pieces(map, 0x0, 0xa_0000), [[0x7f00_0000_0000, 0xa_0000]])
        XCTAssertEqual(try pieces(map, 0x9_ffff, 1), [[0x7f00_0000_0000 + 0x9_ffff, 1]])
        XCTAssertEqual(try pieces(map, 0x1000, 0), [])
    }

    func testPiecesSpanningAdjacentSlots() throws {
        let map = try pcMap()
        // The last 16 bytes of the BIOS and the first 16 of midRAM: two backing ranges.
        XCTAssertEqual(try pieces(map, 0xf_fff0, 32), [[0x7f10_0003_fff0, 16], [0x7f00_0010_0000, 16]])
        // Exactly the last byte of one and the first of the other.
        XCTAssertEqual(try pieces(map, 0xf_ffff, 2), [[0x7f10_0003_ffff, 1], [0x7f00_0010_0000, 1]])
        // All of the BIOS plus one byte.
        XCTAssertEqual(try pieces(map, 0xc_0000, 0x4_0001), [[0x7f10_0000_0000, 0x4_0000], [0x7f00_0010_0000, 1]])
    }

    func testPiecesIntoAHoleThrowAtTheFirstUnmappedByte() throws {
        let map = try pcMap()
        XCTAssertEqual(unmappedError { _ = try map.pieces(from: gpa(0x9_fff0), count: 32) },
                       .guestUnmapped(gpa(0xa_0000), reason: "in vga-lowmem (0xa0000-0xbffff), not RAM"))
        XCTAssertEqual(unmappedError { _ = try map.pieces(from: gpa(0x7fff_ffff), count: 2) },
                       .guestUnmapped(gpa(0x8000_0000), reason: "in no memory slot (a hole between RAM ranges)"))
        XCTAssertEqual(unmappedError { _ = try map.pieces(from: gpa(0x1_7fff_fff8), count: 9) },
                       .guestUnmapped(gpa(0x1_8000_0000), reason: "past the end of guest memory (0x180000000)"))
        XCTAssertEqual(unmappedError { _ = try map.pieces(from: gpa(0xa_0000), count: 1) },
                       .guestUnmapped(gpa(0xa_0000), reason: "in vga-lowmem (0xa0000-0xbffff), not RAM"))
        // Up to the hole is fine.
        XCTAssertEqual(try pieces(map, 0x7fff_fff0, 16), [[0x7f00_7fff_fff0, 16]])
    }

    // MARK: Near 2^64

    func testSlotAtTheTopOfTheAddressSpace() throws {
        let top = MemorySlot(guest: gpa(.max - 0xfff), size: 0x1000, host: 0x10_0000, name: "top")
        XCTAssertEqual(top.guestEnd, .max, "saturates")
        XCTAssertTrue(top.contains(gpa(.max)))
        XCTAssertFalse(top.contains(gpa(.max - 0x1000)))
        let map = try SlotMap(slots: [lowRAM, top])
        XCTAssertEqual(map.slotIndex(containing: gpa(.max)), 1)
        XCTAssertEqual(map.slotIndex(containing: gpa(.max - 0xfff)), 1)
        XCTAssertNil(map.slotIndex(containing: gpa(.max - 0x1000)))
        XCTAssertEqual(map.hostAddress(of: gpa(.max)), 0x10_0fff)
        XCTAssertEqual(try pieces(map, .max - 7, 8), [[0x10_0ff8, 8]])
        XCTAssertEqual(try pieces(map, .max, 1), [[0x10_0fff, 1]])
        XCTAssertEqual(unmappedError { _ = try map.pieces(from: gpa(.max), count: 2) },
                       .guestUnmapped(gpa(.max), reason: "past the end of the address space"))
        XCTAssertEqual(unmappedError { _ = try map.pieces(from: gpa(.max - 0xfff), count: Int.max) },
                       .guestUnmapped(gpa(.max), reason: "past the end of the address space"))
    }

    func testHugeCountsDoNotTrap() throws {
        let map = try pcMap()
        XCTAssertEqual(unmappedError { _ = try map.pieces(from: gpa(0), count: Int.max) },
                       .guestUnmapped(gpa(0xa_0000), reason: "in vga-lowmem (0xa0000-0xbffff), not RAM"))
        XCTAssertEqual(unmappedError { _ = try map.pieces(from: gpa(.max - 3), count: 16) },
                       .guestUnmapped(gpa(.max - 3), reason: "past the end of guest memory (0x180000000)"))
    }

    func testHostRangeNearTopDoesNotTrap() throws {
        // A nonsensical backing address at the top of the host space: translation wraps rather than traps
        // (the reader then reports the backing address as unmapped).
        let slot = MemorySlot(guest: gpa(0x1000), size: 0x2000, host: .max - 0xff, name: "odd")
        let map = try SlotMap(slots: [slot])
        XCTAssertEqual(map.hostAddress(of: gpa(0x1000)), .max - 0xff)
        XCTAssertEqual(map.hostAddress(of: gpa(0x1100)), 0)
        XCTAssertEqual(try pieces(map, 0x1100, 8), [[0, 8]])
    }

    func testMemorySlotBasics() {
        XCTAssertEqual(lowRAM.guestEnd, 0xa_0000)
        XCTAssertTrue(lowRAM.contains(gpa(0)))
        XCTAssertTrue(lowRAM.contains(gpa(0x9_ffff)))
        XCTAssertFalse(lowRAM.contains(gpa(0xa_0000)))
        XCTAssertFalse(highRAM.contains(gpa(0xffff_ffff)))
        XCTAssertEqual(lowRAM.kind, .ram)
        XCTAssertEqual(bios.kind, .rom)
        XCTAssertEqual(MemorySlot.Kind(rawValue: "romd"), .romd)
    }

    func testGuestPhysicalAddressAdvanced() {
        XCTAssertEqual(gpa(0x1000).advanced(by: 0x10), gpa(0x1010))
        XCTAssertEqual(gpa(.max - 1).advanced(by: 1), gpa(.max))
        XCTAssertNil(gpa(.max).advanced(by: 1))
        XCTAssertNil(gpa(1).advanced(by: .max))
        XCTAssertEqual(gpa(0xfee0_0000).description, "0xfee00000")
        XCTAssertTrue(gpa(1) < gpa(2))
    }
}

/// The reason keys a bulk translation caches say what the linear search over holes says, overlapping
/// holes included.
final class SlotMapReasonTests: XCTestCase {
    func testReasonKeysAgreeWithTheLastHoldingHole() throws {
        let map = try SlotMap(slots: [
            MemorySlot(guest: GuestPhysicalAddress(0), size: 0xa0000, host: 0x7f00_0000_0000, name: "pc.ram"),
            MemorySlot(guest: GuestPhysicalAddress(0x100000), size: 0xff0_0000, host: 0x7f00_0010_0000, name: "pc.ram"),
        ], holes: [
            MemoryHole(guest: GuestPhysicalAddress(0xa0000), size: 0x60000, name: "legacy"),
            MemoryHole(guest: GuestPhysicalAddress(0xc0000), size: 0x10000, name: "vga rom"),
            MemoryHole(guest: GuestPhysicalAddress(0xfec0_0000), size: 0x1000, name: "ioapic"),
            MemoryHole(guest: GuestPhysicalAddress(0xfed0_0000), size: 0x400, name: "hpet"),
        ])
        func linear(_ gpa: UInt64) -> String {
            if let hole = map.holes.last(where: { $0.contains(GuestPhysicalAddress(gpa)) }) {
                return "in \(hole.name) (\(hole.guest)-\(Hex.string(hole.guest.rawValue &+ hole.size &- 1))), not RAM"
            }
            return gpa >= 0x1000_0000 ? "past the end of guest memory (0x10000000)" : "in no memory slot (a hole between RAM ranges)"
        }
        var checked = 0
        for gpa: UInt64 in [0xa0000, 0xbffff, 0xc0000, 0xc8000, 0xcffff, 0xd0000, 0xfffff, 0x1000_0000, 0xfec0_0000, 0xfec0_0fff,
                            0xfec0_1000, 0xfed0_0000, 0xfed0_0400, 0xffff_ffff_ffff_ffff] + (0..<200).map({ _ in UInt64.random(in: 0xa0000...0x1_0000_0000) })
            where map.slotIndex(containing: GuestPhysicalAddress(gpa)) == nil {
            XCTAssertEqual(map.reasonUnmapped(GuestPhysicalAddress(gpa)), linear(gpa), Hex.string(gpa))
            checked += 1
        }
        XCTAssertGreaterThan(checked, 100)
        XCTAssertEqual(map.unmapped(GuestPhysicalAddress(0xc8000)), .hole(1), "the later of two overlapping holes names it")
        XCTAssertEqual(map.unmapped(GuestPhysicalAddress(0xd0000)), .hole(0))
    }
}
