import VQCore
import XCTest

/// One device's IOVA space: ranges across pages, the cache, changes, and guest memory as the device sees it.
final class IOVASpaceTests: XCTestCase {
    let blk = PCIAddress(bus: 0, device: 3, function: 0)!

    private func space(_ t: VTdTestTables) throws -> IOVASpace {
        try IOVASpace(device: blk, registers: t.registers(), memory: t.memory)
    }

    func testARangeAcrossPagesComesBackInPieces() throws {
        var t = VTdTestTables()
        let top = t.attach(blk, levels: 4)
        t.map(0xFFFF_D000, to: 0x8000, top: top, levels: 4)
        t.map(0xFFFF_E000, to: 0x9000, top: top, levels: 4)   // follows on: merged with the one before
        t.map(0xFFFF_F000, to: 0x3000, top: top, levels: 4, access: 1)
        var s = try space(t)
        XCTAssertFalse(s.isIdentity)
        XCTAssertEqual(try s.translate(0xFFFF_D800, count: 0x2000), [
            IOVAPiece(iova: 0xFFFF_D800, gpa: GuestPhysicalAddress(0x8800), count: 0x1800, access: [.read, .write]),
            IOVAPiece(iova: 0xFFFF_F000, gpa: GuestPhysicalAddress(0x3000), count: 0x800, access: .read),
        ])
        XCTAssertEqual(try s.translate(0xFFFF_D000, count: 0), [])
        XCTAssertEqual(s.cachedMappings.count, 3)
        // The device writes used rings: a read-only page will not do.
        XCTAssertThrowsError(try s.translate(0xFFFF_EFF0, count: 0x20, needs: .write)) { error in
            XCTAssertEqual(error as? IOMMUTranslationError, .permission(iova: 0xFFFF_F000, has: .read, needs: .write))
        }
        // Past the last mapped page.
        XCTAssertThrowsError(try s.translate(0xFFFF_F000, count: 0x1001)) { error in
            XCTAssertEqual(error as? IOMMUTranslationError, .unmapped(iova: 0x1_0000_0000, level: 3))
        }
    }

    func testTheCacheHoldsUntilRefreshAndChangesAreFound() throws {
        var t = VTdTestTables()
        let top = t.attach(blk, levels: 4)
        t.map(0x10_0000_0000, to: 0x40_0000, top: top, levels: 4, leafLevel: 2)
        t.map(0x2000, to: 0x5000, top: top, levels: 4)
        let live = CountingReader(t.ram)
        var s = try IOVASpace(device: blk, registers: t.registers(), memory: GuestMemory(map: t.memory.map, reader: live))
        XCTAssertEqual(try s.mapping(containing: 0x10_0010_0000).size, 0x20_0000)
        XCTAssertEqual(try s.translate(0x2010, count: 8).first?.gpa, GuestPhysicalAddress(0x5010))
        let reads = live.calls
        XCTAssertEqual(try s.translate(0x2018, count: 8).first?.gpa, GuestPhysicalAddress(0x5018))
        XCTAssertEqual(try s.mapping(containing: 0x10_001F_FFFF).gpa, GuestPhysicalAddress(0x40_0000))
        XCTAssertEqual(live.calls, reads, "cached pages are not walked again")
        XCTAssertEqual(s.changes(), [])

        // The guest remaps 0x2000 and unmaps the 2 MiB page.
        t.store(0x6000 | 3, at: t.entryAddress(0x2000, top: top, levels: 4, level: 1))
        t.store(0, at: t.entryAddress(0x10_0000_0000, top: top, levels: 4, level: 2))
        live.inner = t.ram
        XCTAssertEqual(try s.translate(0x2010, count: 8).first?.gpa, GuestPhysicalAddress(0x5010), "until a refresh, the cache answers")
        XCTAssertEqual(s.changes(), [
            IOVAMappingChange(before: IOVAMapping(iova: 0x2000, size: 0x1000, gpa: GuestPhysicalAddress(0x5000), access: [.read, .write], level: 1),
                              now: .success(IOVAMapping(iova: 0x2000, size: 0x1000, gpa: GuestPhysicalAddress(0x6000), access: [.read, .write], level: 1))),
            IOVAMappingChange(before: IOVAMapping(iova: 0x10_0000_0000, size: 0x20_0000, gpa: GuestPhysicalAddress(0x40_0000), access: [.read, .write], level: 2),
                              now: .failure(.unmapped(iova: 0x10_0000_0000, level: 2))),
        ])
        XCTAssertEqual(s.cachedMappings.count, 2, "looking for changes leaves the cache alone")
        s.refresh()
        XCTAssertEqual(s.cachedMappings, [])
        XCTAssertEqual(try s.translate(0x2010, count: 8).first?.gpa, GuestPhysicalAddress(0x6010))
    }

    func testIdentityForAnUntranslatedDevice() throws {
        var t = VTdTestTables()
        _ = t.attach(blk, levels: 4, type: 2)
        var s = try space(t)
        XCTAssertTrue(s.isIdentity)
        XCTAssertEqual(try s.translate(0x1000, count: 0x3000), [IOVAPiece(iova: 0x1000, gpa: GuestPhysicalAddress(0x1000), count: 0x3000, access: [.read, .write])])
        XCTAssertThrowsError(try s.translate(VTdTestTables.ramSize - 8, count: 16)) { error in
            XCTAssertEqual(error as? IOMMUTranslationError, .mappedOutsideRAM(iova: VTdTestTables.ramSize, gpa: GuestPhysicalAddress(VTdTestTables.ramSize)))
        }
        XCTAssertEqual(s.allMappings(), IOVAMappingList())
        XCTAssertEqual(s.deviceMemory(s.allMappings()).map, t.memory.map)
    }

    func testGuestMemoryAsTheDeviceSeesIt() throws {
        var t = VTdTestTables()
        let top = t.attach(blk, levels: 4)
        t.map(0xFFFF_E000, to: 0x8000, top: top, levels: 4)
        t.map(0xFFFF_F000, to: 0x3000, top: top, levels: 4)
        t.map(0x1_0000_0000, to: 0xFEBF_8000, top: top, levels: 4)  // MMIO, not RAM
        t.ram.store(0x1122_3344_5566_7788 as UInt64, at: VTdTestTables.host + 0x8FF8)
        t.ram.store(0x99AA_BBCC_DDEE_FF00 as UInt64, at: VTdTestTables.host + 0x3000)
        let s = try space(t)
        let all = s.allMappings()
        let device = s.deviceMemory(all)
        XCTAssertEqual(device.map.slots.map(\.guest.rawValue), [0xFFFF_E000, 0xFFFF_F000])
        XCTAssertEqual(device.map.slots.first?.name, "pc.ram via IOMMU")
        // A read across the two pages lands in two places of guest RAM.
        XCTAssertEqual(try device.bytes(at: GuestPhysicalAddress(0xFFFF_EFF8), count: 16),
                       [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99])
        XCTAssertThrowsError(try device.bytes(at: GuestPhysicalAddress(0x1000), count: 4)) { error in
            XCTAssertTrue("\(error)".contains("the IOMMU does not map for 00:03.0"), "\(error)")
        }
        XCTAssertThrowsError(try device.bytes(at: GuestPhysicalAddress(0x1_0000_0010), count: 4)) { error in
            XCTAssertTrue("\(error)".contains("guest-physical 0xfebf8000, which is not RAM"), "\(error)")
        }
    }

    func testASplitRingReadThroughTheDevicesView() throws {
        // A 4-entry ring the driver placed at IOVAs whose pages are scattered in guest RAM.
        var t = VTdTestTables()
        let top = t.attach(blk, levels: 4)
        t.map(0xFFFF_F000, to: 0x7000, top: top, levels: 4)   // desc, avail, used
        t.map(0xFFFF_E000, to: 0x2000, top: top, levels: 4)   // the buffer
        let host = VTdTestTables.host
        t.ram.store(0xFFFF_E100 as UInt64, at: host + 0x7000)       // desc 0: addr
        t.ram.store(512 as UInt32, at: host + 0x7008)               // len
        t.ram.store(2 as UInt16, at: host + 0x700C)                 // WRITE
        t.ram.store(1 as UInt16, at: host + 0x7040 + 2)             // avail.idx 1, ring[0] = 0
        let s = try space(t)
        let device = s.deviceMemory(s.allMappings())
        let location = VirtqueueLocation(layout: .split, size: 4, descriptors: GuestPhysicalAddress(0xFFFF_F000),
                                         driverArea: GuestPhysicalAddress(0xFFFF_F040), deviceArea: GuestPhysicalAddress(0xFFFF_F080))
        let snapshot = try SplitRing.snapshot(memory: device, location: location)
        XCTAssertEqual(snapshot.inFlight.count, 1)
        let chain = try XCTUnwrap(snapshot.inFlight.first?.chain)
        XCTAssertEqual(chain.elements.map(\.address), [GuestPhysicalAddress(0xFFFF_E100)])
        XCTAssertTrue(chain.isClean, "\(chain.problems)")
        // Read as guest-physical, the same addresses are garbage: past the end of RAM.
        XCTAssertThrowsError(try SplitRing.snapshot(memory: t.memory, location: location))
    }
}
