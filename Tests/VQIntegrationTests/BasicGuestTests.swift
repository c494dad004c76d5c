import Foundation
import VQCore
import XCTest

/// The basic bench guest: Linux under TCG, 256 MiB, pc machine, virtio blk/net/rng/serial.
final class BasicGuestTests: GuestTestCase {

    func testAutoUsesQMPAndMatchesGpa2hva() throws {
        let guest = try guest
        let target = try guest.open()
        XCTAssertEqual(target.source, .qmp)
        XCTAssertTrue(target.memory.map.slots.contains { $0.name == "pc.ram" })
        XCTAssertTrue(target.memory.map.slots.contains { $0.name == "pc.bios" })
        try SlotChecks.slotsMatchQEMU(target.memory.map, guest)
        try SlotChecks.unmappedAgree(target.memory.map, guest)
    }

    func testMapsSourceMatchesGpa2hvaWithoutQMP() throws {
        let guest = try guest
        let target = try guest.open(slots: .maps, noQMP: true)
        XCTAssertEqual(target.source, .maps)
        XCTAssertNil(target.qmp)
        try SlotChecks.slotsMatchQEMU(target.memory.map, guest)
        try SlotChecks.unmappedAgree(target.memory.map, guest, extra: [0xA0000, 0xB8000, 0xF0000])
        SlotChecks.coversRAM(target.memory.map, reference: try guest.open().memory.map)
        XCTAssertNil(target.memory.map.hostAddress(of: GuestPhysicalAddress(0xB8000)), "the legacy window is never guessed")
        XCTAssertTrue(target.memory.map.reasonUnmapped(GuestPhysicalAddress(0xB8000)).contains("legacy"))
    }

    func testNoQMPFallsBackToMapsUnderTCG() throws {
        let target = try guest.open(noQMP: true)
        XCTAssertEqual(target.source, .maps)
        XCTAssertTrue(target.notes.contains { $0.contains("not a KVM guest") }, "\(target.notes)")
    }

    func testHostPhysicalMatchesGpa2hpa() throws {
        let guest = try guest
        try SlotChecks.hostPhysicalMatchesQEMU(try guest.open(), guest, addresses: [0x1000, 0x100000, 0x1000000, 0x8000000, 0xFFFF000])
    }

    func testReadsMatchIndependentRead() throws {
        let guest = try guest
        try SlotChecks.readsMatchIndependentRead(try guest.open(), guest, addresses: [0, 0x9F000, 0x100000, 0x1000000, 0xFFF0000])
        try SlotChecks.readsMatchIndependentRead(try guest.open(slots: .maps, noQMP: true), guest, addresses: [0x1000, 0x2000000])
    }

    func testReadAcrossSlotsAndIntoAHoleFails() throws {
        let target = try guest.open()
        // The last RAM page and past it: RAM ends at 256 MiB, above it is nothing.
        XCTAssertThrowsError(try target.memory.bytes(at: GuestPhysicalAddress(0xFFFF000), count: 0x2000)) { error in
            guard case MemoryError.guestUnmapped(let gpa, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(gpa.rawValue, 0x10000000)
        }
    }

    func testImageFromDumpGuestMemoryMatchesLiveReads() throws {
        let guest = try guest
        let path = guest.directory.appendingPathComponent("dump.elf").path
        let live = try guest.open()
        try guest.paused {
            try guest.harness.execute("dump-guest-memory", arguments: .object([("paging", .bool(false)), ("protocol", .string("file:" + path))]))
            let image = try Target.open(TargetSpec(imagePath: path))
            XCTAssertEqual(image.source, .elf)
            for slot in live.memory.map.slots where slot.name == "pc.ram" {
                for gpa in SlotChecks.probes(slot) {
                    XCTAssertNotNil(image.memory.map.hostAddress(of: GuestPhysicalAddress(gpa)), "the dump holds all of RAM: \(Hex.string(gpa))")
                }
            }
            XCTAssertGreaterThanOrEqual(image.memory.map.totalSize, 256 << 20)
            for gpa: UInt64 in [0, 0x1000, 0x9F000, 0x100000, 0x1234000, 0xFFFF000] {
                let a = try image.memory.bytes(at: GuestPhysicalAddress(gpa), count: 4096)
                let b = try live.memory.bytes(at: GuestPhysicalAddress(gpa), count: 4096)
                XCTAssertTrue(a == b, "image and live differ at \(Hex.string(gpa))")
            }
            let r = try Tool.json(["slots", "--image", path])
            XCTAssertEqual(r.status, 0)
            XCTAssertEqual(r.json["source"]?.string, "elf")
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    func testSlotsCommandJSON() throws {
        let guest = try guest
        let r = try Tool.json(["slots", "--pid", String(guest.pid), "--qmp", guest.toolSocket])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.json["source"]?.string, "qmp")
        let slots = try XCTUnwrap(r.json["slots"]?.array)
        let ram = try XCTUnwrap(slots.first { $0["name"]?.string == "pc.ram" && $0["gpa"]?.uint64 == 0x100000 })
        XCTAssertEqual(try guest.gpa2hva(0x100000), ram["hva"]?.uint64)
        XCTAssertEqual(ram["size"]?.uint64, (256 << 20) - 0x100000)
    }

    func testTranslateCommandAgreesWithQEMUAndReportsHoles() throws {
        let guest = try guest
        let addresses: [UInt64] = [0x1000, 0x7654321, 0xFFFFFFF, 0x10000000, 0xFEC00000]
        let r = try Tool.json(["translate", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--hpa"] + addresses.map { Hex.string($0) })
        XCTAssertEqual(r.status, 1, "some addresses are not RAM: exit status 1")
        let rows = try XCTUnwrap(r.json["translations"]?.array)
        XCTAssertEqual(rows.count, addresses.count)
        for (row, gpa) in zip(rows, addresses) {
            XCTAssertEqual(row["gpa"]?.uint64, gpa)
            XCTAssertEqual(row["hva"]?.uint64, try guest.gpa2hva(gpa), Hex.string(gpa))
            if row["hva"] == .null {
                XCTAssertNotNil(row["reason"]?.string)
                XCTAssertEqual(row["hpa"], .null)
            }
        }
        XCTAssertEqual(rows[0]["region"]?.string, "pc.ram")
        // A page the guest has used is resident: its host-physical address equals QEMU's.
        XCTAssertEqual(rows[0]["hpa"]?.uint64, try guest.gpa2hpa(0x1000))
    }

    func testBulkTranslateFromStandardInput() throws {
        let guest = try guest
        var lines: [String] = []
        for i in 0..<100_000 { lines.append(Hex.string(UInt64(i) &* 0x9E37 % 0x1200_0000)) }
        let r = try Tool.run(["translate", "--pid", String(guest.pid), "--qmp", guest.toolSocket], input: Data((lines.joined(separator: "\n") + "\n").utf8))
        let out = r.stdout.split(separator: "\n")
        XCTAssertEqual(out.count, lines.count)
        XCTAssertEqual(r.status, 1, "addresses above 256 MiB are not RAM")
        // Spot-check against QEMU.
        for i in stride(from: 0, to: lines.count, by: 9973) {
            let fields = out[i].split(separator: " ", omittingEmptySubsequences: true)
            let qemu = try guest.gpa2hva(Hex.parseAddress(lines[i])!)
            XCTAssertEqual(Hex.parseAddress(fields[1]), qemu, "line \(i): \(out[i])")
        }
    }

    func testCommandsNameBadTargets() throws {
        // No such process.
        var r = try Tool.run(["slots", "--pid", "999999"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("no process with PID 999999"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line")
        // A process that is not QEMU: this test runner.
        r = try Tool.run(["slots", "--pid", String(getpid())])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("is not a QEMU system emulator"), r.stderr)
        // A QMP socket that is not there.
        r = try Tool.run(["slots", "--pid", String(try guest.pid), "--qmp", "/nonexistent.sock"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("cannot connect to QMP socket /nonexistent.sock"), r.stderr)
        // Garbage and truncated images.
        let garbage = try guest.directory.appendingPathComponent("garbage.img")
        try Data(repeating: 0x41, count: 1000).write(to: garbage)
        r = try Tool.run(["slots", "--image", garbage.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("not a usable memory image: no ELF magic"), r.stderr)
        r = try Tool.run(["translate", "--image", "/nonexistent.elf", "0x1000"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("cannot open /nonexistent.elf"), r.stderr)
    }
}
