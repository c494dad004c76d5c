import VQCore
import XCTest

/// The seam: each device's rings read through the memory it reaches by DMA.
final class DMAMemoryTests: XCTestCase {
    private func device(_ features: VirtioFeatures, pci: String? = "00:03.0") -> VirtioDevice {
        VirtioDevice(name: "virtio-blk", path: "/machine/peripheral-anon/device[0]/virtio-backend", pciAddress: pci,
                     deviceID: 2, features: features)
    }

    func testOnlyDevicesBehindTheIOMMUGetAnotherView() throws {
        var t = VTdTestTables()
        let blk = PCIAddress(bus: 0, device: 3, function: 0)!
        let top = t.attach(blk, levels: 4)
        t.map(0xFFFF_F000, to: 0x7000, top: top, levels: 4)
        var dma = DMAMemory(guest: t.memory, iommu: MachineIOMMU(kind: .intel), registers: t.registers())
        // Without ACCESS_PLATFORM: guest memory, as today.
        XCTAssertEqual(try dma.memory(for: device([.version1])).map, t.memory.map)
        // With it: the device's view, keyed by IOVA, built once per refresh.
        let view = try dma.memory(for: device([.version1, .accessPlatform]))
        XCTAssertEqual(view.map.slots.map(\.guest), [GuestPhysicalAddress(0xFFFF_F000)])
        XCTAssertEqual(dma.problems(for: blk), [])
        // No IOMMU on the machine: guest memory even with ACCESS_PLATFORM.
        var none = DMAMemory(guest: t.memory, iommu: nil)
        XCTAssertEqual(try none.memory(for: device([.version1, .accessPlatform])).map, t.memory.map)
        // What cannot be translated says why.
        var unread = DMAMemory(guest: t.memory, iommu: MachineIOMMU(kind: .intel))
        XCTAssertThrowsError(try unread.memory(for: device([.accessPlatform]))) { error in
            XCTAssertTrue("\(error)".contains("registers were not read"), "\(error)")
        }
        XCTAssertThrowsError(try dma.memory(for: device([.accessPlatform], pci: nil)))
        var amd = DMAMemory(guest: t.memory, iommu: MachineIOMMU(kind: .amd))
        XCTAssertThrowsError(try amd.memory(for: device([.accessPlatform]))) { error in
            XCTAssertTrue("\(error)".contains("AMD"), "\(error)")
        }
        XCTAssertThrowsError(try dma.memory(for: device([.accessPlatform], pci: "00:05.0"))) { error in
            XCTAssertEqual(error as? IOMMUTranslationError, .contextNotPresent(PCIAddress(bus: 0, devfn: 0x28)))
        }
    }

    func testAnUnmappedIOVAIsANamedProblemAndEachAddressKeepsItsGuestPhysicalOne() throws {
        var t = VTdTestTables()
        let blk = PCIAddress(bus: 0, device: 3, function: 0)!
        let top = t.attach(blk, levels: 4)
        t.map(0xFFFF_F000, to: 0x7000, top: top, levels: 4)
        var dma = DMAMemory(guest: t.memory, iommu: MachineIOMMU(kind: .intel), registers: t.registers())
        let ring = try dma.ringMemory(for: device([.version1, .accessPlatform]))
        XCTAssertEqual(ring.addressing, .iova(.intel))
        XCTAssertEqual(ring.guestPhysical(of: GuestPhysicalAddress(0xFFFF_F010)), GuestPhysicalAddress(0x7010))
        XCTAssertNil(ring.guestPhysical(of: GuestPhysicalAddress(0xFFFF_E000)))
        XCTAssertTrue(ring.memory.map.isIOVA)
        // A buffer at a mapped IOVA reads fine; one at an unmapped IOVA is iova_unmapped, never read.
        let table = [Descriptor(address: GuestPhysicalAddress(0xFFFF_F100), length: 16, flags: [.next], next: 1),
                     Descriptor(address: GuestPhysicalAddress(0xFFFF_E000), length: 16, flags: [], next: 0)]
        let chain = Chain.split(head: 0, table: table, map: ring.memory.map)
        XCTAssertEqual(chain.problems.map(\.code), ["iova_unmapped"])
        XCTAssertTrue(chain.problems[0].message.contains("I/O virtual address 0xffffe000"), chain.problems[0].message)
        // Guest-physical addressing: every address is its own guest-physical one.
        XCTAssertEqual(RingMemory(guest: t.memory).guestPhysical(of: GuestPhysicalAddress(0x1234)), GuestPhysicalAddress(0x1234))
    }

    func testADeviceBehindABridgeIsNotLookedUpOnBusZero() throws {
        var t = VTdTestTables()
        let blk = PCIAddress(bus: 0, device: 3, function: 0)!
        let top = t.attach(blk, levels: 4)
        t.map(0xFFFF_F000, to: 0x7000, top: top, levels: 4)
        var dma = DMAMemory(guest: t.memory, iommu: MachineIOMMU(kind: .intel), registers: t.registers())
        let d = device([.version1, .accessPlatform])
        dma.buses[d.path] = "/machine/q35/pcie.0"
        XCTAssertEqual(try dma.ringMemory(for: d).addressing, .iova(.intel))
        dma.buses[d.path] = "/machine/peripheral/rp1/pcie.1"
        XCTAssertThrowsError(try dma.ringMemory(for: d)) { XCTAssertTrue("\($0)".contains("behind a bridge"), "\($0)") }
        XCTAssertTrue(QMPVirtioSource.isRootBus("/machine/i440fx/pci.0"))
        XCTAssertFalse(QMPVirtioSource.isRootBus("/machine/peripheral-anon/device[3]/pci.1"))
    }

    func testPinnedPagesOutliveTheGuestsUnmappingWhileTheirBufferIsInFlight() throws {
        var t = VTdTestTables()
        let blk = PCIAddress(bus: 0, device: 3, function: 0)!
        let top = t.attach(blk, levels: 4)
        t.map(0xFFFF_F000, to: 0x7000, top: top, levels: 4)
        var dma = DMAMemory(guest: t.memory, iommu: MachineIOMMU(kind: .intel), registers: t.registers())
        let mapped = try dma.ringMemory(for: device([.version1, .accessPlatform]))
        let chain = Chain.split(head: 0, table: [Descriptor(address: GuestPhysicalAddress(0xFFFF_F100), length: 16)], map: mapped.memory.map)
        var pins = IOVAPins()
        pins.update([chain], through: mapped)
        XCTAssertEqual(pins.count, 1)
        // The guest unmapped it: the walk no longer has the page, the pin still reads it where it was.
        var none = SlotMap.empty
        none.isIOVA = true
        let unmapped = RingMemory(memory: GuestMemory(map: none, reader: t.memory.reader), addressing: .iova(.intel), runs: [], problems: [])
        let view = pins.memory(unmapped, guest: t.memory)
        XCTAssertEqual(view.map.hostAddress(of: GuestPhysicalAddress(0xFFFF_F100)), t.memory.map.hostAddress(of: GuestPhysicalAddress(0x7100)))
        XCTAssertNil(view.map.hostAddress(of: GuestPhysicalAddress(0xFFFF_E000)))
        pins.update([chain], through: unmapped)
        XCTAssertEqual(pins.count, 1, "kept while the buffer is in flight")
        pins.update([], through: unmapped)
        XCTAssertEqual(pins.count, 0, "dropped once it is not")
    }

    func testRegistersReadThroughQMP() throws {
        @Sendable func reply(_ text: String, id: Int) -> String { #"{"return": "# + JSON.string(text).text + #", "id": \#(id)}"# + "\r\n" }
        let server = try QMPClientTests.FakeServer(greeting: QMPClientTests.greeting) { line in
            if line.contains("qmp_capabilities") { return #"{"return": {}, "id": 1}"# + "\r\n" }
            if line.contains("info mtree -f") { return reply(VTdRegisterTests.mtree, id: 2) }
            if line.contains("xp /4gx 0xfed90008") {
                return reply("00000000fed90008: 0x00d2008c22260206 0x0000000000f00f5e\r\n00000000fed90018: 0xc400000000000000 0x0000000001000000\r\n", id: 3)
            }
            return #"{"error": {"class": "GenericError", "desc": "unexpected"}}"# + "\r\n"
        }
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 2000)
        let registers = try XCTUnwrap(try VTdRegisters.read(through: client))
        XCTAssertEqual(registers.rootTable, GuestPhysicalAddress(0x100_0000))
        XCTAssertTrue(registers.translationEnabled)
    }
}
