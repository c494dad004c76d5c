import VQCore
import XCTest

final class QueueRoleTests: XCTestCase {
    func testDeviceTypesFromQEMUNames() {
        XCTAssertEqual(VirtioDeviceType(name: "virtio-net"), .network)
        XCTAssertEqual(VirtioDeviceType(name: "vhost-user-blk"), .block)
        XCTAssertEqual(VirtioDeviceType(name: "virtio-serial"), .console)
        XCTAssertEqual(VirtioDeviceType(name: "vhost-vsock"), .socket)
        XCTAssertEqual(VirtioDeviceType(name: "virtio-net-rx"), .network)
        XCTAssertEqual(VirtioDeviceType(name: "vhost-user-fs"), .fileSystem)
        XCTAssertEqual(VirtioDeviceType(name: "virtio-user-fs"), .fileSystem, "QEMU 7.2's name for virtio-fs")
        XCTAssertEqual(VirtioDeviceType(name: "virtio-9p"), .ninePTransport)
        XCTAssertEqual(VirtioDeviceType(name: "virtio-input"), .input)
        XCTAssertNil(VirtioDeviceType(name: "virtio-foo"))
        XCTAssertNil(VirtioDeviceType(name: "e1000"))
    }

    func testNetworkQueues() {
        func role(_ index: Int, _ count: Int?) -> QueueRole { QueueRole(type: .network, index: index, queueCount: count) }
        XCTAssertEqual(role(0, 3), QueueRole(flow: .receive, name: "rx", keptFilled: true))
        XCTAssertEqual(role(1, 3), QueueRole(flow: .requests, name: "tx"))
        XCTAssertEqual(role(2, 3), QueueRole(flow: .requests, name: "ctrl"))
        XCTAssertEqual(role(2, 5).name, "rx 1")
        XCTAssertEqual(role(3, 5).name, "tx 1")
        XCTAssertEqual(role(4, 5).name, "ctrl")
        XCTAssertEqual(role(2, 4), QueueRole(flow: .receive, name: "rx 1", keptFilled: true), "no control queue")
        XCTAssertEqual(role(2, nil).flow, .unknown, "rx of pair 1, or the control queue")
        XCTAssertEqual(QueueRole(deviceName: "virtio-net-rx", index: 0).flow, .receive)
        XCTAssertEqual(QueueRole(deviceName: "virtio-net-ctrl", index: 0).flow, .requests)
    }

    func testOtherDevices() {
        XCTAssertEqual(QueueRole(type: .block, index: 3).flow, .requests)
        XCTAssertEqual(QueueRole(type: .console, index: 0), QueueRole(flow: .receive, name: "port 0 rx"))
        XCTAssertEqual(QueueRole(type: .console, index: 1), QueueRole(flow: .requests, name: "port 0 tx"))
        XCTAssertEqual(QueueRole(type: .console, index: 2), QueueRole(flow: .receive, name: "control rx", keptFilled: true))
        XCTAssertEqual(QueueRole(type: .console, index: 3), QueueRole(flow: .requests, name: "control tx"))
        XCTAssertEqual(QueueRole(type: .console, index: 4), QueueRole(flow: .receive, name: "port 1 rx"))
        XCTAssertEqual(QueueRole(type: .console, index: 63), QueueRole(flow: .requests, name: "port 30 tx"))
        XCTAssertEqual(QueueRole(type: .entropy, index: 0).flow, .receive)
        XCTAssertEqual(QueueRole(type: .balloon, index: 2).flow, .receive)
        XCTAssertEqual(QueueRole(type: .balloon, index: 0).name, "inflate")
        XCTAssertEqual(QueueRole(type: .scsi, index: 1).flow, .receive)
        XCTAssertEqual(QueueRole(type: .scsi, index: 2).flow, .requests)
        XCTAssertEqual(QueueRole(type: .input, index: 0).flow, .receive)
        XCTAssertEqual(QueueRole(type: .socket, index: 1).flow, .requests)
        XCTAssertEqual(QueueRole(type: .socket, index: 2).name, "events")
        XCTAssertEqual(QueueRole(type: nil, index: 0), .unknown)
    }

    func testRoleFromAQMPDevice() {
        let location = VirtqueueLocation(layout: .split, size: 256, descriptors: GuestPhysicalAddress(0x1000),
                                         driverArea: GuestPhysicalAddress(0x2000), deviceArea: GuestPhysicalAddress(0x3000))
        let queues = (0..<3).map { Virtqueue(device: "virtio-net", path: "/net", index: $0, location: location) }
        let device = VirtioDevice(name: "virtio-net", path: "/net", deviceID: 1, features: [], queues: queues)
        XCTAssertEqual(QueueRole(device: device, queue: queues[2]).name, "ctrl")
        XCTAssertEqual(QueueRole(device: device, queue: queues[0]).name, "rx")
    }
}
