import VQCore
import XCTest

/// Guest RAM split over memory backends of one size: which mapping holds which, decided by the
/// guest's rings, on layouts built in memory.
final class RAMAssignmentTests: XCTestCase {
    private let MiB: UInt64 = 1 << 20
    /// The host address of the test process's first mapping; the others follow at `mappingStride`.
    private let hostBase: UInt64 = 0x7f00_0000_0000
    private let mappingStride: UInt64 = 32 << 20

    private func mapping(_ start: UInt64, _ size: UInt64) -> ProcessMapping {
        ProcessMapping.parse(line: "\(String(start, radix: 16))-\(String(start + size, radix: 16)) rw-p 00000000 00:00 0")!
    }

    /// `-m` of the sizes' sum, one `memory-backend-ram` and NUMA node per size.
    private func numaCommandLine(_ sizesInMiB: [Int]) -> QEMUCommandLine {
        var args = ["qemu-system-x86_64", "-machine", "pc", "-m", "\(sizesInMiB.reduce(0, +))M"]
        for (i, size) in sizesInMiB.enumerated() {
            args += ["-object", "memory-backend-ram,id=m\(i),size=\(size)M", "-numa", "node,nodeid=\(i),memdev=m\(i)"]
        }
        return QEMUCommandLine(arguments: args)
    }

    // MARK: Assignments and the decision

    func testAssignmentsGiveEachPartItsOwnMapping() {
        let two = RAMBackends(backends: [.init(id: "m0", size: 8, candidates: [0x2000, 0x1000]), .init(id: "m1", size: 8, candidates: [0x1000, 0x2000])])
        XCTAssertTrue(two.isAmbiguous)
        XCTAssertEqual(two.assignments(limit: 24), [[0x1000, 0x2000], [0x2000, 0x1000]])
        let three = RAMBackends(backends: (0..<3).map { .init(id: "m\($0)", size: 8, candidates: [1, 2, 3]) })
        XCTAssertEqual(three.assignments(limit: 24)?.count, 6)
        XCTAssertEqual(Set(three.assignments(limit: 24)!.map { Set($0).count }), [3], "no mapping given twice")
        let five = RAMBackends(backends: (0..<5).map { .init(id: "m\($0)", size: 8, candidates: [1, 2, 3, 4, 5]) })
        XCTAssertNil(five.assignments(limit: 24), "120 ways: beyond the bound")
        let tooFew = RAMBackends(backends: [.init(id: "m0", size: 8, candidates: [1]), .init(id: "m1", size: 8, candidates: [1])])
        XCTAssertEqual(tooFew.assignments(limit: 24), [])
        let plain = RAMBackends(backends: [.init(id: "pc.ram", size: 8, candidates: [7])])
        XCTAssertFalse(plain.isAmbiguous)
        XCTAssertEqual(plain.assignments(limit: 24), [[7]])
    }

    func testTheDecisionNeedsStrictlyMoreEvidence() {
        let ways: [[UInt64]] = [[1, 2, 9], [2, 1, 9], [1, 9, 2], [2, 9, 1]]
        let clear = RAMAssignment.decide(assignments: ways, scores: [0, 7, 1, 0])
        XCTAssertEqual(clear.chosen, 1)
        XCTAssertEqual(clear.certain, [2, 1, 9])
        let none = RAMAssignment.decide(assignments: ways, scores: [0, 0, 0, 0])
        XCTAssertNil(none.chosen, "no evidence chooses nothing")
        XCTAssertEqual(none.certain, [nil, nil, nil])
        // The two best agree on the first part only.
        let partly = RAMAssignment.decide(assignments: ways, scores: [5, 0, 5, 0])
        XCTAssertNil(partly.chosen)
        XCTAssertEqual(partly.certain, [1, nil, nil])
    }

    // MARK: Evidence from rings, end to end

    /// Two 8 MiB NUMA nodes whose mappings are given in the order that is *not* RAM order (node 0
    /// in the higher mapping, as mmap's top-down placement makes it), and a virtio-net receive ring
    /// in node 0 whose buffers, in node 1, hold frames.
    private func twoNodeGuest(rings: Bool) throws -> (cl: QEMUCommandLine, mappings: [ProcessMapping], memory: BufferMemory, truth: SlotMap) {
        let cl = numaCommandLine([8, 8])
        let low = hostBase, high = hostBase + mappingStride
        var memory = BufferMemory(base: hostBase, count: Int(mappingStride + 8 * MiB))
        let truth = try MachineLayout.forMachine(cl).slotMap(chunks: [(high, 8 * MiB, "m0"), (low, 8 * MiB, "m1")])
        func put<T: FixedWidthInteger>(_ value: T, _ gpa: UInt64) { memory.store(value, at: truth.hostAddress(of: GuestPhysicalAddress(gpa))!) }
        func put(_ bytes: [UInt8], _ gpa: UInt64) { memory.store(bytes, at: truth.hostAddress(of: GuestPhysicalAddress(gpa))!) }
        if rings {
            // Linux's layout for 256 entries at 0x200000: avail at +0x1000, used at +0x1240.
            let n = 256, desc: UInt64 = 0x200000, avail = desc + 0x1000, used = desc + 0x1240, data: UInt64 = 0x900000
            let requests = 40, completed = 30
            for r in 0..<requests {
                let buffer = data + UInt64(r) * 0x800
                put(buffer, desc + 16 * UInt64(r))
                put(UInt32(1536), desc + 16 * UInt64(r) + 8)
                put(UInt16(2), desc + 16 * UInt64(r) + 12)
                put(UInt16((r + 1) % n), desc + 16 * UInt64(r) + 14)
                put(UInt16(r), avail + 4 + 2 * UInt64(r))
                if r < completed {
                    put([UInt8](repeating: 0, count: 12) + [0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x52, 0x55, 10, 0, 2, 2, 0x08, 0x00], buffer)
                    put(UInt32(r), used + 4 + 8 * UInt64(r))
                    put(UInt32(110), used + 8 + 8 * UInt64(r))
                }
            }
            put(UInt16(requests), avail + 2)
            put(UInt16(completed), used + 2)
        }
        return (cl, [mapping(low, 8 * MiB), mapping(high, 8 * MiB)], memory, truth)
    }

    func testTheRingsDecideWhichMappingHoldsWhichNode() throws {
        let g = try twoNodeGuest(rings: true)
        XCTAssertThrowsError(try MapsSlotSource.slotMap(commandLine: g.cl, mappings: g.mappings), "the mappings alone cannot say") {
            XCTAssertTrue("\($0)".contains("2 mappings of exactly 8 MiB could be memory backend 'm0'"), "\($0)")
        }
        let (map, note) = try MapsSlotSource.slotMap(commandLine: g.cl, mappings: g.mappings, reader: g.memory, resident: nil)
        XCTAssertEqual(map, g.truth, "\(note ?? "")")
        let text = try XCTUnwrap(note)
        XCTAssertTrue(text.contains("the guest's rings decide 'm0' at \(Hex.string(hostBase + mappingStride)), 'm1' at \(Hex.string(hostBase))"), text)
        XCTAssertTrue(text.contains("at most 0 under any other"), text)
        // The ring is then found where the guest put it.
        let result = try RingScanner.scan(memory: GuestMemory(map: map, reader: g.memory), residentPages: nil)
        XCTAssertEqual(result.rings.map(\.location.descriptors.rawValue), [0x200000])
        XCTAssertEqual(result.rings.first?.deviceGuess, "virtio-net-rx")
    }

    /// A packed transmit ring decides as well: its used slots keep the addresses of the frames the
    /// device read, which hold frames only under the right assignment.
    func testAPackedRingDecidesToo() throws {
        var g = try twoNodeGuest(rings: false)
        func put<T: FixedWidthInteger>(_ value: T, _ gpa: UInt64) { g.memory.store(value, at: g.truth.hostAddress(of: GuestPhysicalAddress(gpa))!) }
        func put(_ bytes: [UInt8], _ gpa: UInt64) { g.memory.store(bytes, at: g.truth.hostAddress(of: GuestPhysicalAddress(gpa))!) }
        let desc: UInt64 = 0x300000, data: UInt64 = 0xA00000
        for r in 0..<40 {
            let buffer = data + UInt64(r) * 0x800
            put([UInt8](repeating: 0, count: 12) + [0x52, 0x55, 10, 0, 2, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x00], buffer)
            put(buffer, desc + 16 * UInt64(r))
            put(UInt32(0), desc + 16 * UInt64(r) + 8)     // the device read it: wrote 0 bytes
            put(UInt16(r), desc + 16 * UInt64(r) + 12)
            put(UInt16(0x8080), desc + 16 * UInt64(r) + 14)  // AVAIL = USED = 1: used in the first lap
        }
        let (map, note) = try MapsSlotSource.slotMap(commandLine: g.cl, mappings: g.mappings, reader: g.memory, resident: nil)
        XCTAssertEqual(map, g.truth, note ?? "")
        XCTAssertTrue(note?.contains("at most 0 under any other") == true, note ?? "")
    }

    func testWithoutEvidenceTheCandidatesAreListedAndNothingIsGuessed() throws {
        let g = try twoNodeGuest(rings: false)
        XCTAssertThrowsError(try MapsSlotSource.slotMap(commandLine: g.cl, mappings: g.mappings, reader: g.memory, resident: nil)) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("memory backends 'm0', 'm1' (8 MiB each) could each be any of the mappings at "
                                        + "\(Hex.string(hostBase)), \(Hex.string(hostBase + mappingStride))"), text)
            XCTAssertTrue(text.contains("cannot decide"), text)
        }
    }

    func testUndecidedPartsAreLeftOutAndTheCertainOnesKept() throws {
        // Node 0 (16 MiB) has one mapping of its size; nodes 1 and 2 (8 MiB each) share two.
        let cl = numaCommandLine([16, 8, 8])
        let memory = BufferMemory(base: hostBase, count: Int(2 * mappingStride + 8 * MiB))
        let mappings = [mapping(hostBase, 16 * MiB), mapping(hostBase + mappingStride, 8 * MiB), mapping(hostBase + 2 * mappingStride, 8 * MiB)]
        let (map, note) = try MapsSlotSource.slotMap(commandLine: cl, mappings: mappings, reader: memory, resident: nil)
        XCTAssertEqual(Set(map.slots.map(\.name)), ["m0"])
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x100000)), hostBase + 0x100000)
        XCTAssertNil(map.hostAddress(of: GuestPhysicalAddress(16 * MiB)))
        XCTAssertTrue(map.reasonUnmapped(GuestPhysicalAddress(16 * MiB)).contains("memory backend 'm1', whose mapping is undecided"),
                      map.reasonUnmapped(GuestPhysicalAddress(16 * MiB)))
        XCTAssertTrue(map.reasonUnmapped(GuestPhysicalAddress(24 * MiB)).contains("'m2'"))
        let text = try XCTUnwrap(note)
        XCTAssertTrue(text.contains("'m1', 'm2' left out of the slot map"), text)
    }

    func testUnambiguousRAMNeedsNoEvidence() throws {
        let cl = numaCommandLine([16, 8])
        let mappings = [mapping(hostBase, 16 * MiB), mapping(hostBase + mappingStride, 8 * MiB)]
        // A reader that holds nothing: no scan may run.
        let (map, note) = try MapsSlotSource.slotMap(commandLine: cl, mappings: mappings, reader: BufferMemory(base: 0, count: 0), resident: nil)
        XCTAssertNil(note)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(16 * MiB)), hostBase + mappingStride)
    }

    // MARK: Memory devices

    private func dimmCommandLine(_ dimms: [(size: String, addr: String?)]) -> QEMUCommandLine {
        var args = ["qemu-system-x86_64", "-machine", "pc", "-m", "16,slots=4,maxmem=4G"]
        for (i, d) in dimms.enumerated() {
            args += ["-object", "memory-backend-ram,id=d\(i),size=\(d.size)", "-device", "pc-dimm,id=dimm\(i),memdev=d\(i)" + (d.addr.map { ",addr=\($0)" } ?? "")]
        }
        return QEMUCommandLine(arguments: args)
    }

    func testDIMMsFollowOneAnotherFromTheDeviceMemoryBase() throws {
        let cl = dimmCommandLine([("128M", nil), ("64M", nil), ("128M", "0x140000000"), ("128M", nil)])
        XCTAssertEqual(cl.dimms.map(\.memoryBackendID), ["d0", "d1", "d2", "d3"])
        let layout = try MachineLayout.forMachine(cl)
        XCTAssertEqual(layout.deviceMemoryBase, 1 << 32, "no RAM above 4 GiB: device memory starts there")
        // d2 is fixed at 5 GiB; d3 fits after d1, before it.
        XCTAssertEqual(try MapsSlotSource.dimmAddresses(cl, layout: layout), [0x1_0000_0000, 0x1_0800_0000, 0x1_4000_0000, 0x1_0C00_0000])
        // RAM above 4 GiB moves the base to the next gigabyte after it.
        let big = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-m", "4608,slots=2,maxmem=8G"])
        XCTAssertEqual(try MachineLayout.forMachine(big).deviceMemoryBase, 0x1_8000_0000)
        let odd = dimmCommandLine([("100M", nil), ("1M", nil)])
        XCTAssertThrowsError(try MapsSlotSource.dimmAddresses(odd, layout: try MachineLayout.forMachine(odd))) {
            XCTAssertTrue("\($0)".contains("pc-dimm 'dimm1': 1 MiB is not a multiple of 2 MiB"), "\($0)")
        }
    }

    func testDIMMsOfOneSizeWithoutEvidenceAreLeftOutAndRAMKept() throws {
        let cl = dimmCommandLine([("8M", nil), ("8M", nil)])
        let memory = BufferMemory(base: hostBase, count: Int(2 * mappingStride + 8 * MiB))
        let mappings = [mapping(hostBase, 16 * MiB), mapping(hostBase + mappingStride * 16, 8 * MiB), mapping(hostBase + mappingStride * 17, 8 * MiB)]
        let found = try MapsSlotSource.backends(commandLine: cl, mappings: mappings)
        XCTAssertEqual(found.backends.map(\.id), ["pc.ram", "d0", "d1"])
        XCTAssertEqual(found.backends.map(\.guest), [nil, 0x1_0000_0000, 0x1_0080_0000])
        let (map, note) = try MapsSlotSource.slotMap(commandLine: cl, mappings: mappings, reader: memory, resident: nil)
        XCTAssertEqual(Set(map.slots.map(\.name)), ["pc.ram"])
        XCTAssertTrue(map.reasonUnmapped(GuestPhysicalAddress(0x1_0080_0000)).contains("memory backend 'd1', whose mapping is undecided"))
        XCTAssertTrue(note?.contains("'d0', 'd1' left out of the slot map") == true, note ?? "")
        // With one DIMM there is nothing to decide: it is mapped at its address.
        let one = dimmCommandLine([("8M", nil)])
        let single = try MapsSlotSource.slotMap(commandLine: one, mappings: Array(mappings.prefix(2)), reader: memory, resident: nil)
        XCTAssertNil(single.note)
        XCTAssertEqual(single.map.hostAddress(of: GuestPhysicalAddress(0x1_0000_1000)), hostBase + mappingStride * 16 + 0x1000)
    }
}
