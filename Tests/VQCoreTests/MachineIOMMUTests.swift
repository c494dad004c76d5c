import VQCore
import XCTest

/// Knowing when a device's addresses are IOVAs: the machine's IOMMU from QEMU's command line, the
/// device's features, its PCI address.
final class MachineIOMMUTests: XCTestCase {
    private func commandLine(_ line: String) -> QEMUCommandLine {
        QEMUCommandLine(arguments: line.split(separator: " ").map(String.init))
    }

    func testTheIOMMUOnTheCommandLine() throws {
        let intel = try XCTUnwrap(MachineIOMMU(commandLine: commandLine(
            "qemu-system-x86_64 -machine q35,accel=kvm -device intel-iommu,intremap=off,aw-bits=48 -device virtio-net-pci,disable-legacy=on,iommu_platform=on")))
        XCTAssertEqual(intel.kind, .intel)
        XCTAssertEqual(intel.options["aw-bits"], "48")
        XCTAssertEqual(intel.options["intremap"], "off")
        XCTAssertFalse(intel.defaultBusBypassesIOMMU)
        XCTAssertEqual(MachineIOMMU(commandLine: commandLine("qemu-system-x86_64 -M q35 --device amd-iommu"))?.kind, .amd)
        XCTAssertEqual(MachineIOMMU(commandLine: commandLine("qemu-system-x86_64 -M q35 -device virtio-iommu-pci"))?.kind, .virtio)
        XCTAssertEqual(MachineIOMMU(commandLine: commandLine("qemu-system-aarch64 -machine virt,iommu=smmuv3"))?.kind, .smmuv3)
        XCTAssertEqual(MachineIOMMU(commandLine: commandLine("qemu-system-x86_64 -machine q35,iommu=on"))?.kind, .intel)
        XCTAssertNil(MachineIOMMU(commandLine: commandLine("qemu-system-x86_64 -machine q35 -device virtio-blk-pci,drive=d -name intel-iommu")))
        XCTAssertNil(MachineIOMMU(commandLine: commandLine("qemu-system-x86_64 -machine virt,iommu=none")))
        // QEMU 7.2 spells the property with dashes (`-machine q35,help`); the underscores are older.
        let bypass = try XCTUnwrap(MachineIOMMU(commandLine: commandLine("qemu-system-x86_64 -machine q35,default-bus-bypass-iommu=on -device intel-iommu")))
        XCTAssertTrue(bypass.defaultBusBypassesIOMMU)
        XCTAssertEqual(MachineIOMMU(commandLine: commandLine("qemu-system-x86_64 -machine q35,default_bus_bypass_iommu=true -device intel-iommu"))?
            .defaultBusBypassesIOMMU, true)
        XCTAssertTrue(intel.translatesDMA)
        let interruptsOnly = try XCTUnwrap(MachineIOMMU(commandLine: commandLine("qemu-system-x86_64 -M q35 -device intel-iommu,dma-translation=off")))
        XCTAssertFalse(interruptsOnly.translatesDMA)
        // libvirt writes devices in JSON.
        let libvirt = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-machine", "pc-q35-7.2,usb=off",
                                                  "-device", #"{"driver":"intel-iommu","id":"iommu0","intremap":"on","caching-mode":true}"#])
        let fromJSON = try XCTUnwrap(MachineIOMMU(commandLine: libvirt))
        XCTAssertEqual(fromJSON.kind, .intel)
        XCTAssertEqual(fromJSON.options["caching-mode"], "on")
        XCTAssertEqual(fromJSON.options["id"], "iommu0")
    }

    func testWhenAddressesAreIOVAs() {
        let intel = MachineIOMMU(kind: .intel)
        let modern: VirtioFeatures = [.version1, .eventIndex]
        XCTAssertEqual(VirtioFeatures.accessPlatform.rawValue, 1 << 33)
        XCTAssertEqual(DeviceAddressing(features: modern.union(.accessPlatform), iommu: intel), .iova(.intel))
        XCTAssertTrue(DeviceAddressing(features: modern.union(.accessPlatform), iommu: intel).isIOVA)
        guard case let .guestPhysical(reason) = DeviceAddressing(features: modern, iommu: intel) else { return XCTFail() }
        XCTAssertTrue(reason.contains("ACCESS_PLATFORM"), reason)
        XCTAssertFalse(DeviceAddressing(features: modern.union(.accessPlatform), iommu: nil).isIOVA)
        XCTAssertFalse(DeviceAddressing(features: modern.union(.accessPlatform),
                                        iommu: MachineIOMMU(kind: .intel, defaultBusBypassesIOMMU: true)).isIOVA)
        let interruptsOnly = MachineIOMMU(kind: .intel, options: QEMUOptions("intel-iommu,dma-translation=off", impliedKey: "driver"))
        guard case let .guestPhysical(why) = DeviceAddressing(features: modern.union(.accessPlatform), iommu: interruptsOnly) else { return XCTFail() }
        XCTAssertTrue(why.contains("dma-translation=off"), why)
        for kind in [VirtualIOMMU.amd, .virtio, .smmuv3] {
            guard case let .untranslatableIOVA(error) = DeviceAddressing(features: modern.union(.accessPlatform), iommu: MachineIOMMU(kind: kind)) else {
                return XCTFail("\(kind)")
            }
            XCTAssertTrue(error.description.contains("cannot translate"), error.description)
            XCTAssertFalse(error.description.contains("\n"))
        }
    }

    func testPCIAddresses() {
        XCTAssertEqual(PCIAddress("00:04.0"), PCIAddress(bus: 0, devfn: 0x20))
        XCTAssertEqual(PCIAddress("0000:01:1f.7"), PCIAddress(bus: 1, devfn: 0xFF))
        XCTAssertEqual(PCIAddress("0000:01:1f.7")?.description, "01:1f.7")
        XCTAssertEqual(PCIAddress(bus: 0x10, devfn: 0x18).requesterID, 0x1018)
        for bad in ["", "04.0", "00:20.0", "00:04.8", "0001:00:04.0", "00:04", "000:04.0", "00:04.0x"] {
            XCTAssertNil(PCIAddress(bad), bad)
        }
        XCTAssertNil(PCIAddress(bus: 0, device: 32, function: 0))
    }
}
