import Foundation
import VQCore
import XCTest

/// A firmware-only KVM guest (SeaBIOS reading a virtio-blk disk). Skipped only where /dev/kvm is
/// absent, and says so.
final class KVMGuestTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .kvm }
    override class var unavailableReason: String? {
        FileManager.default.fileExists(atPath: "/dev/kvm") ? nil : "/dev/kvm is absent on this machine: the KVM variant cannot run"
    }

    func testKVMSlotsMatchGpa2hvaWithoutQMP() throws {
        let guest = try guest
        let target = try guest.open(slots: .kvm, noQMP: true)
        XCTAssertEqual(target.source, .kvm)
        try SlotChecks.slotsMatchQEMU(target.memory.map, guest)
        try SlotChecks.unmappedAgree(target.memory.map, guest)
        SlotChecks.coversRAM(target.memory.map, reference: try guest.open(slots: .qmp).memory.map)
    }

    func testNoQMPPrefersKVMSlots() throws {
        let target = try guest.open(noQMP: true)
        XCTAssertEqual(target.source, .kvm)
        XCTAssertEqual(target.process?.accelerator, .kvm)
    }

    func testQMPAndMapsSourcesUnderKVM() throws {
        let guest = try guest
        try SlotChecks.slotsMatchQEMU(try guest.open(slots: .qmp).memory.map, guest)
        try SlotChecks.slotsMatchQEMU(try guest.open(slots: .maps, noQMP: true).memory.map, guest)
    }

    func testReadsAndHostPhysical() throws {
        let guest = try guest
        let target = try guest.open(slots: .kvm, noQMP: true)
        try SlotChecks.readsMatchIndependentRead(target, guest, addresses: [0x0, 0x7000, 0x100000, 0x7FF0000])
        try SlotChecks.hostPhysicalMatchesQEMU(target, guest, addresses: [0x7000, 0x100000])
    }

    func testSlotsCommandShowsKVMSource() throws {
        let guest = try guest
        let r = try Tool.json(["slots", "--pid", String(guest.pid), "--no-qmp"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.json["source"]?.string, "kvm")
    }

    /// SeaBIOS's virtio-blk ring lies in the e820-reserved top of RAM: a scan without QMP finds it,
    /// and every ring it lists is one QMP lists or is marked stale.
    func testScanWithoutQMPMarksTheFirmwareRingStale() throws {
        let guest = try guest
        let target = try guest.open(noQMP: true)
        XCTAssertNil(target.qmp)
        let result = try RingScanner.scan(target)
        let known = Set(try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues).map(\.location.descriptors))
        for ring in result.rings {
            print("  \(ring.location.descriptors) N=\(ring.location.size) used \(ring.location.deviceArea) score \(ring.score) guess \(ring.deviceGuess ?? "-") stale \(ring.stale.map(String.init) ?? "?"): \(ring.liveness ?? "-")")
            XCTAssertTrue(known.contains(ring.location.descriptors) || ring.stale == true, "\(ring.location.descriptors): \(ring.liveness ?? "-")")
        }
        let firmware = result.rings.filter { $0.location.deviceArea.rawValue == $0.location.descriptors.rawValue + 0x2000 && $0.location.size == 256 }
        // Here SeaBIOS is the only driver and may still be reading the disk: a ring that moves is
        // live wherever it lies; one that does not, in the firmware's reserved top of RAM, is stale.
        for ring in firmware {
            let moved = ring.liveness?.hasPrefix("indexes moved") == true
            XCTAssertEqual(ring.stale, !moved, "\(ring.location.descriptors): \(ring.liveness ?? "-")")
        }
        XCTAssertFalse(firmware.isEmpty, "SeaBIOS's ring (used at +0x2000) not found")
        let list = QueueList.scanned(result.rings, note: nil)
        for q in list.queues where list.scanned[q.location.descriptors]?.stale == true {
            XCTAssertTrue(q.device.hasPrefix(QueueList.stalePrefix), q.label)
        }
    }
}

extension KVMGuestTests {
    /// Without QMP on a KVM guest, KVM's slots give the map and the scan gives the rings: `queues`
    /// and `scan` list the ring QMP lists, at its addresses, named as the scan judged it.
    func testQueuesAndScanCommandsWithoutQMP() throws {
        let guest = try guest
        let blk = try XCTUnwrap(try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues).first { $0.device == "virtio-blk" })
        let scan = try Tool.json(["scan", "--pid", String(guest.pid), "--no-qmp"])
        XCTAssertEqual(scan.status, 0, scan.stderr)
        let rings = try XCTUnwrap(scan.json["rings"]?.array)
        let ring = try XCTUnwrap(rings.first { $0["desc"]?.uint64 == blk.location.descriptors.rawValue }, scan.json.text)
        XCTAssertEqual(ring["avail"]?.uint64, blk.location.driverArea.rawValue)
        XCTAssertEqual(ring["used"]?.uint64, blk.location.deviceArea.rawValue)
        XCTAssertEqual(ring["num"]?.uint64, UInt64(blk.location.size))
        XCTAssertEqual(ring["device_guess"]?.string, "virtio-blk")
        XCTAssertNotNil(ring["stale"]?.bool, "a live process's rings are judged")

        let queues = try Tool.json(["queues", "--pid", String(guest.pid), "--no-qmp"])
        XCTAssertEqual(queues.status, 0, queues.stderr)
        XCTAssertEqual(queues.json["source"]?.string, "scan")
        let rows = try XCTUnwrap(queues.json["queues"]?.array)
        let row = try XCTUnwrap(rows.first { $0["desc"]?.uint64 == blk.location.descriptors.rawValue }, queues.json.text)
        // Judged again by this run: a stale ring never takes the live device's name.
        let device = try XCTUnwrap(row["device"]?.string)
        XCTAssertTrue(device == "virtio-blk" || device == QueueList.stalePrefix + "virtio-blk", device)
        let slots = try Tool.json(["slots", "--pid", String(guest.pid), "--no-qmp"])
        XCTAssertEqual(slots.json["source"]?.string, "kvm")
    }
}

/// The firmware-only KVM guest with its RAM as two NUMA nodes of 64 MiB: KVM's slots give the map
/// without QMP; the maps source alone cannot tell the nodes apart (SeaBIOS's ring verifies no
/// chain there: its request headers live in the BIOS area, outside a maps slot map) and says so.
final class KVMNUMAGuestTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .kvm }
    override class var tag: String? { "kvm-numa" }
    override class var runGuestFlags: [String] { ["--numa", "2"] }
    override class var unavailableReason: String? { KVMGuestTests.unavailableReason }

    func testKVMSlotsGiveTheMapAndTheScanTheRing() throws {
        let guest = try guest
        let target = try guest.open(noQMP: true)
        XCTAssertEqual(target.source, .kvm)
        try SlotChecks.slotsMatchQEMU(target.memory.map, guest)
        try SlotChecks.unmappedAgree(target.memory.map, guest)
        let blk = try XCTUnwrap(try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues).first { $0.device == "virtio-blk" })
        let ring = try XCTUnwrap(try RingScanner.scan(target).rings.first { $0.location.descriptors == blk.location.descriptors })
        XCTAssertEqual(ring.location.deviceArea, blk.location.deviceArea)
    }

    func testMapsSourceListsTheCandidatesWhenTheEvidenceCannotDecide() throws {
        let guest = try guest
        let node0 = try XCTUnwrap(try guest.gpa2hva(0)), node1 = try XCTUnwrap(try guest.gpa2hva(64 << 20))
        let r = try Tool.run(["slots", "--pid", String(guest.pid), "--no-qmp", "--slots", "maps"])
        XCTAssertEqual(r.status, 2, r.stdout)
        XCTAssertEqual(r.stdout, "", "nothing printed but the one line")
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("memory backends 'node0', 'node1' (64 MiB each) could each be any of the mappings at "
                                        + [node0, node1].sorted().map(Hex.string).joined(separator: ", ")), r.stderr)
        XCTAssertTrue(r.stderr.contains("cannot decide"), r.stderr)
    }
}
