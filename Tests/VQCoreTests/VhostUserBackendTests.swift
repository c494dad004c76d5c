import VQCore
import XCTest

/// A back-end's slot map from QEMU's and the back-end's mappings of the same shared file, and the
/// QEMU a back-end belongs to.
final class VhostUserBackendTests: XCTestCase {
    func mapping(_ line: String) -> ProcessMapping { ProcessMapping.parse(line: line)! }

    let qemuMappings = [
        "7f2bbffff000-7f2bcffff000 rw-s 00000000 00:01 1087 /memfd:memory-backend-memfd (deleted)",
        "7f2bd0000000-7f2bd0040000 r--p 00000000 00:00 0",
        "7f2be0000000-7f2be0020000 rw-p 00000000 00:00 0",
    ]

    /// QEMU's map of a 256 MiB memfd guest: RAM below and above the VGA hole, a ROM in a private mapping.
    func qemuMap() throws -> SlotMap {
        let base: UInt64 = 0x7f2b_bfff_f000
        return try SlotMap(slots: [
            MemorySlot(guest: GuestPhysicalAddress(0), size: 0xa0000, host: base, name: "ram0"),
            MemorySlot(guest: GuestPhysicalAddress(0x100000), size: 0xff0_0000, host: base + 0x100000, name: "ram0"),
            MemorySlot(guest: GuestPhysicalAddress(0xfffc_0000), size: 0x40000, host: 0x7f2b_d000_0000, name: "pc.bios", kind: .rom),
        ], holes: [MemoryHole(guest: GuestPhysicalAddress(0xa0000), size: 0x20000, name: "vga")])
    }

    func testTheBackendSeesTheSameOffsetsAtItsOwnAddresses() throws {
        let backend = [mapping("7f9c18000000-7f9c28000000 rw-s 00000000 00:01 1087 /memfd:memory-backend-memfd (deleted)")]
        let map = try VhostUserBackend.slotMap(qemu: try qemuMap(), qemuMappings: qemuMappings.map(mapping), backendMappings: backend)
        XCTAssertEqual(map.slots.map(\.guest.rawValue), [0, 0x100000])
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x1234)), 0x7f9c_1800_1234)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x2b8_3000)), 0x7f9c_1800_0000 + 0x2b8_3000)
        XCTAssertNil(map.hostAddress(of: GuestPhysicalAddress(0xfffc_0000)), "the BIOS is not in shared memory")
        XCTAssertTrue(map.reasonUnmapped(GuestPhysicalAddress(0xfffc_0000)).contains("pc.bios (not in shared memory)"),
                      map.reasonUnmapped(GuestPhysicalAddress(0xfffc_0000)))
    }

    /// A back-end that maps the file in two pieces at other offsets (as DPDK maps each region), and
    /// not the part QEMU uses below 1 MiB.
    func testPiecesAndWhatTheBackendDoesNotMap() throws {
        let backend = [
            mapping("7f0000100000-7f0008000000 rw-s 00100000 00:01 1087 /memfd:memory-backend-memfd (deleted)"),
            mapping("7f0010000000-7f0018000000 rw-s 08000000 00:01 1087 /memfd:memory-backend-memfd (deleted)"),
            mapping("7f0020000000-7f0030000000 rw-s 00000000 00:01 9999 /memfd:other (deleted)"),
        ]
        let map = try VhostUserBackend.slotMap(qemu: try qemuMap(), qemuMappings: qemuMappings.map(mapping), backendMappings: backend)
        XCTAssertNil(map.hostAddress(of: GuestPhysicalAddress(0x1000)))
        XCTAssertTrue(map.reasonUnmapped(GuestPhysicalAddress(0x1000)).contains("not mapped by the back-end"))
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x100000)), 0x7f00_0010_0000)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x7ff_ffff)), 0x7f00_07ff_ffff)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x800_0000)), 0x7f00_1000_0000, "the second piece")
        XCTAssertEqual(map.slots.count, 2)
    }

    func testABackendThatMapsNoneOfItIsRefused() throws {
        let backend = [mapping("7f0020000000-7f0030000000 rw-s 00000000 00:01 9999 /memfd:other (deleted)")]
        XCTAssertThrowsError(try VhostUserBackend.slotMap(qemu: try qemuMap(), qemuMappings: qemuMappings.map(mapping), backendMappings: backend))
    }

    func testTheQEMUIsTheOneSharingAFile() {
        let backend = [mapping("7f9c18000000-7f9c28000000 rw-s 00000000 00:01 1087 /memfd:memory-backend-memfd (deleted)"),
                       mapping("7f9c30000000-7f9c30001000 rw-s 00000000 00:05 12 /dev/zero (deleted)")]
        let other = [mapping("7f0000000000-7f0010000000 rw-s 00000000 00:01 2000 /memfd:memory-backend-memfd (deleted)")]
        let candidates = [(pid: Int32(10), mappings: other), (pid: Int32(20), mappings: qemuMappings.map(mapping))]
        XCTAssertEqual(VhostUserBackend.qemu(sharingWith: backend, candidates: candidates), 20)
        XCTAssertNil(VhostUserBackend.qemu(sharingWith: [mapping("7f0000000000-7f0000001000 rw-p 00000000 00:00 0")], candidates: candidates),
                     "private memory shares nothing")
        XCTAssertNil(VhostUserBackend.qemu(sharingWith: backend, candidates: [(pid: 10, mappings: other)]))
    }
}
