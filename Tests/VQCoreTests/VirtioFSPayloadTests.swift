import VQCore
import XCTest

final class VirtioFSPayloadTests: XCTestCase {
    static func inHeader(len: UInt32, opcode: UInt32, unique: UInt64, node: UInt64 = 1, uid: UInt32 = 0, gid: UInt32 = 0, pid: UInt32 = 311) -> [UInt8] {
        LE.u32(len) + LE.u32(opcode) + LE.u64(unique) + LE.u64(node) + LE.u32(uid) + LE.u32(gid) + LE.u32(pid) + LE.u16(0) + LE.u16(0)
    }

    static func outHeader(len: UInt32, error: Int32, unique: UInt64) -> [UInt8] {
        LE.u32(len) + LE.u32(UInt32(bitPattern: error)) + LE.u64(unique)
    }

    func testOpcodeNames() {
        XCTAssertEqual(FUSEOpcode(rawValue: 1).description, "LOOKUP")
        XCTAssertEqual(FUSEOpcode.read.description, "READ")
        XCTAssertEqual(FUSEOpcode(rawValue: 26).description, "INIT")
        XCTAssertEqual(FUSEOpcode(rawValue: 44).description, "READDIRPLUS")
        XCTAssertEqual(FUSEOpcode(rawValue: 48).description, "SETUPMAPPING")
        XCTAssertEqual(FUSEOpcode(rawValue: 7).description, "opcode 7")
        XCTAssertEqual(FUSEOpcode(rawValue: 4096).description, "CUSE_INIT")
        XCTAssertEqual(FUSEOpcode(rawValue: .max).description, "opcode 4294967295")
    }

    func testLookupAndReply() {
        let lookup = Self.inHeader(len: 40 + 6, opcode: 1, unique: 42, uid: 1000, gid: 100) + Array("hello\0".utf8)
        let inFlight = VirtioFSRequest(readable: lookup, readableLength: 46, written: nil, writtenLength: 0)
        XCTAssertEqual(inFlight.request?.opcode, FUSEOpcode(rawValue: 1))
        XCTAssertEqual(inFlight.request?.unique, 42)
        XCTAssertEqual(inFlight.request?.nodeID, 1)
        XCTAssertEqual(inFlight.request?.uid, 1000)
        XCTAssertEqual(inFlight.request?.pid, 311)
        XCTAssertNil(inFlight.defect)
        XCTAssertEqual(inFlight.summary, "fuse LOOKUP unique 42 node 1 uid 1000 gid 100 pid 311")
        let failed = VirtioFSRequest(readable: lookup, readableLength: 46, written: Self.outHeader(len: 16, error: -2, unique: 42), writtenLength: 16)
        XCTAssertEqual(failed.reply?.error, -2)
        XCTAssertEqual(failed.summary, "fuse LOOKUP unique 42 node 1 uid 1000 gid 100 pid 311 → ENOENT")
    }

    func testReadWithArguments() {
        let read = Self.inHeader(len: 80, opcode: 15, unique: 8, node: 5) + LE.u64(1) + LE.u64(8192) + LE.u32(4096) + [UInt8](repeating: 0, count: 20)
        let r = VirtioFSRequest(readable: read, readableLength: 80, written: Self.outHeader(len: 16 + 4096, error: 0, unique: 8), writtenLength: 16 + 4096)
        XCTAssertEqual(r.readWrite, VirtioFSRequest.ReadWrite(fileHandle: 1, offset: 8192, size: 4096))
        XCTAssertNil(r.defect)
        XCTAssertEqual(r.summary, "fuse READ unique 8 node 5 uid 0 gid 0 pid 311 fh 1 offset 8192 size 4096 → ok 4112 bytes")
    }

    func testTruncatedAndHostile() {
        let short = VirtioFSRequest(readable: [1, 2, 3], readableLength: 3, written: nil, writtenLength: 0)
        XCTAssertNil(short.request)
        XCTAssertEqual(short.summary, "fuse (truncated: 3 of 40 bytes)")
        let lying = VirtioFSRequest(readable: Self.inHeader(len: 0xffff_ffff, opcode: 3, unique: 1), readableLength: 40, written: nil, writtenLength: 0)
        XCTAssertEqual(lying.defect, .malformed("len 4294967295 is past the request's 40 bytes"))
        let small = VirtioFSRequest(readable: Self.inHeader(len: 8, opcode: 3, unique: 1), readableLength: 40, written: nil, writtenLength: 0)
        XCTAssertEqual(small.defect, .malformed("len 8 is smaller than the 40-byte header"))
        let other = VirtioFSRequest(readable: Self.inHeader(len: 40, opcode: 3, unique: 1), readableLength: 40,
                                    written: Self.outHeader(len: 16, error: 0, unique: 2), writtenLength: 16)
        XCTAssertEqual(other.defect, .malformed("reply unique 2 is not the request's 1"))
        let cutReply = VirtioFSRequest(readable: Self.inHeader(len: 40, opcode: 3, unique: 1), readableLength: 40, written: [0, 0], writtenLength: 2)
        XCTAssertEqual(cutReply.summary, "fuse GETATTR unique 1 node 1 uid 0 gid 0 pid 311 → (no reply header) (truncated: 2 of 16 bytes)")
        let oddError = VirtioFSRequest(readable: Self.inHeader(len: 40, opcode: 3, unique: 1), readableLength: 40,
                                       written: Self.outHeader(len: 16, error: .min, unique: 1), writtenLength: 16)
        XCTAssertTrue(oddError.summary.hasSuffix("→ errno 2147483648"), oddError.summary)
    }

    func testThroughTheDecoder() {
        let guest = PayloadTestGuest([.init(at: 0x100, Self.inHeader(len: 40, opcode: 3, unique: 77)),
                                      .init(at: 0x200, Self.outHeader(len: 120, error: 0, unique: 77), length: 120, writable: true)])
        XCTAssertEqual(guest.decode("vhost-user-fs", queue: 1)?.summary, "fuse GETATTR unique 77 node 1 uid 0 gid 0 pid 311")
        XCTAssertEqual(guest.decode("virtio-user-fs", queue: 1, completed: 120)?.summary,
                       "fuse GETATTR unique 77 node 1 uid 0 gid 0 pid 311 → ok 120 bytes")
        XCTAssertEqual(guest.decode("virtio-fs", queue: 0, completed: 120)?.summary,
                       "fuse GETATTR unique 77 node 1 uid 0 gid 0 pid 311 → ok 120 bytes", "the high-priority queue too")
    }
}
