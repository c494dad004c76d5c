import Foundation
import Synchronization
import VQCore
import XCTest

private func gpa(_ value: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(value) }

/// A scanned ring at `desc` (size 64, Linux layout), guessed `guess`.
private func ring(_ desc: UInt64, _ guess: String?) -> ScannedRing {
    let location = VirtqueueLocation(layout: .split, size: 64, descriptors: gpa(desc), driverArea: gpa(desc + 0x400),
                                     deviceArea: gpa(desc + 0x4C0))
    return ScannedRing(location: location, availIndex: 3, usedIndex: 2, deviceGuess: guess, score: 15, reasons: [])
}

/// A raw RAM image (guest RAM at 0, 1 MiB) holding one virtio-net receive ring as Linux lays it
/// out: 64 writable 1536-byte buffers posted, the first 8 used, each holding a 12-byte virtio-net
/// header and a 60-byte IPv4 frame.
private struct NetReceiveImage {
    static let size = 1 << 20
    static let desc: UInt64 = 0x10000
    static let avail: UInt64 = desc + 16 * 64
    static let used: UInt64 = (avail + 6 + 2 * 64 + 63) & ~63
    static func buffer(_ i: Int) -> UInt64 { 0x20000 + UInt64(i) * 0x800 }
    static let frameLength = 60

    var bytes = [UInt8](repeating: 0, count: size)

    init() {
        for i in 0..<64 {
            put(Self.buffer(i), at: Self.desc + 16 * UInt64(i))
            put(UInt32(1536), at: Self.desc + 16 * UInt64(i) + 8)
            put(UInt16(2), at: Self.desc + 16 * UInt64(i) + 12)  // WRITE
            put(UInt16(i), at: Self.avail + 4 + 2 * UInt64(i))
        }
        put(UInt16(64), at: Self.avail + 2)
        for j in 0..<8 {
            put(UInt32(j), at: Self.used + 4 + 8 * UInt64(j))
            put(UInt32(12 + Self.frameLength), at: Self.used + 8 + 8 * UInt64(j))
            let frame = Self.buffer(j) + 12  // after the virtio-net header (num_buffers 1)
            put(UInt16(1), at: Self.buffer(j) + 10)
            for k in 0..<6 { bytes[Int(frame) + k] = 0xFF; bytes[Int(frame) + 6 + k] = 0x52 }
            bytes[Int(frame) + 12] = 0x08  // IPv4
            bytes[Int(frame) + 14] = 0x45
            bytes[Int(frame) + 23] = 17  // UDP
        }
        put(UInt16(8), at: Self.used + 2)
    }

    mutating func put<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { for (k, b) in $0.enumerated() { bytes[Int(address) + k] = b } }
    }
}

final class QueueListTests: XCTestCase {
    func testScannedRingsFormOnePseudoDevicePerGuessNumberedInAddressOrder() {
        let list = QueueList.scanned([ring(0x10000, "virtio-blk"), ring(0x20000, nil), ring(0x30000, "virtio-net-rx"),
                                      ring(0x40000, "virtio-blk"), ring(0x50000, nil)], note: "--no-qmp")
        XCTAssertEqual(list.source, .scan)
        XCTAssertEqual(list.note, "--no-qmp")
        XCTAssertEqual(list.devices.map(\.name), ["virtio-blk", "unknown", "virtio-net-rx"])
        XCTAssertEqual(list.queues.map(\.label), ["virtio-blk:0", "virtio-blk:1", "unknown:0", "unknown:1", "virtio-net-rx:0"])
        XCTAssertEqual(list.queues.map(\.location.descriptors.rawValue), [0x10000, 0x40000, 0x20000, 0x50000, 0x30000])
        XCTAssertEqual(list.scanned.count, 5)
        XCTAssertEqual(list.scanned[gpa(0x40000)]?.score, 15)
        for q in list.queues {
            XCTAssertNil(list.path(of: q), "a scanned queue has no QOM path")
            XCTAssertEqual(list.device(of: q)?.name, q.device)
        }
    }

    func testANameGuessedByNothingIsUnknown() {
        XCTAssertEqual(QueueList.unknownDevice, "unknown")
        XCTAssertEqual(QueueList.scanned([ring(0x1000, nil)], note: nil).queues.first?.device, "unknown")
        XCTAssertTrue(QueueList.scanned([], note: nil).queues.isEmpty)
    }

    func testScannedRolesMapTheGuessOntoTheDevicesNumbering() {
        let list = QueueList.scanned([ring(0x10000, "virtio-net-rx"), ring(0x20000, "virtio-net-tx"), ring(0x30000, "virtio-blk"),
                                      ring(0x40000, "virtio-blk"), ring(0x50000, "virtio-net-ctrl"), ring(0x60000, nil),
                                      ring(0x70000, "virtio-rng"), ring(0x80000, "virtio-console"), ring(0x90000, "virtio-console"),
                                      ring(0xa0000, "virtio-console")], note: nil)
        let roles = Dictionary(list.queues.map { ($0.label, list.payloadRole(of: $0)) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(roles["virtio-net-rx:0"], PayloadRole(device: "virtio-net", queueIndex: 0, queueCount: 2, features: [.version1]))
        XCTAssertEqual(roles["virtio-net-tx:0"], PayloadRole(device: "virtio-net", queueIndex: 1, queueCount: 2, features: [.version1]))
        XCTAssertEqual(roles["virtio-blk:1"], PayloadRole(device: "virtio-blk", queueIndex: 1, queueCount: 2, features: [.version1]))
        XCTAssertEqual(roles["virtio-rng:0"], PayloadRole(device: "virtio-rng", queueIndex: 0, queueCount: 1, features: [.version1]))
        XCTAssertEqual(roles["virtio-console:0"]??.device, "virtio-console")
        XCTAssertEqual(roles["virtio-console:2"], PayloadRole(device: "virtio-console", queueIndex: 0, queueCount: 1, features: [.version1]),
                       "a scan's third console ring is port data, not virtio-serial's control queue 2")
        XCTAssertEqual(roles["virtio-net-ctrl:0"], .some(nil), "no decoder for the control queue")
        XCTAssertEqual(roles["unknown:0"], .some(nil), "a ring of no known role is not decoded")
    }

    func testQMPRolesAreTheDevicesOwn() {
        let features: VirtioFeatures = [.version1, .indirectDescriptors]
        func queue(_ path: String, _ name: String, _ index: Int) -> Virtqueue {
            Virtqueue(device: name, path: path, index: index,
                      location: VirtqueueLocation(layout: .split, size: 256, descriptors: gpa(0x1000 * UInt64(index + 1)),
                                                  driverArea: gpa(0), deviceArea: gpa(0), features: features))
        }
        let net = VirtioDevice(name: "virtio-net", path: "/machine/net", deviceID: 1, features: features,
                               queues: [queue("/machine/net", "virtio-net", 0), queue("/machine/net", "virtio-net", 1),
                                        queue("/machine/net", "virtio-net", 2)])
        let blk = VirtioDevice(name: "virtio-blk", path: "/machine/blk", deviceID: 2, features: features,
                               queues: [queue("/machine/blk", "virtio-blk", 0)])
        let list = QueueList(source: .qmp, devices: [net, blk])
        XCTAssertTrue(list.scanned.isEmpty)
        XCTAssertNil(list.note)
        XCTAssertEqual(list.queues.count, 4)
        let control = list.queues[2]
        XCTAssertEqual(list.device(of: control)?.path, "/machine/net")
        XCTAssertEqual(list.path(of: control), "/machine/net")
        XCTAssertEqual(list.payloadRole(of: control), PayloadRole(device: "virtio-net", queueIndex: 2, queueCount: 3, features: features))
        XCTAssertEqual(list.payloadRole(of: list.queues[3]), PayloadRole(device: "virtio-blk", queueIndex: 0, queueCount: 1, features: features))
    }

    func testLoadErrorsSayWhatFailed() {
        XCTAssertEqual(QueueList.LoadError.target(.noQMP("no answer")).description, "QMP: no answer")
        XCTAssertEqual(QueueList.LoadError.scan(.processGone(pid: 42)).description,
                       "the RAM scan for virtqueues failed: process 42 has exited")
    }

    /// An image has no QMP: the list is a scan's, its net receive ring is named by its role, and its
    /// received frames decode with the 12-byte virtio-net header.
    func testLoadScansAnImageAndItsNetReceivePayloadsDecode() throws {
        let image = NetReceiveImage()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vqscope-queuelist-\(getpid()).raw").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(image.bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let target = try Target.open(TargetSpec(imagePath: path, base: 0))

        let calls = Mutex<[(UInt64, UInt64)]>([])
        let list = try QueueList.load(target, progress: { done, total in calls.withLock { $0.append((done, total)) } })
        XCTAssertEqual(list.source, .scan)
        XCTAssertEqual(list.note, "an image has no QMP")
        XCTAssertEqual(list.queues.map(\.label), ["virtio-net-rx:0"])
        let q = try XCTUnwrap(list.queues.first)
        XCTAssertEqual(q.location.descriptors, gpa(NetReceiveImage.desc))
        XCTAssertEqual(q.location.deviceArea, gpa(NetReceiveImage.used))
        XCTAssertNotNil(list.scanned[q.location.descriptors])
        let reported = calls.withLock { $0 }
        XCTAssertEqual(reported.first?.0, 0)
        XCTAssertEqual(reported.last?.0, UInt64(NetReceiveImage.size))
        XCTAssertEqual(reported.last?.1, UInt64(NetReceiveImage.size))

        let role = try XCTUnwrap(list.payloadRole(of: q))
        let chain = Chain(head: 0, elements: [Chain.Element(index: 0, address: gpa(NetReceiveImage.buffer(0)), length: 1536, isWritable: true)],
                          writableBytes: 1536, ringDescriptors: 1)
        guard case .network(let packet)? = role.decode(chain, memory: target.memory, completedLength: UInt32(12 + NetReceiveImage.frameLength)) else {
            return XCTFail("no virtio-net packet decoded from \(role)")
        }
        XCTAssertEqual(packet.frameLength, NetReceiveImage.frameLength)
        XCTAssertEqual(packet.numBuffers, 1)
        XCTAssertEqual(packet.frame?.etherType, 0x0800)
        XCTAssertNil(role.decode(chain, memory: target.memory), "a receive buffer holds nothing until used")
    }
}
