import VQCore
import XCTest

final class VirtioGPUPayloadTests: XCTestCase {
    static func header(type: UInt32, flags: UInt32 = 0, fence: UInt64 = 0, context: UInt32 = 0, ring: UInt8 = 0) -> [UInt8] {
        LE.u32(type) + LE.u32(flags) + LE.u64(fence) + LE.u32(context) + [ring, 0, 0, 0]
    }

    func testTypeNames() {
        let names = [0x0100, 0x0104, 0x0106, 0x010d, 0x0200, 0x0207, 0x0300, 0x0301, 0x1100, 0x1101, 0x1203, 0x1205, 0x010e, 0x0400, 0x10100]
            .map { VirtioGPUControlHeader(Self.header(type: UInt32($0)))?.typeName }
        XCTAssertEqual(names, ["GET_DISPLAY_INFO", "RESOURCE_FLUSH", "RESOURCE_ATTACH_BACKING", "SET_SCANOUT_BLOB", "CTX_CREATE",
                               "SUBMIT_3D", "UPDATE_CURSOR", "MOVE_CURSOR", "OK_NODATA", "OK_DISPLAY_INFO", "ERR_INVALID_RESOURCE_ID",
                               "ERR_INVALID_PARAMETER", "type 0x10e", "type 0x400", "type 0x10100"])
    }

    func testHeaderFields() throws {
        let h = try XCTUnwrap(VirtioGPUControlHeader(Self.header(type: 0x0104, flags: 3, fence: 12, context: 2, ring: 1)))
        XCTAssertEqual(h.type, 0x0104)
        XCTAssertTrue(h.isFenced)
        XCTAssertEqual(h.fenceID, 12)
        XCTAssertEqual(h.contextID, 2)
        XCTAssertEqual(h.ringIndex, 1)
        XCTAssertEqual(h.summary, "RESOURCE_FLUSH fence 12 ring 1 ctx 2")
        XCTAssertEqual(VirtioGPUControlHeader(Self.header(type: 0x0104, flags: 0x10))?.summary, "RESOURCE_FLUSH flags 0x10")
        XCTAssertNil(VirtioGPUControlHeader(Array(Self.header(type: 0x0104).prefix(23))))
    }

    func testExchanges() {
        let ok = VirtioGPUExchange(readable: Self.header(type: 0x0105, flags: 1, fence: 7) + [UInt8](repeating: 0, count: 32),
                                   written: Self.header(type: 0x1100, flags: 1, fence: 7))
        XCTAssertEqual(ok.summary, "gpu TRANSFER_TO_HOST_2D fence 7 → OK_NODATA fence 7")
        let pending = VirtioGPUExchange(readable: Self.header(type: 0x0100), written: nil)
        XCTAssertEqual(pending.summary, "gpu GET_DISPLAY_INFO")
        let short = VirtioGPUExchange(readable: [0, 1], written: [0])
        XCTAssertEqual(short.defect, .truncated(needed: 24, present: 2))
        XCTAssertEqual(short.summary, "gpu command (truncated: 2 of 24 bytes)")
        let shortReply = VirtioGPUExchange(readable: Self.header(type: 0x0102), written: [0, 0x11])
        XCTAssertEqual(shortReply.summary, "gpu RESOURCE_UNREF (truncated: 2 of 24 bytes)")
    }

    func testThroughTheDecoder() {
        let guest = PayloadTestGuest([.init(at: 0x100, Self.header(type: 0x0301) + [UInt8](repeating: 0, count: 32)),
                                      .init(at: 0x200, Self.header(type: 0x1203), writable: true)])
        XCTAssertEqual(guest.decode("virtio-gpu", queue: 1)?.summary, "gpu MOVE_CURSOR")
        XCTAssertEqual(guest.decode("virtio-gpu", queue: 0, completed: 24)?.summary, "gpu MOVE_CURSOR → ERR_INVALID_RESOURCE_ID")
    }
}
