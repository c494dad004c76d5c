import VQCore
import XCTest

final class NinePPayloadTests: XCTestCase {
    /// A 9P message: size, type, tag, then `body`.
    static func message(_ type: UInt8, tag: UInt16, _ body: [UInt8], size: UInt32? = nil) -> [UInt8] {
        LE.u32(size ?? UInt32(7 + body.count)) + [type] + LE.u16(tag) + body
    }

    static func string(_ s: String) -> [UInt8] { LE.u16(UInt16(s.utf8.count)) + Array(s.utf8) }
    static func qid(type: UInt8, path: UInt64) -> [UInt8] { [type] + LE.u32(0) + LE.u64(path) }

    func testTypeNames() {
        XCTAssertEqual(NinePMessageType.twalk.description, "Twalk")
        XCTAssertEqual(NinePMessageType.rwalk.description, "Rwalk")
        XCTAssertEqual(NinePMessageType.rlerror.description, "Rlerror")
        XCTAssertEqual(NinePMessageType(rawValue: 100).description, "Tversion")
        XCTAssertEqual(NinePMessageType(rawValue: 25).description, "Rgetattr")
        XCTAssertEqual(NinePMessageType(rawValue: 200).description, "type 200")
        XCTAssertTrue(NinePMessageType.tread.isRequest)
        XCTAssertFalse(NinePMessageType.rread.isRequest)
    }

    func testVersionAndAttach() throws {
        let version = try XCTUnwrap(NinePMessage(Self.message(100, tag: 0xffff, LE.u32(512 * 1024) + Self.string("9P2000.L"))))
        XCTAssertEqual(version.body, .version(msize: 524288, version: "9P2000.L"))
        XCTAssertEqual(version.summary, "Tversion tag 65535 msize 524288 \"9P2000.L\"")
        let attach = try XCTUnwrap(NinePMessage(Self.message(104, tag: 1, LE.u32(0) + LE.u32(.max) + Self.string("root") + Self.string("/srv") + LE.u32(0))))
        XCTAssertEqual(attach.body, .attach(fid: 0, afid: .max, uname: "root", aname: "/srv", numericUname: 0))
        XCTAssertEqual(attach.summary, "Tattach tag 1 fid 0 afid NOFID uname \"root\" aname \"/srv\" n_uname 0")
        let reply = try XCTUnwrap(NinePMessage(Self.message(105, tag: 1, Self.qid(type: 0x80, path: 0x1c2a))))
        XCTAssertEqual(reply.summary, "Rattach tag 1 qid dir:0x1c2a")
    }

    func testWalkAndReply() throws {
        let walk = try XCTUnwrap(NinePMessage(Self.message(110, tag: 3, LE.u32(0) + LE.u32(1) + LE.u16(2) + Self.string("usr") + Self.string("lib"))))
        XCTAssertEqual(walk.body, .walk(fid: 0, newfid: 1, nameCount: 2, names: ["usr", "lib"]))
        XCTAssertEqual(walk.summary, "Twalk tag 3 fid 0 newfid 1 \"usr\"/\"lib\"")
        XCTAssertNil(walk.defect)
        let clone = try XCTUnwrap(NinePMessage(Self.message(110, tag: 4, LE.u32(0) + LE.u32(2) + LE.u16(0))))
        XCTAssertEqual(clone.summary, "Twalk tag 4 fid 0 newfid 2 (clone)")
        let reply = try XCTUnwrap(NinePMessage(Self.message(111, tag: 3, LE.u16(2) + Self.qid(type: 0x80, path: 5) + Self.qid(type: 0, path: 6))))
        XCTAssertEqual(reply.body, .walkReply(qidCount: 2))
        XCTAssertEqual(reply.summary, "Rwalk tag 3 2 qids")
    }

    func testOpenReadWriteReaddirGetattr() throws {
        XCTAssertEqual(NinePMessage(Self.message(12, tag: 5, LE.u32(2) + LE.u32(0o100002)))?.summary, "Tlopen tag 5 fid 2 flags 0x8002")
        XCTAssertEqual(NinePMessage(Self.message(13, tag: 5, Self.qid(type: 0, path: 0x99) + LE.u32(0)))?.summary, "Rlopen tag 5 qid file:0x99 iounit 0")
        let read = try XCTUnwrap(NinePMessage(Self.message(116, tag: 6, LE.u32(2) + LE.u64(8192) + LE.u32(4096))))
        XCTAssertEqual(read.body, .read(fid: 2, offset: 8192, count: 4096))
        XCTAssertEqual(read.summary, "Tread tag 6 fid 2 offset 8192 count 4096")
        // Rread's data is only a prefix here: its size says 4 + 7 + 120 bytes.
        let rread = try XCTUnwrap(NinePMessage(Self.message(117, tag: 6, LE.u32(120) + [1, 2, 3], size: 131), bufferLength: 8192))
        XCTAssertEqual(rread.body, .countReply(count: 120))
        XCTAssertNil(rread.defect, "a reply longer than the bytes read is not a defect")
        XCTAssertEqual(NinePMessage(Self.message(118, tag: 7, LE.u32(3) + LE.u64(0) + LE.u32(5) + Array("hello".utf8)))?.summary,
                       "Twrite tag 7 fid 3 offset 0 count 5")
        XCTAssertEqual(NinePMessage(Self.message(119, tag: 7, LE.u32(5)))?.summary, "Rwrite tag 7 count 5")
        XCTAssertEqual(NinePMessage(Self.message(40, tag: 8, LE.u32(4) + LE.u64(0) + LE.u32(8168)))?.summary,
                       "Treaddir tag 8 fid 4 offset 0 count 8168")
        XCTAssertEqual(NinePMessage(Self.message(41, tag: 8, LE.u32(0)))?.summary, "Rreaddir tag 8 count 0")
        XCTAssertEqual(NinePMessage(Self.message(24, tag: 9, LE.u32(1) + LE.u64(0x3fff)))?.summary, "Tgetattr tag 9 fid 1 mask 0x3fff")
        let attr = LE.u64(0x7ff) + Self.qid(type: 0, path: 0x42) + LE.u32(0o100644) + LE.u32(0) + LE.u32(0) + LE.u64(1) + LE.u64(0) + LE.u64(1234)
        XCTAssertEqual(NinePMessage(Self.message(25, tag: 9, attr))?.summary, "Rgetattr tag 9 valid 0x7ff qid file:0x42 mode 0100644 size 1234")
        XCTAssertEqual(NinePMessage(Self.message(120, tag: 10, LE.u32(4)))?.summary, "Tclunk tag 10 fid 4")
        XCTAssertEqual(NinePMessage(Self.message(121, tag: 10, []))?.summary, "Rclunk tag 10")
        XCTAssertEqual(NinePMessage(Self.message(7, tag: 11, LE.u32(2)))?.summary, "Rlerror tag 11 ENOENT")
        XCTAssertEqual(NinePMessage(Self.message(108, tag: 12, LE.u16(6)))?.summary, "Tflush tag 12 oldtag 6")
    }

    func testTruncatedAndHostileMessages() throws {
        XCTAssertNil(NinePMessage([1, 0, 0, 0, 110, 0]), "shorter than the header")
        let tiny = try XCTUnwrap(NinePMessage(Self.message(120, tag: 1, LE.u32(1), size: 3)))
        XCTAssertEqual(tiny.defect, .malformed("size 3 is smaller than the 7-byte header"))
        let past = try XCTUnwrap(NinePMessage(Self.message(120, tag: 1, LE.u32(1)), bufferLength: 9))
        XCTAssertEqual(past.defect, .malformed("size 11 is past the 9-byte buffer"))
        // A walk claiming 65535 names, with one present: the names stop where the bytes do.
        let hostile = try XCTUnwrap(NinePMessage(Self.message(110, tag: 2, LE.u32(0) + LE.u32(1) + LE.u16(.max) + Self.string("a"), size: 100_000)))
        XCTAssertEqual(hostile.body, .other)
        XCTAssertEqual(hostile.defect, .truncated(needed: 100_000, present: 20))
        XCTAssertTrue(hostile.summary.hasPrefix("Twalk tag 2 (truncated"), hostile.summary)
        // A string length past the message's own size.
        let lying = try XCTUnwrap(NinePMessage(Self.message(100, tag: 0, LE.u32(8192) + LE.u16(50) + Array("9P2000.L".utf8))))
        XCTAssertEqual(lying.defect, .malformed("Tversion fields run past its size 21"))
        // Names with control characters are shown printable, one line.
        let odd = try XCTUnwrap(NinePMessage(Self.message(110, tag: 3, LE.u32(0) + LE.u32(1) + LE.u16(1) + LE.u16(3) + [0x0a, 0x41, 0xff])))
        XCTAssertEqual(odd.summary, "Twalk tag 3 fid 0 newfid 1 \".A.\"")
        let tooMany = (0..<20).flatMap { _ in Self.string("d") }
        let long = try XCTUnwrap(NinePMessage(Self.message(110, tag: 4, LE.u32(0) + LE.u32(1) + LE.u16(20) + tooMany)))
        guard case .walk(_, _, 20, let names) = long.body else { return XCTFail("\(long.body)") }
        XCTAssertEqual(names.count, NinePMessage.maxNamesShown)
        XCTAssertTrue(long.summary.hasSuffix(" …20 names"), long.summary)
        let wide = (0..<16).flatMap { _ in Self.string(String(repeating: "x", count: 40)) }
        let wideWalk = try XCTUnwrap(NinePMessage(Self.message(110, tag: 5, LE.u32(0) + LE.u32(1) + LE.u16(16) + wide)))
        XCTAssertEqual(wideWalk.summary, "Twalk tag 5 fid 0 newfid 1 \"" + String(repeating: "x", count: 40) + "\" …16 names",
                       "as many names as fit a line")
        let attach = LE.u32(0) + LE.u32(0) + Self.string(String(repeating: "u", count: 300)) + Self.string(String(repeating: "a", count: 300))
        let wideAttach = try XCTUnwrap(NinePMessage(Self.message(104, tag: 6, attach)))
        XCTAssertEqual(wideAttach.summary, "Tattach tag 6 fid 0 afid 0 uname \"" + String(repeating: "u", count: 40) + "…\" aname \""
                       + String(repeating: "a", count: 18) + "…", "fields cut to fit a line")
    }

    func testExchangeThroughTheDecoder() throws {
        let request = Self.message(116, tag: 6, LE.u32(2) + LE.u64(0) + LE.u32(4096))
        let reply = Self.message(7, tag: 6, LE.u32(13))
        let guest = PayloadTestGuest([.init(at: 0x100, request), .init(at: 0x400, reply, length: 4096 + 11, writable: true)])
        XCTAssertEqual(guest.decode("virtio-9p", queue: 0)?.summary, "9p Tread tag 6 fid 2 offset 0 count 4096")
        guard case .nineP(let done)? = guest.decode("virtio-9p", queue: 0, completed: 11) else { return XCTFail("not 9P") }
        XCTAssertEqual(done.reply?.type, .rlerror)
        XCTAssertEqual(done.summary, "9p Tread tag 6 fid 2 offset 0 count 4096 → Rlerror tag 6 EACCES")
        XCTAssertEqual(guest.decode("virtio-9p", queue: 0, completed: 3)?.summary,
                       "9p Tread tag 6 fid 2 offset 0 count 4096 → reply too short for a 9P header")
        let empty = PayloadTestGuest([.init(at: 0x100, [1, 2])])
        XCTAssertEqual(empty.decode("virtio-9p", queue: 0)?.summary, "9p request too short for a 9P header")
    }
}
