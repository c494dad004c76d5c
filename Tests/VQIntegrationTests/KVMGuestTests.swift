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
