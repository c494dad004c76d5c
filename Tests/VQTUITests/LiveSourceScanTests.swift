import Foundation
import VQCore
import VQTUI
import XCTest

private func gpa(_ value: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(value) }

/// Guest RAM (1 MiB at 0) with split rings laid out as Linux does, written by hand.
private struct RingImage {
    var bytes = [UInt8](repeating: 0, count: 1 << 20)

    mutating func put<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { for (k, b) in $0.enumerated() { bytes[Int(address) + k] = b } }
    }

    /// A ring of 64 at `desc`: `chains` chains of `perChain` writable descriptors of `length` bytes
    /// (buffers from `data` on, `stride` apart) made available, the first `used` of them used with
    /// `usedLength` bytes; `fill` writes what the device put in a used chain's first buffer.
    mutating func ring(at desc: UInt64, chains: Int, perChain: Int, length: UInt32, data: UInt64, stride: UInt64,
                       used: Int, usedLength: UInt32, fill: (inout RingImage, UInt64) -> Void = { _, _ in }) {
        let avail = desc + 16 * 64
        let usedRing = (avail + 6 + 2 * 64 + 63) & ~63
        for c in 0..<chains {
            for k in 0..<perChain {
                let i = UInt64(c * perChain + k)
                put(data + i * stride, at: desc + 16 * i)
                put(length, at: desc + 16 * i + 8)
                put(UInt16(k < perChain - 1 ? 3 : 2), at: desc + 16 * i + 12)  // WRITE, NEXT but the last
                put(UInt16(k < perChain - 1 ? i + 1 : 0), at: desc + 16 * i + 14)
            }
            put(UInt16(c * perChain), at: avail + 4 + 2 * UInt64(c))
        }
        put(UInt16(chains), at: avail + 2)
        for j in 0..<used {
            let head = UInt64(j * perChain)
            put(UInt32(head), at: usedRing + 4 + 8 * UInt64(j))
            put(usedLength, at: usedRing + 8 + 8 * UInt64(j))
            fill(&self, data + head * stride)
        }
        put(UInt16(used), at: usedRing + 2)
    }

    /// Opens the bytes as a raw image target (no QMP).
    func open() throws -> Target {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vqscope-livesource-\(getpid()).raw").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Target.open(TargetSpec(imagePath: path, base: 0))
    }
}

/// Without QMP the inspector takes the commands' queue list: the same names (`unknown` for a ring
/// no guess fits) and the same payload decoding (a scanned `virtio-net-rx` ring decodes as virtio-net).
final class LiveSourceScanTests: XCTestCase {
    static let frameLength: UInt32 = 60

    func target() throws -> Target {
        var image = RingImage()
        // virtio-net receive: single 1536-byte buffers; used ones hold a 12-byte header and an IPv4 frame.
        image.ring(at: 0x10000, chains: 64, perChain: 1, length: 1536, data: 0x20000, stride: 0x800, used: 8,
                   usedLength: 12 + Self.frameLength) { image, buffer in
            image.put(UInt16(1), at: buffer + 10)
            for k in 0..<6 { image.put(UInt8(0xFF), at: buffer + 12 + UInt64(k)); image.put(UInt8(0x52), at: buffer + 18 + UInt64(k)) }
            image.put(UInt16(0x0008), at: buffer + 24)  // EtherType 0x0800, big-endian
            image.put(UInt8(0x45), at: buffer + 26)
        }
        // Two-buffer writable chains of no known device's shape.
        image.ring(at: 0x60000, chains: 32, perChain: 2, length: 100, data: 0x70000, stride: 0x100, used: 8, usedLength: 50)
        return try image.open()
    }

    func testScannedQueuesAreNamedAsTheCommandsNameThem() throws {
        let t = try target()
        let source = LiveSource(target: t)
        let queues = try source.discoverQueues()
        XCTAssertEqual(queues.map(\.label), ["virtio-net-rx:0", "unknown:0"])
        XCTAssertEqual(queues, try QueueList.load(t).queues)
        XCTAssertEqual(try source.poll().indexes.map(\.used), [8, 8])
    }

    func testScannedNetReceivePayloadsDecode() throws {
        let source = LiveSource(target: try target())
        let queues = try source.discoverQueues()
        let rx = try XCTUnwrap(queues.first { $0.device == "virtio-net-rx" })
        let chain = Chain(head: 0, elements: [Chain.Element(index: 0, address: gpa(0x20000), length: 1536, isWritable: true)],
                          writableBytes: 1536, ringDescriptors: 1)
        guard case .network(let packet)? = source.payload(of: chain, queue: rx, completedLength: 12 + Self.frameLength) else {
            return XCTFail("the scanned virtio-net-rx ring's used buffer decodes as a virtio-net packet")
        }
        XCTAssertEqual(packet.frameLength, Int(Self.frameLength), "a 12-byte header (VERSION_1), as the commands assume")
        XCTAssertEqual(packet.frame?.etherType, 0x0800)

        let unknown = try XCTUnwrap(queues.first { $0.device == "unknown" })
        XCTAssertNil(source.payload(of: chain, queue: unknown, completedLength: 50))
    }
}
