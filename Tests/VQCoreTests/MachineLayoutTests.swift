import VQCore
import XCTest

final class MachineLayoutTests: XCTestCase {
    private let GiB: UInt64 = 1 << 30
    private let MiB: UInt64 = 1 << 20

    private func layout(_ args: String) throws -> MachineLayout {
        try MachineLayout.forMachine(QEMUCommandLine(arguments: ["qemu-system-x86_64"] + args.split(separator: " ").map(String.init)))
    }

    func testPCSplitsAt3GiBFrom3Point5GiB() throws {
        XCTAssertEqual(MachineLayout.pcBelow4G(ramSize: 4608 * MiB, maxRAMBelow4G: nil), 3 * GiB)
        XCTAssertEqual(MachineLayout.pcBelow4G(ramSize: 3584 * MiB, maxRAMBelow4G: nil), 3 * GiB, "3.5 GiB is 'or more'")
        XCTAssertEqual(MachineLayout.pcBelow4G(ramSize: 3583 * MiB, maxRAMBelow4G: nil), 3583 * MiB, "below 3.5 GiB all stays low")
        XCTAssertEqual(MachineLayout.pcBelow4G(ramSize: 256 * MiB, maxRAMBelow4G: nil), 256 * MiB)
        XCTAssertEqual(MachineLayout.pcBelow4G(ramSize: 4 * GiB, maxRAMBelow4G: 1 * GiB), 1 * GiB)
        XCTAssertEqual(MachineLayout.pcBelow4G(ramSize: 512 * MiB, maxRAMBelow4G: 1 * GiB), 512 * MiB)
    }

    func testQ35SplitsAt2GiBFrom2Point75GiB() {
        XCTAssertEqual(MachineLayout.q35Below4G(ramSize: 2816 * MiB, maxRAMBelow4G: nil), 2 * GiB)
        XCTAssertEqual(MachineLayout.q35Below4G(ramSize: 2815 * MiB, maxRAMBelow4G: nil), 2815 * MiB)
        XCTAssertEqual(MachineLayout.q35Below4G(ramSize: 8 * GiB, maxRAMBelow4G: nil), 2 * GiB)
        XCTAssertEqual(MachineLayout.q35Below4G(ramSize: 8 * GiB, maxRAMBelow4G: 1 * GiB), 1 * GiB)
        XCTAssertEqual(MachineLayout.q35Below4G(ramSize: 8 * GiB, maxRAMBelow4G: 3 * GiB), 2 * GiB, "the option only lowers the split")
    }

    func testBigPCGuestMapsHighRAMAtOffset3GiB() throws {
        let l = try layout("-m 4608")
        XCTAssertEqual(l.pieces.map(\.guest.rawValue), [0, 0x100000, 0x1_0000_0000])
        XCTAssertEqual(l.pieces.map(\.ramOffset), [0, 0x100000, 3 * GiB])
        XCTAssertEqual(l.pieces.map(\.size), [0xA0000, 3 * GiB - 0x100000, 1536 * MiB])
        let map = try l.slotMap(chunks: [(host: 0x7f00_0000_0000, size: 4608 * MiB, name: "pc.ram")])
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x1_0000_0000)), 0x7f00_0000_0000 + 3 * GiB)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x1_5FFF_FFFF)), 0x7f00_0000_0000 + 4608 * MiB - 1)
        XCTAssertNil(map.hostAddress(of: GuestPhysicalAddress(0x1_6000_0000)))
        XCTAssertNil(map.hostAddress(of: GuestPhysicalAddress(0xC000_0000)))
        XCTAssertNil(map.hostAddress(of: GuestPhysicalAddress(0xB8000)))
        XCTAssertTrue(map.reasonUnmapped(GuestPhysicalAddress(0xB8000)).contains("legacy VGA/BIOS window"))
        XCTAssertTrue(map.reasonUnmapped(GuestPhysicalAddress(0xD000_0000)).contains("PCI/MMIO hole"))
    }

    func testQ35WithMachineOptions() throws {
        let l = try layout("-machine pc-q35-7.2,accel=kvm -m 4G")
        XCTAssertEqual(l.pieces.last?.guest.rawValue, 0x1_0000_0000)
        XCTAssertEqual(l.pieces.last?.ramOffset, 2 * GiB)
        XCTAssertEqual(l.pieces.last?.size, 2 * GiB)
    }

    func testNUMAChunksSplitAPieceAcrossBackends() throws {
        let l = try layout("-m 4608")
        let map = try l.slotMap(chunks: [(host: 0x1000_0000_0000, size: 2 * GiB, name: "m0"),
                                         (host: 0x2000_0000_0000, size: 2560 * MiB, name: "m1")])
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(2 * GiB - 1)), 0x1000_0000_0000 + 2 * GiB - 1)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(2 * GiB)), 0x2000_0000_0000)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x1_0000_0000)), 0x2000_0000_0000 + 1 * GiB)
        XCTAssertEqual(map.slots.map(\.name), ["m0", "m0", "m1", "m1"])
    }

    func testTooLittleRAMIsRefused() throws {
        XCTAssertThrowsError(try layout("-m 4608").slotMap(chunks: [(host: 0x1000, size: 1 * GiB, name: "pc.ram")]))
    }

    func testOtherArchitectures() throws {
        let arm = try MachineLayout.forMachine(QEMUCommandLine(arguments: ["qemu-system-aarch64", "-M", "virt", "-m", "1G"]))
        XCTAssertEqual(arm.pieces, [MachineLayout.Piece(guest: GuestPhysicalAddress(0x4000_0000), size: GiB, ramOffset: 0)])
        XCTAssertThrowsError(try MachineLayout.forMachine(QEMUCommandLine(arguments: ["qemu-system-ppc64", "-M", "pseries"]))) { error in
            XCTAssertTrue("\(error)".contains("--slots qmp"), "\(error)")
        }
    }
}

final class MapsSlotSourceTests: XCTestCase {
    private func mapping(_ start: UInt64, _ size: UInt64, _ perms: String = "rw-p", path: String = "") -> ProcessMapping {
        ProcessMapping.parse(line: "\(String(start, radix: 16))-\(String(start + size, radix: 16)) \(perms) 00000000 00:00 0 \(path)")!
    }

    func testTheJITBufferIsNotRAM() throws {
        let cl = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-m", "1024"])
        let maps = [mapping(0x5000_0000, 1 << 30, "rwxp"), mapping(0x7f00_0000_0000, 1 << 30), mapping(0x7f80_0000_0000, 16 << 20)]
        let map = try MapsSlotSource.slotMap(commandLine: cl, mappings: maps)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x100000)), 0x7f00_0010_0000)
    }

    func testAmbiguousAndMissingRAMAreRefused() {
        let cl = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-m", "256"])
        XCTAssertThrowsError(try MapsSlotSource.slotMap(commandLine: cl, mappings: [mapping(0x1000_0000, 256 << 20), mapping(0x3000_0000, 256 << 20)])) {
            XCTAssertTrue("\($0)".contains("2 mappings of exactly 256 MiB"), "\($0)")
        }
        XCTAssertThrowsError(try MapsSlotSource.slotMap(commandLine: cl, mappings: [mapping(0x1000_0000, 128 << 20)])) {
            XCTAssertTrue("\($0)".contains("no mapping of exactly 256 MiB"), "\($0)")
        }
    }

    func testMemoryBackendFileIsFoundByPath() throws {
        let cl = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-object", "memory-backend-file,id=ram0,size=256M,mem-path=/dev/shm/g,share=on",
                                             "-machine", "pc,memory-backend=ram0"])
        let maps = [mapping(0x7f00_0000_0000, 256 << 20), mapping(0x7f10_0000_0000, 256 << 20, "rw-s", path: "/dev/shm/g")]
        let map = try MapsSlotSource.slotMap(commandLine: cl, mappings: maps)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x1000)), 0x7f10_0000_1000)
        XCTAssertEqual(map.slots.first?.name, "ram0")
    }
}
