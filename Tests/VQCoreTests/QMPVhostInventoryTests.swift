import Foundation
import VQCore
import XCTest

/// A device whose vhost is started: its rings come from QEMU's vhost state, it is named for its
/// back-end, and QEMU is never asked for its queue state (that would stop a vhost-user ring).
final class QMPVhostInventoryTests: XCTestCase {
    static let disk = "/machine/peripheral/vublk0/virtio-backend"

    func testAVhostUserDeviceIsListedFromItsVhostStateAndNeverAskedForQueueState() throws {
        let seen = Seen()
        let server = try QMPClientTests.FakeServer(greeting: QMPClientTests.greeting) { line in
            seen.add(line)
            guard let request = try? JSON.parse(Array(line.utf8)), let command = request["execute"]?.string else { return nil }
            let arguments = request["arguments"]
            let value: JSON
            switch command {
            case "qmp_capabilities", "query-status": value = .object([])
            case "x-query-virtio": value = .array([.object([("path", .string(Self.disk)), ("name", .string("virtio-blk"))])])
            case "x-query-virtio-status":
                value = .object([
                    ("device-id", .int(2)), ("num-vqs", .int(2)), ("vhost-started", .bool(true)),
                    ("vhost-dev", .object([("vq-index", .int(0)), ("nvqs", .int(1)),
                                           ("protocol-features", .object([("protocols", .array([.string("VHOST_USER_PROTOCOL_F_MQ: ...")]))]))])),
                    ("guest-features", .object([("transports", .array([.string("VIRTIO_F_VERSION_1: ...")]))])),
                ])
            case "x-query-virtio-vhost-queue-status":
                value = .object([("desc-phys", .uint(0x2b8_3000)), ("avail-phys", .uint(0x2b8_3800)), ("used-phys", .uint(0x2b8_3940)),
                                 ("num", .uint(128)), ("desc", .uint(0x7f00_0000_0000)), ("avail", .uint(0x7f00_0000_0800)),
                                 ("used", .uint(0x7f00_0000_0940))])
            case "qom-get":
                value = arguments?["property"]?.string == "type" ? .string("vhost-user-blk") : .int(0x10)
            default:
                return #"{"error": {"class": "GenericError", "desc": "not expected"}}"# + "\r\n"
            }
            return JSON.object([("return", value)]).text + "\r\n"
        }
        let client = try QMPClient(path: server.path, timeoutMilliseconds: 5000)
        let inventory = try QMPVirtioSource.inventory(client: client)
        let device = try XCTUnwrap(inventory.devices.first)
        XCTAssertEqual(device.backend, .vhostUser)
        XCTAssertTrue(device.vhostStarted)
        let queue = try XCTUnwrap(device.queues.first)
        XCTAssertEqual(device.queues.count, 1)
        XCTAssertEqual(queue.backend, .vhostUser)
        XCTAssertNil(queue.deviceState, "QEMU's indexes are stale for a vhost queue")
        XCTAssertEqual(queue.location.descriptors, GuestPhysicalAddress(0x2b8_3000))
        XCTAssertEqual(queue.location.driverArea, GuestPhysicalAddress(0x2b8_3800))
        XCTAssertEqual(queue.location.deviceArea, GuestPhysicalAddress(0x2b8_3940))
        XCTAssertEqual(queue.location.size, 128)
        XCTAssertEqual(queue.vhostMapping, VhostRingMapping(descriptors: 0x7f00_0000_0000, driverArea: 0x7f00_0000_0800, deviceArea: 0x7f00_0000_0940))
        // Queue 1 is outside the vhost device's queues: not asked, said why.
        XCTAssertEqual(inventory.notes.map(\.queue), [1])
        XCTAssertTrue(inventory.notes[0].reason.contains("not sent to a device whose vhost is started"), inventory.notes[0].reason)
        XCTAssertNil(try QMPQueueStatus.deviceState(client: client, queue: queue))
        _ = try client.execute("query-status")  // every request before this one has arrived
        XCTAssertFalse(seen.lines.contains { $0.contains("x-query-virtio-queue-status") }, "QEMU's own queue query was sent")
    }
}
