import VQCore
import XCTest

/// Queues of two devices with the same name (a keyboard and a tablet are both `virtio-input`) are
/// told apart everywhere by the device's `id=`, else its PCI address, and `--queue` takes the label.
final class DeviceLabelTests: XCTestCase {
    private func location(_ descriptors: UInt64) -> VirtqueueLocation {
        VirtqueueLocation(layout: .split, size: 64, descriptors: GuestPhysicalAddress(descriptors),
                          driverArea: GuestPhysicalAddress(descriptors + 0x400), deviceArea: GuestPhysicalAddress(descriptors + 0x600),
                          features: [.version1])
    }

    private func device(_ name: String, path: String, id: String?, pci: String?, at descriptors: UInt64) -> VirtioDevice {
        VirtioDevice(name: name, path: path, id: id, pciAddress: pci, deviceID: 18, features: [.version1],
                     queues: [0, 1].map { Virtqueue(device: name, path: path, index: $0, location: location(descriptors + UInt64($0) * 0x1000)) })
    }

    private var devices: [VirtioDevice] {
        [device("virtio-input", path: "/machine/peripheral/kbd0/virtio-backend", id: "kbd0", pci: "00:05.0", at: 0x10000),
         device("virtio-input", path: "/machine/peripheral-anon/device[3]/virtio-backend", id: nil, pci: "00:06.0", at: 0x20000),
         device("virtio-blk", path: "/machine/peripheral-anon/device[0]/virtio-backend", id: nil, pci: "00:04.0", at: 0x30000)]
    }

    func testRepeatedNamesAreLabelledByIdElsePCIAddress() {
        let list = QueueList(source: .qmp, devices: devices)
        XCTAssertEqual(list.queues.map(\.label), ["virtio-input[kbd0]:0", "virtio-input[kbd0]:1",
                                                   "virtio-input@00:06.0:0", "virtio-input@00:06.0:1",
                                                   "virtio-blk:0"] + ["virtio-blk:1"])
        XCTAssertEqual(list.queues.map(\.shownDevice).last, "virtio-blk")
        XCTAssertEqual(list.queues.first?.device, "virtio-input", "the device name itself is unchanged")
        // Without an id or a PCI address: the QOM path.
        var bare = devices
        bare[1].pciAddress = nil
        XCTAssertEqual(QueueList(source: .qmp, devices: bare).queues[2].label,
                       "virtio-input[/machine/peripheral-anon/device[3]/virtio-backend]:0")
    }

    func testQueueAcceptsWhatIsShown() throws {
        let list = QueueList(source: .qmp, devices: devices)
        for q in list.queues {
            let selector = try XCTUnwrap(QueueSelector(q.label), q.label)
            let chosen = try selector.select(from: list.devices)
            XCTAssertEqual(chosen.path, q.path, q.label)
            XCTAssertEqual(chosen.index, q.index, q.label)
            XCTAssertEqual(chosen.label, q.label)
        }
        // The bare name of a repeated device is refused, naming the labels to use.
        XCTAssertThrowsError(try QueueSelector("virtio-input:0")!.select(from: list.devices)) { error in
            XCTAssertTrue("\(error)".contains("virtio-input[kbd0], virtio-input@00:06.0"), "\(error)")
        }
        // The other forms still work.
        XCTAssertEqual(try QueueSelector("kbd0:1")!.select(from: list.devices).label, "virtio-input[kbd0]:1")
        XCTAssertEqual(try QueueSelector("00:06.0:0")!.select(from: list.devices).label, "virtio-input@00:06.0:0")
        XCTAssertEqual(try QueueSelector("virtio-input@00:05.0:0")!.select(from: list.devices).label, "virtio-input[kbd0]:0")
    }
}
