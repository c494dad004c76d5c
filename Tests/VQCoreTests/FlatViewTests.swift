import VQCore
import XCTest

final class FlatViewTests: XCTestCase {
    // As QEMU 7.2 prints it, CRLF line ends included.
    static let mtree = """
        FlatView #0\r
         AS "memory", root: system\r
         AS "cpu-memory-0", root: system\r
         Root memory region: system\r
          0000000000000000-00000000000c2fff (prio 0, ram): pc.ram\r
          00000000000c3000-00000000000e7fff (prio 0, rom): pc.ram @00000000000c3000\r
          0000000000100000-00000000bfffffff (prio 0, ram): pc.ram @0000000000100000 KVM\r
          00000000febf8000-00000000febf8fff (prio 0, i/o): virtio-pci-common-virtio-blk\r
          00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\r
          0000000100000000-000000015fffffff (prio 0, ram): pc.ram @00000000c0000000\r
        \r
        FlatView #1\r
         AS "cpu-smm-0", root: memory\r
         Root memory region: memory\r
          0000000000000000-00000000000c2fff (prio 0, ram): smram\r
        \r
        """

    func testParsesTheMemoryAddressSpace() throws {
        let ranges = try FlatView.parse(Self.mtree)
        XCTAssertEqual(ranges.count, 6)
        XCTAssertEqual(ranges[2], FlatRange(start: 0x100000, last: 0xBFFF_FFFF, priority: 0, kind: "ram", name: "pc.ram", regionOffset: 0x100000))
        XCTAssertEqual(ranges[3].kind, "i/o")
        XCTAssertFalse(ranges[3].isMemory)
        XCTAssertEqual(ranges[5].regionOffset, 0xC000_0000)
        XCTAssertEqual(ranges[5].size, 0x6000_0000)
        XCTAssertFalse(ranges.contains { $0.name == "smram" }, "other address spaces are not mixed in")
    }

    func testOtherAddressSpace() throws {
        XCTAssertEqual(try FlatView.parse(Self.mtree, addressSpace: "cpu-smm-0").map(\.name), ["smram"])
        XCTAssertThrowsError(try FlatView.parse(Self.mtree, addressSpace: "nope"))
        XCTAssertThrowsError(try FlatView.parse("garbage\n\u{0}\u{1}"))
    }

    func testGarbageLinesAreSkipped() throws {
        let text = """
            FlatView #0
             AS "memory", root: system
              zzzz-0000 (prio 0, ram): bad
              0000000000002000-0000000000001000 (prio 0, ram): backwards
              0000000000000000-0000000000000fff (prio x, ram): badprio
              0000000000000000-0000000000000fff (prio 0, ram):
              0000000000000000-0000000000000fff (prio 0, ram): good
            """
        XCTAssertEqual(try FlatView.parse(text).map(\.name), ["good"])
    }

    func testGpa2hvaReplies() {
        XCTAssertEqual(QMPSlotSource.parseHostAddress("Host virtual address for 0x1000 (pc.ram) is 0x7f8ccbe01000\r\n"), 0x7f8c_cbe0_1000)
        XCTAssertNil(QMPSlotSource.parseHostAddress("No memory is mapped at address 0xd0000000\r\n"))
        XCTAssertNil(QMPSlotSource.parseHostAddress("Memory at address 0xfebf8000 is not RAM\r\n"))
        XCTAssertNil(QMPSlotSource.parseHostAddress(""))
    }
}
