import Foundation
import VQCore
import XCTest

/// The device list from scripted QMP answers: what QEMU says of a queue or a device that cannot be
/// used is left out of the list and said in the inventory's notes, never dropped silently.
final class QMPVirtioSourceTests: XCTestCase {
    static let blk = "/machine/peripheral-anon/device[0]/virtio-backend"
    static let rng = "/machine/peripheral/rng0/virtio-backend"

    /// A client of a QMP server for two devices: virtio-blk (`blkStatus`: its status reply, else an
    /// honest one; `blkQueues`: its queues' status replies, by index) and virtio-rng (one honest
    /// queue); `list` replaces the device list.
    func client(blkStatus: JSON? = nil, blkQueues: [JSON], list: JSON? = nil) throws -> QMPClient {
        let devices = list ?? .array([
            .object([("path", .string(Self.rng)), ("name", .string("virtio-rng"))]),
            .object([("path", .string(Self.blk)), ("name", .string("virtio-blk"))]),
        ])
        let server = try QMPClientTests.FakeServer(greeting: QMPClientTests.greeting) { line in
            guard let request = try? JSON.parse(Array(line.utf8)), let command = request["execute"]?.string else { return nil }
            let path = request["arguments"]?["path"]?.string ?? ""
            let value: JSON
            switch command {
            case "qmp_capabilities": value = .object([])
            case "x-query-virtio": value = devices
            case "x-query-virtio-status":
                value = path == Self.blk
                    ? blkStatus ?? Self.status(deviceID: 2, queues: blkQueues.count)
                    : Self.status(deviceID: 4, queues: 1)
            case "x-query-virtio-queue-status":
                let index = request["arguments"]?["queue"]?.int ?? 0
                value = path == Self.blk ? blkQueues[index] : Self.queue(desc: 0x20_0000, num: 8)
            case "qom-get":
                value = .int(path.contains("rng0") ? 0x20 : 0x18)
            default:
                return #"{"error": {"class": "CommandNotFound", "desc": "no"}}"# + "\r\n"
            }
            // No id: the client takes a reply without one as the answer to its request.
            return JSON.object([("return", value)]).text + "\r\n"
        }
        return try QMPClient(path: server.path, timeoutMilliseconds: 5000)
    }

    static func status(deviceID: Int, queues: Int) -> JSON {
        .object([("device-id", .int(Int64(deviceID))), ("num-vqs", .int(Int64(queues))),
                 ("guest-features", .object([("transports", .array([.string("VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)")]))])),
                 ("status", .object([("statuses", .array([.string("VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready")]))]))])
    }

    static func queue(desc: UInt64, num: UInt64?) -> JSON {
        var fields: [(String, JSON)] = [("vring-desc", .uint(desc)), ("vring-avail", .uint(desc + 0x1000)), ("vring-used", .uint(desc + 0x2000)),
                                        ("last-avail-idx", .int(3)), ("shadow-avail-idx", .int(3)), ("used-idx", .int(3)), ("inuse", .int(0))]
        if let num { fields.append(("vring-num", .uint(num))) }
        return .object(fields)
    }

    func testBalloonAndSCSIFeatureNamesGiveTheirBits() {
        let balloon = JSON.object([("dev-features", .array([
            .string("VIRTIO_BALLOON_F_STATS_VQ: Guest reporting of memory stats"),
            .string("VIRTIO_BALLOON_F_FREE_PAGE_HINT: VQ to report free pages to host"),
            .string("VIRTIO_BALLOON_F_REPORTING: Page reporting VQ enabled"),
            .string("VIRTIO_BALLOON_F_DEFLATE_ON_OOM: Deflate balloon on guest OOM"),
        ])), ("transports", .array([.string("VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)")]))])
        let features = QMPVirtioSource.parseFeatures(balloon)
        XCTAssertEqual(features, [.version1, .balloonStatistics, .balloonFreePageHint, .balloonReporting])
        // With them, the balloon's queues are numbered inflate, deflate, stats, free page hints, reporting.
        XCTAssertEqual((0..<5).map { VirtioBalloonMessage.Queue(index: $0, features: features) },
                       [.inflate, .deflate, .statistics, .freePageHints, .reporting])
        // Statistics alone: stats is queue 2; reporting alone: queue 2 is reporting.
        XCTAssertEqual(VirtioBalloonMessage.Queue(index: 2, features: [.version1, .balloonReporting]), .reporting)
        let scsi = JSON.object([("dev-features", .array([.string("VIRTIO_SCSI_F_T10_PI: T10 PI (protection information)")]))])
        XCTAssertEqual(QMPVirtioSource.parseFeatures(scsi), .scsiProtectionInformation)
    }

    func testHonestAnswersGiveEveryActiveQueueAndNoNote() throws {
        let client = try self.client(blkQueues: [Self.queue(desc: 0x10_0000, num: 256), Self.queue(desc: 0, num: 256)])
        let inventory = try QMPVirtioSource.inventory(client: client)
        XCTAssertEqual(inventory.notes, [])
        XCTAssertEqual(inventory.devices.map(\.name), ["virtio-blk", "virtio-rng"])  // PCI order: 00:03.0, 00:04.0
        XCTAssertEqual(inventory.devices[0].pciAddress, "00:03.0")
        XCTAssertEqual(inventory.devices[0].queues.map(\.index), [0], "the queue without a ring is inactive, not a note")
        XCTAssertEqual(inventory.devices[0].queues[0].location.size, 256)
        XCTAssertEqual(inventory.devices[1].queues.count, 1)
    }

    /// Sizes virtio does not allow, with a ring address: the queue is left out and noted with
    /// QEMU's answer; the device's other queues are kept.
    func testImpossibleQueueSizesAreNoted() throws {
        let client = try self.client(blkQueues: [
            Self.queue(desc: 0x10_0000, num: 0), Self.queue(desc: 0x11_0000, num: 65536),
            Self.queue(desc: 0x12_0000, num: nil), Self.queue(desc: 0x13_0000, num: 32768),
            Self.queue(desc: 0, num: 0),
        ])
        let inventory = try QMPVirtioSource.inventory(client: client)
        let blk = try XCTUnwrap(inventory.devices.first { $0.name == "virtio-blk" })
        XCTAssertEqual(blk.queues.map(\.index), [3], "only the queue of 32768 entries is usable")
        XCTAssertEqual(inventory.notes.map(\.label), ["virtio-blk:0", "virtio-blk:1", "virtio-blk:2"])
        XCTAssertTrue(inventory.notes.allSatisfy { $0.path == Self.blk })
        XCTAssertEqual(inventory.notes[0].reason, "x-query-virtio-queue-status gives size 0, which virtio does not allow (1 to 32768)")
        XCTAssertEqual(inventory.notes[1].reason, "x-query-virtio-queue-status gives size 65536, which virtio does not allow (1 to 32768)")
        XCTAssertTrue(inventory.notes[2].reason.hasPrefix("x-query-virtio-queue-status gives no queue size (vring-num"), inventory.notes[2].reason)
        XCTAssertEqual("\(inventory.notes[0])", "virtio-blk:0 left out: x-query-virtio-queue-status gives size 0, which virtio does not allow (1 to 32768)")
        XCTAssertEqual(inventory.notes(device: "virtio-blk", queue: 1), [inventory.notes[1]])
        XCTAssertEqual(inventory.notes(device: "virtio-blk", queue: 3), [])
        XCTAssertEqual(try QMPVirtioSource.devices(client: client), inventory.devices, "devices(client:) is the inventory's devices")
    }

    /// A queue status that is not an object, or has no ring address.
    func testQueueStatusOfTheWrongShapeIsNoted() throws {
        let client = try self.client(blkQueues: [.array([]), .string("vring-desc"), .object([("vring-num", .int(128))])])
        let inventory = try QMPVirtioSource.inventory(client: client)
        XCTAssertEqual(inventory.devices.first { $0.name == "virtio-blk" }?.queues, [])
        XCTAssertEqual(inventory.notes.map(\.label), ["virtio-blk:0", "virtio-blk:1", "virtio-blk:2"])
        XCTAssertTrue(inventory.notes[0].reason.hasPrefix("x-query-virtio-queue-status did not return an object"), inventory.notes[0].reason)
        XCTAssertTrue(inventory.notes[1].reason.hasPrefix("x-query-virtio-queue-status did not return an object"), inventory.notes[1].reason)
        XCTAssertTrue(inventory.notes[2].reason.hasPrefix("x-query-virtio-queue-status gives no ring address (vring-desc"), inventory.notes[2].reason)
    }

    /// A device status that is not an object, or gives no queue count: the device is listed
    /// without queues, and the note is on the whole device.
    func testDeviceStatusOfTheWrongShapeIsNoted() throws {
        for (status, reason) in [(JSON.array([]), "x-query-virtio-status did not return an object"),
                                 (.object([("device-id", .int(2))]), "x-query-virtio-status gives no queue count (num-vqs)"),
                                 (.object([("num-vqs", .int(-1))]), "x-query-virtio-status gives num-vqs -1, outside QEMU's 0 to 1024")] {
            let client = try self.client(blkStatus: status, blkQueues: [Self.queue(desc: 0x10_0000, num: 256)])
            let inventory = try QMPVirtioSource.inventory(client: client)
            XCTAssertEqual(inventory.devices.first { $0.name == "virtio-blk" }?.queues, [], reason)
            XCTAssertEqual(inventory.devices.first { $0.name == "virtio-rng" }?.queues.count, 1, reason)
            XCTAssertEqual(inventory.notes.count, 1, reason)
            XCTAssertEqual(inventory.notes.first?.label, "virtio-blk")
            XCTAssertNil(inventory.notes.first?.queue)
            XCTAssertTrue(inventory.notes.first?.reason.hasPrefix(reason) == true, "\(inventory.notes)")
            XCTAssertEqual(inventory.notes(device: "virtio-blk", queue: 0).count, 1, "a device's note is on each of its queues")
        }
    }

    /// An entry of the device list without a name or a path.
    func testDeviceListEntryWithoutAPathIsNoted() throws {
        let list = JSON.array([.object([("name", .string("virtio-blk"))]), .object([("path", .string(Self.rng)), ("name", .string("virtio-rng"))])])
        let client = try self.client(blkQueues: [], list: list)
        let inventory = try QMPVirtioSource.inventory(client: client)
        XCTAssertEqual(inventory.devices.map(\.name), ["virtio-rng"])
        XCTAssertEqual(inventory.notes.map(\.label), ["virtio-blk"])
        XCTAssertTrue(inventory.notes[0].reason.hasPrefix("x-query-virtio lists it without a name and a QOM path"), inventory.notes[0].reason)
    }
}
