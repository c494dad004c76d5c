import VQCore
import XCTest

final class VirtioVsockPayloadTests: XCTestCase {
    static func header(src: UInt64 = 3, dst: UInt64 = 2, srcPort: UInt32 = 1025, dstPort: UInt32 = 5000, len: UInt32 = 0,
                       type: UInt16 = 1, op: UInt16, flags: UInt32 = 0, bufAlloc: UInt32 = 262_144, fwdCnt: UInt32 = 0) -> [UInt8] {
        LE.u64(src) + LE.u64(dst) + LE.u32(srcPort) + LE.u32(dstPort) + LE.u32(len) + LE.u16(type) + LE.u16(op) + LE.u32(flags)
            + LE.u32(bufAlloc) + LE.u32(fwdCnt)
    }

    func testHeaderFields() throws {
        let bytes = Self.header(len: 100, op: 5, fwdCnt: 4096)
        XCTAssertEqual(bytes.count, VirtioVsockPacket.headerSize)
        let p = try XCTUnwrap(VirtioVsockPacket(bytes, bufferLength: 144))
        XCTAssertEqual(p.sourceCID, 3)
        XCTAssertEqual(p.destinationCID, 2)
        XCTAssertEqual(p.sourcePort, 1025)
        XCTAssertEqual(p.destinationPort, 5000)
        XCTAssertEqual(p.length, 100)
        XCTAssertEqual(p.opName, "RW")
        XCTAssertEqual(p.bufferAllocation, 262_144)
        XCTAssertEqual(p.forwardCount, 4096)
        XCTAssertNil(p.defect)
        XCTAssertEqual(p.summary, "vsock RW stream 3:1025 > 2:5000 len 100 buf_alloc 262144 fwd_cnt 4096")
    }

    func testOpsAndFlags() {
        let ops = (0..<9).map { VirtioVsockPacket(Self.header(op: UInt16($0)), bufferLength: 44)?.opName }
        XCTAssertEqual(ops, ["INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW", "CREDIT_UPDATE", "CREDIT_REQUEST", "op 8"])
        XCTAssertEqual(VirtioVsockPacket(Self.header(op: 4, flags: 3), bufferLength: 44)?.summary,
                       "vsock SHUTDOWN stream 3:1025 > 2:5000 len 0 flags rcv|send buf_alloc 262144 fwd_cnt 0")
        XCTAssertEqual(VirtioVsockPacket(Self.header(type: 2, op: 5, flags: 0x11), bufferLength: 44)?.summary,
                       "vsock RW seqpacket 3:1025 > 2:5000 len 0 flags eom|0x10 buf_alloc 262144 fwd_cnt 0")
    }

    func testTruncatedAndLyingHeaders() throws {
        XCTAssertNil(VirtioVsockPacket(Array(Self.header(op: 1).prefix(43)), bufferLength: 43))
        let lying = try XCTUnwrap(VirtioVsockPacket(Self.header(len: 0xffff_ffff, op: 5), bufferLength: 44 + 16))
        XCTAssertEqual(lying.defect, .malformed("len 4294967295 is past the buffer's 16 bytes of data"))
        XCTAssertTrue(lying.summary.hasSuffix("(malformed: len 4294967295 is past the buffer's 16 bytes of data)"))
    }

    func testQueuesThroughTheDecoder() throws {
        let tx = PayloadTestGuest([.init(at: 0x100, Self.header(len: 5, op: 5)), .init(at: 0x200, Array("hello".utf8))])
        XCTAssertEqual(tx.decode("vhost-vsock", queue: 1, queueCount: 3)?.summary,
                       "vsock RW stream 3:1025 > 2:5000 len 5 buf_alloc 262144 fwd_cnt 0")
        let rx = PayloadTestGuest([.init(at: 0x100, Self.header(src: 2, dst: 3, srcPort: 5000, dstPort: 1025, op: 2), length: 4096 + 44, writable: true)])
        XCTAssertNil(rx.decode("virtio-vsock", queue: 0, queueCount: 3))
        XCTAssertEqual(rx.decode("vhost-user-vsock", queue: 0, queueCount: 3, completed: 44)?.summary,
                       "vsock RESPONSE stream 2:5000 > 3:1025 len 0 buf_alloc 262144 fwd_cnt 0")
        XCTAssertEqual(rx.decode("vhost-vsock", queue: 0, queueCount: 3, completed: 20),
                       .undecodable(family: "vsock", defect: .truncated(needed: 44, present: 20)))
        let event = PayloadTestGuest([.init(at: 0x100, LE.u32(0), writable: true)])
        XCTAssertEqual(event.decode("vhost-vsock", queue: 2, queueCount: 3, completed: 4)?.summary, "vsock-event TRANSPORT_RESET")
        XCTAssertEqual(VirtioVsockEvent(LE.u32(9))?.summary, "vsock-event id 9")
        XCTAssertNil(event.decode("vhost-vsock", queue: 3, queueCount: 3, completed: 4))
    }
}
