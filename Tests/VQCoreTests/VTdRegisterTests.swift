import VQCore
import XCTest

/// The DMAR registers: finding their window in QEMU's flat view, reading them with HMP `xp`, decoding them.
final class VTdRegisterTests: XCTestCase {
    /// `info mtree -f` of a QEMU 7.2 q35 guest with `-device intel-iommu,intremap=off` and a
    /// virtio-net-pci with iommu_platform=on, shortened: the system view and one device's view,
    /// which reaches the registers too (through the IOMMU's no-DMAR alias of system memory).
    static let mtree = """
        FlatView #0\r
         AS "memory", root: system\r
         AS "cpu-memory-0", root: system\r
         AS "ich9-lpc", root: bus master container\r
         Root memory region: system\r
          0000000000000000-000000000009ffff (prio 0, ram): pc.ram KVM\r
          00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\r
          00000000000c0000-00000000000dffff (prio 1, rom): pc.rom KVM\r
          00000000000e0000-00000000000fffff (prio 1, rom): isa-bios KVM\r
          0000000000100000-0000000007ffffff (prio 0, ram): pc.ram @0000000000100000 KVM\r
          00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio\r
          00000000fe000000-00000000fe000fff (prio 1, i/o): virtio-pci-common-virtio-net\r
          00000000fe001000-00000000fe001fff (prio 1, i/o): virtio-pci-isr-virtio-net\r
          00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic\r
          00000000fed00000-00000000fed003ff (prio 0, i/o): hpet\r
          00000000fed1c000-00000000fed1ffff (prio 1, i/o): lpc-rcrb-mmio\r
          00000000fed90000-00000000fed9022f (prio 0, i/o): intel_iommu\r
          00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\r
          00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios KVM\r
        \r
        FlatView #1\r
         AS "virtio-net-pci", root: bus master container\r
         Root memory region: bus master container\r
          0000000000000000-000000000009ffff (prio 0, ram): pc.ram KVM\r
          0000000000100000-0000000007ffffff (prio 0, ram): pc.ram @0000000000100000 KVM\r
          00000000fed90000-00000000fed9022f (prio 0, i/o): intel_iommu\r
          00000000fee00000-00000000feefffff (prio 64, i/o): vtd-ir\r
        \r
        """

    func testTheRegisterWindowComesFromTheFlatView() throws {
        let window = try XCTUnwrap(try VTdRegisterWindow.find(inFlatView: Self.mtree))
        XCTAssertEqual(window, VTdRegisterWindow(base: GuestPhysicalAddress(0xFED9_0000), size: 0x230))
        XCTAssertEqual(window.readCommand, "xp /4gx 0xfed90008")
        // A machine without one: no window. Text without a flat view of memory: an error.
        XCTAssertNil(try VTdRegisterWindow.find(inFlatView: FlatViewTests.mtree))
        XCTAssertThrowsError(try VTdRegisterWindow.find(inFlatView: "unknown command: 'info mtre'\r\n"))
        // Elsewhere than 0xfed90000 (another machine's layout): taken from QEMU as it is.
        let moved = "FlatView #0\n AS \"memory\", root: system\n  00000000fe200000-00000000fe20022f (prio 0, i/o): intel_iommu\n"
        XCTAssertEqual(try VTdRegisterWindow.find(inFlatView: moved)?.base, GuestPhysicalAddress(0xFE20_0000))
    }

    func testXPOutput() {
        // QEMU 7.2's `xp /4gx 0xfed90008` over QMP's human-monitor-command: two values a line.
        let text = "00000000fed90008: 0x00d2008c22260206 0x0000000000f00f5e\r\n00000000fed90018: 0xc400000000000000 0x0000000001000000\r\n"
        let words = HMPMemoryDump.parse(text)
        XCTAssertEqual(words, [
            HMPMemoryDump.Word(address: 0xFED9_0008, size: 8, value: 0x00D2_008C_2226_0206),
            HMPMemoryDump.Word(address: 0xFED9_0010, size: 8, value: 0xF0_0F5E),
            HMPMemoryDump.Word(address: 0xFED9_0018, size: 8, value: 0xC400_0000_0000_0000),
            HMPMemoryDump.Word(address: 0xFED9_0020, size: 8, value: 0x100_0000),
        ])
        // Other units, one value a line, and what is not a dump line.
        XCTAssertEqual(HMPMemoryDump.parse("00000000fed9001c: 0xc4000000\n"), [HMPMemoryDump.Word(address: 0xFED9_001C, size: 4, value: 0xC400_0000)])
        XCTAssertEqual(HMPMemoryDump.parse("0000000000001000: 0x01 0x02 0x0\n").map(\.value), [1, 2])
        XCTAssertEqual(HMPMemoryDump.parse("Error: invalid char in expression\r\n\r\nxp: 0x1\n"), [])
        XCTAssertEqual(HMPMemoryDump.parse("ffffffffffffffff: 0x0000000000000001 0x0000000000000002\n").count, 1, "stops at the top of the space")
        XCTAssertEqual(HMPMemoryDump.command(address: 0xFED9_0008, quadWords: 4), "xp /4gx 0xfed90008")
    }

    func testRegistersFromTheDump() throws {
        let window = VTdRegisterWindow(base: GuestPhysicalAddress(0xFED9_0000), size: 0x230)
        let text = "00000000fed90008: 0x00d2008c22260206 0x0000000000f00f5e\r\n00000000fed90018: 0xc400000000000000 0x0000000001000000\r\n"
        let registers = try XCTUnwrap(window.registers(fromDump: text))
        XCTAssertEqual(registers, VTdRegisters(capability: 0x00D2_008C_2226_0206, extendedCapability: 0xF0_0F5E,
                                               globalStatus: 0xC400_0000, rootTableAddress: 0x100_0000))
        XCTAssertTrue(registers.translationEnabled)
        XCTAssertTrue(registers.rootTablePointerSet)
        XCTAssertTrue(registers.supportsPassThrough)
        XCTAssertEqual(registers.hostAddressWidth, 39)
        XCTAssertEqual(registers.supportedLevels, [3])
        XCTAssertEqual(registers.translationTableMode, .legacy)
        XCTAssertEqual(registers.rootTable, GuestPhysicalAddress(0x100_0000))
        // GSTS read on its own as 4 bytes does as well; a dump without RTADDR does not.
        let split = "00000000fed90008: 0x00d2008c22260206\n00000000fed9001c: 0xc4000000\n00000000fed90020: 0x0000000002000400\n"
        let scalable = try XCTUnwrap(window.registers(fromDump: split))
        XCTAssertEqual(scalable.translationTableMode, .scalable)
        XCTAssertEqual(scalable.rootTable, GuestPhysicalAddress(0x200_0000))
        XCTAssertEqual(scalable.extendedCapability, 0)
        XCTAssertNil(window.registers(fromDump: "00000000fed90008: 0x00d2008c22260206 0x0000000000f00f5e\n"))
        // A real Skylake DMAR unit's CAP: 39-bit host width, 4-level tables only.
        let skylake = VTdRegisters(capability: 0x00D2_008C_4066_0462, globalStatus: 0, rootTableAddress: 0xC00)
        XCTAssertEqual(skylake.hostAddressWidth, 39)
        XCTAssertEqual(skylake.supportedLevels, [4])
        XCTAssertFalse(skylake.translationEnabled)
        XCTAssertEqual(skylake.translationTableMode, .abortDMA)
        XCTAssertEqual(VTdRegisters(capability: 0x00D2_008C_222F_0606, globalStatus: 0, rootTableAddress: 0).supportedLevels, [3, 4])
    }
}
