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

    /// Every ring QMP lists that has moved is found without QMP at the same addresses; every other
    /// ring the scan lists is marked stale.
    func testNoQMPScanFindsTheRingsQMPLists() throws {
        let guest = try guest
        let target = try guest.open(noQMP: true)
        try guest.paused {
            let queues = try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues)
            let active = try queues.filter { q in
                let idx = try RingIndexes.read(q.location, from: target.memory)
                return idx.available != 0 || idx.used != 0
            }
            XCTAssertTrue(active.contains { $0.device == "virtio-blk" }, "\(active.map(\.label))")
            let result = try RingScanner.scan(target)
            for q in active {
                let ring = result.rings.first { $0.location.descriptors == q.location.descriptors }
                XCTAssertNotNil(ring, "\(q.label) (desc \(q.location.descriptors), N=\(q.location.size)) not found")
                XCTAssertEqual(ring?.location.size, q.location.size, q.label)
                XCTAssertEqual(ring?.location.driverArea, q.location.driverArea, q.label)
                XCTAssertEqual(ring?.location.deviceArea, q.location.deviceArea, q.label)
                XCTAssertEqual(ring?.stale, false, "\(q.label): \(ring?.liveness ?? "not found")")
            }
            let known = Set(queues.map(\.location.descriptors))
            for ring in result.rings where !known.contains(ring.location.descriptors) {
                XCTAssertEqual(ring.stale, true, "\(ring.location.descriptors) is not in QMP's list: \(ring.liveness ?? "-")")
            }
        }
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
