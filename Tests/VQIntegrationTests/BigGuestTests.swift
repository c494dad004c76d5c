import Foundation
import VQCore
import XCTest

/// A guest over 4 GiB (-m 4608 on pc): RAM is split, 3 GiB low and 1.5 GiB from 4 GiB at RAM
/// offset 3 GiB, so `hva = ram_base + gpa` is wrong above 4 GiB.
final class BigGuestTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .big }

    func testQMPSlotsMatchGpa2hvaAboveAndBelow4G() throws {
        let guest = try guest
        let map = try guest.open(slots: .qmp).memory.map
        try SlotChecks.slotsMatchQEMU(map, guest)
        try SlotChecks.unmappedAgree(map, guest, extra: [0xC000_0000, 0xE000_0000, 0x1_6000_0000])
        let high = try XCTUnwrap(map.slots.first { $0.guest.rawValue == 0x1_0000_0000 })
        XCTAssertEqual(high.size, 0x6000_0000)
    }

    func testMapsLayoutSplitsRAMAt3GiB() throws {
        let guest = try guest
        let target = try guest.open(slots: .maps, noQMP: true)
        let map = target.memory.map
        try SlotChecks.slotsMatchQEMU(map, guest)
        SlotChecks.coversRAM(map, reference: try guest.open(slots: .qmp).memory.map)
        // The naive translation is wrong by exactly 1 GiB above 4 GiB; vqscope is not.
        let low = try XCTUnwrap(map.hostAddress(of: GuestPhysicalAddress(0)))
        let qemu = try XCTUnwrap(try guest.gpa2hva(0x1_0000_0000))
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x1_0000_0000)), qemu)
        XCTAssertEqual(qemu, low + 0xC000_0000, "QEMU keeps high RAM at RAM offset 3 GiB")
        XCTAssertNotEqual(qemu, low + 0x1_0000_0000, "the naive base + gpa")
        XCTAssertNil(map.hostAddress(of: GuestPhysicalAddress(0xD000_0000)), "the PCI hole is not RAM")
    }

    func testReadsAbove4GMatchIndependentRead() throws {
        let guest = try guest
        let addresses: [UInt64] = [0x1000, 0xBFFF_0000, 0x1_0000_0000, 0x1_2345_6000, 0x1_5FFF_0000]
        try SlotChecks.readsMatchIndependentRead(try guest.open(), guest, addresses: addresses)
        try SlotChecks.readsMatchIndependentRead(try guest.open(slots: .maps, noQMP: true), guest, addresses: addresses)
    }

    func testHostPhysicalAbove4GMatchesGpa2hpa() throws {
        let guest = try guest
        try SlotChecks.hostPhysicalMatchesQEMU(try guest.open(slots: .maps, noQMP: true), guest,
                                               addresses: [0x2000, 0xBFFF_F000, 0x1_0000_0000, 0x1_4000_0000])
    }

    func testTranslateCommandAcrossTheSplit() throws {
        let guest = try guest
        let addresses: [UInt64] = [0xBFFF_FFFF, 0xC000_0000, 0x1_0000_0000, 0x1_5FFF_FFFF, 0x1_6000_0000]
        for slots in ["qmp", "maps"] {
            var args = ["translate", "--pid", String(guest.pid), "--slots", slots]
            args += slots == "qmp" ? ["--qmp", guest.toolSocket] : ["--no-qmp"]
            let r = try Tool.json(args + addresses.map { Hex.string($0) })
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertEqual(r.json["source"]?.string, slots)
            let rows = try XCTUnwrap(r.json["translations"]?.array)
            for (row, gpa) in zip(rows, addresses) {
                XCTAssertEqual(row["hva"]?.uint64, try guest.gpa2hva(gpa), "\(slots) \(Hex.string(gpa))")
            }
        }
    }
}
