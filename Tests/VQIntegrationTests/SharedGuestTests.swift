import Foundation
import VQCore
import XCTest

/// A guest whose RAM is a shared file (memory-backend-file, share=on, -machine memory-backend=).
final class SharedGuestTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .shared }

    var ramFile: String { get throws { try guest.directory.appendingPathComponent("guest.ram").path } }

    func testMapsFindsTheBackendFile() throws {
        let guest = try guest
        let process = try QEMUProcess(pid: guest.pid)
        XCTAssertEqual(process.commandLine.memoryBackendID, "ram0")
        XCTAssertEqual(process.commandLine.ramSize, 256 << 20)
        let target = try guest.open(slots: .maps, noQMP: true)
        XCTAssertEqual(target.memory.map.slots.first?.name, "ram0")
        try SlotChecks.slotsMatchQEMU(target.memory.map, guest)
        SlotChecks.coversRAM(target.memory.map, reference: try guest.open(slots: .qmp).memory.map)
    }

    func testQMPSlotsMatchGpa2hva() throws {
        let guest = try guest
        let map = try guest.open(slots: .qmp).memory.map
        try SlotChecks.slotsMatchQEMU(map, guest)
        try SlotChecks.unmappedAgree(map, guest)
    }

    func testRawImageOfTheRAMFileMatchesLiveReads() throws {
        let guest = try guest
        let live = try guest.open()
        let image = try Target.open(TargetSpec(imagePath: try ramFile, base: 0))
        XCTAssertEqual(image.source, .raw)
        try guest.paused {
            for gpa: UInt64 in [0, 0x1000, 0x9F000, 0x100000, 0x1234000, 0xFFFF000] {
                XCTAssertTrue(try image.memory.bytes(at: GuestPhysicalAddress(gpa), count: 4096) ==
                              live.memory.bytes(at: GuestPhysicalAddress(gpa), count: 4096), Hex.string(gpa))
            }
        }
        let r = try Tool.run(["hexdump", "--image", try ramFile, "--base", "0", "0x10000000", "16"])
        XCTAssertEqual(r.status, 1, "past the end of the raw image")
        XCTAssertTrue(r.stderr.contains("past the end of guest memory"), r.stderr)
    }

    func testReadsMatchIndependentRead() throws {
        let guest = try guest
        try SlotChecks.readsMatchIndependentRead(try guest.open(slots: .maps, noQMP: true), guest, addresses: [0x1000, 0x4000000, 0xFFF0000])
    }
}
