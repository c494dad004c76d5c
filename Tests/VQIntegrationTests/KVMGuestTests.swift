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
        XCTAssertEqual(target.process?.accelerator, "kvm")
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
}
