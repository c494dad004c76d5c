import VQCore
import XCTest

/// The Intel IOMMU walk on hand-built tables: root → context (→ PASID) → second-level pages.
final class VTdWalkTests: XCTestCase {
    let nic = PCIAddress(bus: 0, device: 4, function: 0)!

    private func pageTables(_ t: VTdTestTables, cap: UInt64 = VTdTestTables.cap48, device: PCIAddress? = nil) throws -> VTdPageTables {
        let translation = try VTdDeviceTranslation(device: device ?? nic, registers: t.registers(cap: cap), memory: t.memory)
        guard case let .pageTables(tables) = translation else { XCTFail("untranslated: \(translation)"); throw XCTSkip() }
        return tables
    }

    private func walkError(_ body: () throws -> Void) -> IOMMUTranslationError? {
        do { try body() } catch let error as IOMMUTranslationError { return error } catch { XCTFail("\(error)") }
        return nil
    }

    func testFourLevelWalkOf4KiBPages() throws {
        var t = VTdTestTables()
        let top = t.attach(nic, levels: 4, domain: 3)
        t.map(0xFFFF_F000, to: 0x2000, top: top, levels: 4)
        t.map(0x7F_1234_5000, to: 0x5000, top: top, levels: 4, access: 1)
        let tables = try pageTables(t)
        XCTAssertEqual(tables.levels, 4)
        XCTAssertEqual(tables.domain, 3)
        XCTAssertEqual(tables.addressBits, 48)
        XCTAssertEqual(try tables.translate(0xFFFF_F123, memory: t.memory),
                       IOVAMapping(iova: 0xFFFF_F000, size: 0x1000, gpa: GuestPhysicalAddress(0x2000), access: [.read, .write], level: 1))
        let readOnly = try tables.translate(0x7F_1234_5FFF, memory: t.memory)
        XCTAssertEqual(readOnly.gpa, GuestPhysicalAddress(0x5000))
        XCTAssertEqual(readOnly.access, .read)
        XCTAssertEqual(readOnly.guestPhysical(of: 0x7F_1234_5FFF), GuestPhysicalAddress(0x5FFF))
    }

    func testThreeLevelWalkAndTheAddressWidth() throws {
        var t = VTdTestTables()
        let top = t.attach(nic, levels: 3)
        t.map(0x40_0000_0000 - 0x1000, to: 0x3000, top: top, levels: 3)
        let tables = try pageTables(t, cap: VTdTestTables.cap39)
        XCTAssertEqual(tables.addressBits, 39)
        XCTAssertEqual(try tables.translate(0x3F_FFFF_F010, memory: t.memory).gpa, GuestPhysicalAddress(0x3000))
        XCTAssertEqual(walkError { _ = try tables.translate(0x80_0000_0000, memory: t.memory) },
                       .beyondAddressWidth(iova: 0x80_0000_0000, bits: 39))
        // 4-level tables on an IOMMU that lists only 3 levels (CAP.SAGAW): QEMU faults, so does vqscope.
        var u = VTdTestTables()
        _ = u.attach(nic, levels: 4)
        let error = walkError { _ = try VTdDeviceTranslation(device: nic, registers: u.registers(cap: VTdTestTables.cap39), memory: u.memory) }
        guard case let .unsupportedMode(text)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(text.contains("4-level") && text.contains("walks 3"), text)
    }

    func testLargePages() throws {
        var t = VTdTestTables()
        let top = t.attach(nic, levels: 4)
        t.map(0x8000_0000, to: 0x40_0000, top: top, levels: 4, leafLevel: 2)   // 2 MiB at 4 MiB
        t.map(0x1_0000_0000, to: 0, top: top, levels: 4, leafLevel: 3)        // 1 GiB at 0
        let tables = try pageTables(t)
        XCTAssertEqual(try tables.translate(0x801F_FFFF, memory: t.memory),
                       IOVAMapping(iova: 0x8000_0000, size: 0x20_0000, gpa: GuestPhysicalAddress(0x40_0000), access: [.read, .write], level: 2))
        XCTAssertEqual(try tables.translate(0x1_0012_3456, memory: t.memory),
                       IOVAMapping(iova: 0x1_0000_0000, size: 0x4000_0000, gpa: GuestPhysicalAddress(0), access: [.read, .write], level: 3))
        // Address bits below a large page's size are reserved.
        let slot = t.entryAddress(0x8000_0000, top: top, levels: 4, level: 2)
        t.store(0x40_1000 | 1 << 7 | 3, at: slot)
        let tables2 = try pageTables(t)
        XCTAssertEqual(walkError { _ = try tables2.translate(0x8000_0000, memory: t.memory) },
                       .reservedBits(iova: 0x8000_0000, level: 2, entry: 0x40_1083))
    }

    func testNotPresentRootContextAndPages() throws {
        var t = VTdTestTables()
        let top = t.attach(nic, levels: 4)
        t.map(0x1000, to: 0x2000, top: top, levels: 4)
        let other = PCIAddress(bus: 0, device: 5, function: 0)!
        XCTAssertEqual(walkError { _ = try VTdDeviceTranslation(device: other, registers: t.registers(), memory: t.memory) },
                       .contextNotPresent(other))
        let elsewhere = PCIAddress(bus: 1, device: 0, function: 0)!
        XCTAssertEqual(walkError { _ = try VTdDeviceTranslation(device: elsewhere, registers: t.registers(), memory: t.memory) },
                       .rootNotPresent(bus: 1))
        let tables = try pageTables(t)
        // Nothing at level 4 for this IOVA; at level 1 next to the mapped page.
        XCTAssertEqual(walkError { _ = try tables.translate(0x8000_0000_0000 >> 1, memory: t.memory) },
                       .unmapped(iova: 0x4000_0000_0000, level: 4))
        XCTAssertEqual(walkError { _ = try tables.translate(0x2000, memory: t.memory) }, .unmapped(iova: 0x2000, level: 1))
        // An entry whose read and write bits are both clear is not present, whatever else it holds.
        t.store(0x2000, at: t.entryAddress(0x1000, top: top, levels: 4, level: 1))
        XCTAssertEqual(walkError { _ = try tables.translate(0x1000, memory: t.memory) }, .unmapped(iova: 0x1000, level: 1))
        // Permissions stack: a read-only directory leaves a read-write page read-only.
        t.store(0x2000 | 3, at: t.entryAddress(0x1000, top: top, levels: 4, level: 1))
        let directory = t.entryAddress(0x1000, top: top, levels: 4, level: 2)
        t.store(t.load(directory) & ~2, at: directory)
        XCTAssertEqual(try tables.translate(0x1000, memory: t.memory).access, .read)
        for error in [IOMMUTranslationError.rootNotPresent(bus: 1), .contextNotPresent(other), .unmapped(iova: 0x2000, level: 1)] {
            XCTAssertFalse(error.description.contains("\n"))
        }
    }

    func testPassThroughAndTranslationOff() throws {
        var t = VTdTestTables()
        _ = t.attach(nic, levels: 4, type: 2)
        guard case let .untranslated(reason) = try VTdDeviceTranslation(device: nic, registers: t.registers(), memory: t.memory) else {
            return XCTFail("pass-through is untranslated")
        }
        XCTAssertTrue(reason.contains("pass-through"), reason)
        // GSTS.TES = 0: no table is read at all (the root table pointer may be garbage).
        let off = VTdRegisters(capability: VTdTestTables.cap48, globalStatus: 0, rootTableAddress: 0xDEAD_0000_0000)
        XCTAssertFalse(off.translationEnabled)
        guard case let .untranslated(why) = try VTdDeviceTranslation(device: nic, registers: off, memory: t.memory) else {
            return XCTFail("translation off is untranslated")
        }
        XCTAssertTrue(why.contains("TES=0"), why)
        // Reserved translation type 11.
        var u = VTdTestTables()
        _ = u.attach(nic, levels: 4, type: 3)
        guard case .unsupportedMode? = walkError({ _ = try VTdDeviceTranslation(device: nic, registers: u.registers(), memory: u.memory) }) else {
            return XCTFail("type 11 is reserved")
        }
    }

    func testTablesOutsideRAM() throws {
        var t = VTdTestTables()
        let top = t.attach(nic, levels: 4)
        t.map(0x1000, to: 0x2000, top: top, levels: 4)
        // A level-3 pointer into the hole above RAM.
        t.store(0x4000_0000 | 3, at: t.entryAddress(0x1000, top: top, levels: 4, level: 4))
        let tables = try pageTables(t)
        XCTAssertEqual(walkError { _ = try tables.translate(0x1000, memory: t.memory) },
                       .tableOutsideRAM(.pageTable(level: 3), GuestPhysicalAddress(0x4000_0000)))
        // The root table itself outside RAM.
        let registers = VTdRegisters(capability: VTdTestTables.cap48, globalStatus: VTdTestTables.enabled, rootTableAddress: 0x7F_0000_0000)
        XCTAssertEqual(walkError { _ = try VTdDeviceTranslation(device: nic, registers: registers, memory: t.memory) },
                       .tableOutsideRAM(.rootTable, GuestPhysicalAddress(0x7F_0000_0000)))
        // A page mapped outside RAM translates (the IOMMU allows it), but a range there is not readable.
        t.map(0x3000, to: 0xFEBF_8000, top: t.attach(PCIAddress(bus: 0, devfn: 0x28), levels: 4), levels: 4)
        var space = try IOVASpace(device: PCIAddress(bus: 0, devfn: 0x28), registers: t.registers(), memory: t.memory)
        XCTAssertEqual(try space.mapping(containing: 0x3000).gpa, GuestPhysicalAddress(0xFEBF_8000))
        XCTAssertEqual(walkError { _ = try space.translate(0x3010, count: 16) },
                       .mappedOutsideRAM(iova: 0x3010, gpa: GuestPhysicalAddress(0xFEBF_8010)))
        XCTAssertTrue(IOMMUTranslationError.tableOutsideRAM(.pageTable(level: 3), GuestPhysicalAddress(0x4000_0000)).description
            .contains("level-3 page table at 0x40000000 is not in guest RAM"))
    }

    func testTablesThatLoopEndWithinTheLevels() throws {
        var t = VTdTestTables()
        let top = t.attach(nic, levels: 4)
        // Every PML4 entry points back at the PML4 itself.
        for i in 0..<512 { t.store(top | 3, at: top + UInt64(i) * 8) }
        let tables = try pageTables(t)
        XCTAssertEqual(walkError { _ = try tables.translate(0x1234_5678, memory: t.memory) },
                       .tableLoop(iova: 0x1234_5678, level: 3, table: GuestPhysicalAddress(top)))
        // Walking everything reads the table once and names the loop instead of following it 512^4 times.
        let all = tables.allMappings(memory: t.memory)
        XCTAssertEqual(all.tablesRead, 1)
        XCTAssertTrue(all.mappings.isEmpty)
        XCTAssertEqual(all.problems.count, 512)
        XCTAssertEqual(all.problems.first, .tableLoop(iova: 0, level: 3, table: GuestPhysicalAddress(top)))
        // A level-2 entry pointing back at its own table: named where the walk would read it again.
        var u = VTdTestTables()
        let top2 = u.attach(nic, levels: 4)
        u.map(0x1000, to: 0x2000, top: top2, levels: 4)
        let pd = u.load(u.entryAddress(0x1000, top: top2, levels: 4, level: 3)) & ~0xFFF
        u.store(pd | 3, at: u.entryAddress(0x1000, top: top2, levels: 4, level: 2))
        let tables2 = try pageTables(u)
        XCTAssertEqual(walkError { _ = try tables2.translate(0x1000, memory: u.memory) },
                       .tableLoop(iova: 0x1000, level: 1, table: GuestPhysicalAddress(pd)))
    }

    func testScalableModeSecondLevelAndPassThrough() throws {
        var t = VTdTestTables()
        let top = t.attachScalable(nic, levels: 4, domain: 11)
        t.map(0xFFFF_0000, to: 0x6000, top: top, levels: 4)
        let tables = try pageTables(t)
        XCTAssertEqual(tables.domain, 11)
        XCTAssertEqual(try tables.translate(0xFFFF_0010, memory: t.memory).gpa, GuestPhysicalAddress(0x6000))
        // devfn >= 128 uses the root entry's upper half.
        let high = PCIAddress(bus: 0, devfn: 0x90)
        var h = VTdTestTables()
        let topHigh = h.attachScalable(high, levels: 3)
        h.map(0x5000, to: 0x7000, top: topHigh, levels: 3)
        let highTables = try pageTables(h, cap: VTdTestTables.cap48, device: high)
        XCTAssertEqual(try highTables.translate(0x5000, memory: h.memory).gpa, GuestPhysicalAddress(0x7000))
        XCTAssertEqual(walkError { _ = try VTdDeviceTranslation(device: PCIAddress(bus: 0, devfn: 0x10), registers: h.registers(), memory: h.memory) },
                       .rootNotPresent(bus: 0))

        var p = VTdTestTables()
        _ = p.attachScalable(nic, levels: 4, pgtt: 4)
        guard case .untranslated = try VTdDeviceTranslation(device: nic, registers: p.registers(), memory: p.memory) else {
            return XCTFail("PGTT=100 is pass-through")
        }
        var f = VTdTestTables()
        _ = f.attachScalable(nic, levels: 4, pgtt: 1)
        guard case let .unsupportedMode(text)? = walkError({ _ = try VTdDeviceTranslation(device: nic, registers: f.registers(), memory: f.memory) }) else {
            return XCTFail("first-level is not walked")
        }
        XCTAssertTrue(text.contains("first-level"), text)
    }

    func testAllMappingsInIOVAOrder() throws {
        var t = VTdTestTables()
        let top = t.attach(nic, levels: 4)
        t.map(0xFFFF_F000, to: 0x2000, top: top, levels: 4)
        t.map(0xFFFF_E000, to: 0x1000, top: top, levels: 4)
        t.map(0x8000_0000, to: 0x40_0000, top: top, levels: 4, leafLevel: 2)
        t.map(0x1_0000_0000, to: 0x9000, top: top, levels: 4, access: 2)
        let all = try pageTables(t).allMappings(memory: t.memory)
        XCTAssertEqual(all.mappings.map(\.iova), [0x8000_0000, 0xFFFF_E000, 0xFFFF_F000, 0x1_0000_0000])
        XCTAssertEqual(all.problems, [])
        XCTAssertEqual(all.tablesRead, 7)  // the PML4, one PDPT, three PDs, two page tables
        // 0xFFFFE000 and 0xFFFFF000 follow on in both spaces: one run.
        XCTAssertEqual(all.runs.map(\.count), [0x20_0000, 0x2000, 0x1000])
        XCTAssertEqual(all.runs.last?.access, .write)
        let limited = try pageTables(t).allMappings(memory: t.memory, maxTables: 2)
        XCTAssertEqual(limited.problems.last, .tooManyTables(limit: 2))
    }

    func testModesVqscopeDoesNotWalk() throws {
        let t = VTdTestTables()
        let abort = VTdRegisters(capability: VTdTestTables.cap48, globalStatus: VTdTestTables.enabled, rootTableAddress: 0x1000 | 3 << 10)
        XCTAssertThrowsError(try VTdDeviceTranslation(device: PCIAddress(bus: 0, devfn: 8), registers: abort, memory: t.memory)) { error in
            guard case let .unsupportedMode(text)? = error as? IOMMUTranslationError else { return XCTFail("\(error)") }
            XCTAssertTrue(text.contains("abort-DMA"), text)
        }
    }

    /// Walking one address and walking everything agree, on 150 random mappings of every page size.
    func testOneWalkAndTheWholeWalkAgree() throws {
        var t = VTdTestTables()
        let top = t.attach(nic, levels: 4)
        var random = TestRandom(seed: 0x1_0AA)
        var regions: Set<UInt64> = []
        var expected: [IOVAMapping] = []
        while expected.count < 150 {
            let region = (random.next() % (1 << 18)) << 30   // a 1 GiB region below 2^48, one mapping each
            guard regions.insert(region).inserted else { continue }
            let level = 1 + random.below(3)
            let size: UInt64 = 1 << UInt64(12 + 9 * (level - 1))
            let iova = region + (random.next() % (0x4000_0000 / size)) * size
            let gpa = (random.next() % max(1, VTdTestTables.ramSize / size)) * size   // a 1 GiB page at 0
            let access = IOMMUAccess(rawValue: UInt8(1 + random.below(3)))
            t.map(iova, to: gpa, top: top, levels: 4, leafLevel: level, access: UInt64(access.rawValue))
            expected.append(IOVAMapping(iova: iova, size: size, gpa: GuestPhysicalAddress(gpa), access: access, level: level))
        }
        expected.sort { $0.iova < $1.iova }
        let tables = try pageTables(t)
        let all = tables.allMappings(memory: t.memory)
        XCTAssertEqual(all.mappings, expected)
        XCTAssertEqual(all.problems, [])
        for m in expected {
            let inside = m.iova + random.next() % m.size
            XCTAssertEqual(try tables.translate(inside, memory: t.memory), m)
            if m.level < 3 {
                // The next page of the same 1 GiB region is not mapped, at the leaf's level or the one above.
                let next = m.iova + m.size
                guard next & 0x3FFF_FFFF != 0, case let .unmapped(_, level)? = walkError({ _ = try tables.translate(next, memory: t.memory) }) else { continue }
                XCTAssertTrue(level == m.level || level == m.level + 1, "\(level) for \(m)")
            }
        }
    }
}
