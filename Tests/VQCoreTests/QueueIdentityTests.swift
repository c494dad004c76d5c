import VQCore
import XCTest

/// A queue's identity, its origin and the accelerator's name: the types that replaced strings and
/// array positions.
final class QueueIdentityTests: XCTestCase {
    private let location = VirtqueueLocation(layout: .split, size: 16, descriptors: GuestPhysicalAddress(0x1000),
                                             driverArea: GuestPhysicalAddress(0x1100), deviceArea: GuestPhysicalAddress(0x1200))

    func testQueuesOfSameNamedDevicesAreToldApartByPath() {
        let a = Virtqueue(device: "virtio-net", path: "/machine/peripheral/net0/virtio-backend", index: 0, location: location)
        let b = Virtqueue(device: "virtio-net", path: "/machine/peripheral/net1/virtio-backend", index: 0, location: location)
        XCTAssertNotEqual(a.id, b.id)
        XCTAssertEqual([a, b].firstIndex(of: b.id), 1)
        XCTAssertEqual([a, b].first(a.id)?.path, a.path)
        XCTAssertNil([a].first(b.id))
    }

    func testScannedQueuesHaveTheScanOriginAndNamesForIdentity() {
        let list = QueueList.scanned([], note: nil)
        XCTAssertTrue(list.queues.isEmpty)
        let rx = Virtqueue(device: "virtio-net-rx", path: "", index: 0, location: location, origin: .scan)
        let tx = Virtqueue(device: "virtio-net-tx", path: "", index: 0, location: location, origin: .scan)
        XCTAssertNotEqual(rx.id, tx.id)
        XCTAssertEqual(rx.id.description, "virtio-net-rx:0")
        XCTAssertNil(QueueList(source: .scan, devices: []).path(of: rx))
        XCTAssertEqual(Virtqueue(device: "virtio-blk", path: "/p", index: 0, location: location).origin, .qmp)
    }

    func testAcceleratorNames() {
        XCTAssertEqual(Accelerator(name: "kvm"), .kvm)
        XCTAssertEqual(Accelerator(name: "tcg"), .tcg)
        XCTAssertEqual(Accelerator(name: "xen"), .other("xen"))
        XCTAssertEqual([Accelerator.kvm, .tcg, .simulated, .other("hvf")].map(\.description), ["kvm", "tcg", "sim", "hvf"])
    }
}
