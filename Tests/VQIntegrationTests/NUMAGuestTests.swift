import Foundation
import VQCore
import XCTest

/// The basic bench guest with its RAM as two NUMA nodes of 128 MiB, each its own memory backend:
/// two anonymous mappings of one size that /proc/PID/maps cannot tell apart. Without QMP the
/// guest's rings decide which is which.
final class NUMAGuestTests: GuestTestCase {
    override class var tag: String? { "numa" }
    override class var runGuestFlags: [String] { ["--numa", "2"] }

    func testNoQMPSlotMapMatchesGpa2hva() throws {
        let guest = try guest
        let target = try guest.open(noQMP: true)
        XCTAssertNil(target.qmp)
        XCTAssertEqual(target.source, .maps)
        XCTAssertEqual(Set(target.memory.map.slots.map(\.name)), ["node0", "node1"])
        let note = try XCTUnwrap(target.slotNotes.first, "the maps source says how it decided")
        print(note)
        XCTAssertTrue(note.contains("the guest's rings decide 'node0' at"), note)
        try SlotChecks.slotsMatchQEMU(target.memory.map, guest)
        try SlotChecks.unmappedAgree(target.memory.map, guest)
        try SlotChecks.readsMatchIndependentRead(target, guest, addresses: [0x100000, 0x7FF0000, 0x8000000, 0xFFF0000])
    }

    func testNoQMPScanFindsTheRingsQMPLists() throws {
        let guest = try guest
        try ScanChecks.ringsMatchQMP(guest, try guest.open(noQMP: true))
    }

    func testCommandsWithoutQMPWork() throws {
        let guest = try guest
        let slots = try Tool.json(["slots", "--pid", String(guest.pid), "--no-qmp"])
        XCTAssertEqual(slots.status, 0, slots.stderr)
        XCTAssertEqual(slots.json["source"]?.string, "maps")
        XCTAssertTrue(slots.json["notes"]?.array?.contains { $0.string?.contains("the guest's rings decide") == true } == true,
                      slots.json["notes"]?.text ?? "")
        let queues = try Tool.json(["queues", "--pid", String(guest.pid), "--no-qmp"])
        XCTAssertEqual(queues.status, 0, queues.stderr)
        let blk = try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues).first { $0.device == "virtio-blk" }
        let rows = try XCTUnwrap(queues.json["queues"]?.array)
        XCTAssertTrue(rows.contains { $0["desc"]?.uint64 == blk?.location.descriptors.rawValue && $0["device"]?.string == "virtio-blk" },
                      "virtio-blk's ring at \(blk.map { "\($0.location.descriptors)" } ?? "-"): \(queues.json.text)")
    }
}

/// Checks of a scan without QMP against QMP's own list.
enum ScanChecks {
    /// Every ring QMP lists that has moved is found without QMP at the same addresses, live; every
    /// other ring the scan lists is marked stale. On the paused guest.
    static func ringsMatchQMP(_ guest: BenchGuest, _ target: Target, file: StaticString = #filePath, line: UInt = #line) throws {
        try guest.paused {
            let queues = try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues)
            let active = try queues.filter { q in
                let idx = try RingIndexes.read(q.location, from: target.memory)
                return idx.available != 0 || idx.used != 0
            }
            XCTAssertTrue(active.contains { $0.device == "virtio-blk" }, "\(active.map(\.label))", file: file, line: line)
            let result = try RingScanner.scan(target)
            for q in active {
                let ring = result.rings.first { $0.location.descriptors == q.location.descriptors }
                XCTAssertNotNil(ring, "\(q.label) (desc \(q.location.descriptors), N=\(q.location.size)) not found", file: file, line: line)
                XCTAssertEqual(ring?.location.size, q.location.size, q.label, file: file, line: line)
                XCTAssertEqual(ring?.location.driverArea, q.location.driverArea, q.label, file: file, line: line)
                XCTAssertEqual(ring?.location.deviceArea, q.location.deviceArea, q.label, file: file, line: line)
                XCTAssertEqual(ring?.stale, false, "\(q.label): \(ring?.liveness ?? "not found")", file: file, line: line)
            }
            let known = Set(queues.map(\.location.descriptors))
            for ring in result.rings where !known.contains(ring.location.descriptors) {
                XCTAssertEqual(ring.stale, true, "\(ring.location.descriptors) is not in QMP's list: \(ring.liveness ?? "-")", file: file, line: line)
            }
        }
    }
}

/// The basic bench guest with two 128 MiB DIMMs (pc-dimm, each its own memory-backend-ram) beside
/// its 256 MiB of RAM: the DIMMs' mappings look alike and the guest's rings, all in the RAM below
/// 4 GiB, cannot tell them apart. Without QMP the RAM is mapped, the DIMMs are named as undecided
/// with their candidate mappings, and the rings are found.
final class DIMMGuestTests: GuestTestCase {
    override class var tag: String? { "dimm" }
    override class var extraArguments: [String] {
        ["-m 256,slots=2,maxmem=1G",
         "-object memory-backend-ram,id=d0,size=128M -device pc-dimm,id=dimm0,memdev=d0",
         "-object memory-backend-ram,id=d1,size=128M -device pc-dimm,id=dimm1,memdev=d1"]
    }

    func testNoQMPMapsWhatIsCertainAndNamesTheCandidates() throws {
        let guest = try guest
        let target = try guest.open(noQMP: true)
        XCTAssertEqual(target.source, .maps)
        XCTAssertEqual(Set(target.memory.map.slots.map(\.name)), ["pc.ram"])
        try SlotChecks.slotsMatchQEMU(target.memory.map, guest)
        // QEMU puts the DIMMs at 4 GiB and 4 GiB + 128 MiB; vqscope names both candidates and maps neither.
        let d0 = try XCTUnwrap(try guest.gpa2hva(0x1_0000_0000)), d1 = try XCTUnwrap(try guest.gpa2hva(0x1_0800_0000))
        let note = try XCTUnwrap(target.slotNotes.first)
        XCTAssertTrue(note.contains("could each be any of the mappings at \([d0, d1].sorted().map(Hex.string).joined(separator: ", "))"), note)
        XCTAssertTrue(note.contains("'d0', 'd1' left out of the slot map"), note)
        for gpa: UInt64 in [0x1_0000_0000, 0x1_0800_0000] {
            XCTAssertNil(target.memory.map.hostAddress(of: GuestPhysicalAddress(gpa)))
            XCTAssertTrue(target.memory.map.reasonUnmapped(GuestPhysicalAddress(gpa)).contains("undecided"))
        }
        try ScanChecks.ringsMatchQMP(guest, target)
    }

    /// The DIMMs' layout itself (base and order) agrees with QEMU: under the assignment QEMU's
    /// gpa2hva names, the maps source's slots are QEMU's.
    func testDIMMAddressesAreQEMUs() throws {
        let guest = try guest
        let mappings = try XCTUnwrap(target(guest).process).mappings()
        let cl = try XCTUnwrap(target(guest).process).commandLine
        let found = try MapsSlotSource.backends(commandLine: cl, mappings: mappings)
        let truth = try found.backends.map { b in try XCTUnwrap(try guest.gpa2hva(b.guest ?? 0)) }
        let map = try found.slotMap(truth, layout: try MachineLayout.forMachine(cl))
        XCTAssertEqual(Set(map.slots.map(\.name)), ["pc.ram", "d0", "d1"])
        try SlotChecks.slotsMatchQEMU(map, guest)
    }

    private func target(_ guest: BenchGuest) throws -> Target { try guest.open(noQMP: true) }
}
