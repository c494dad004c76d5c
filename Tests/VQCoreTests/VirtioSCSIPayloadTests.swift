import VQCore
import XCTest

final class VirtioSCSIPayloadTests: XCTestCase {
    /// `virtio_scsi_cmd_req` for target 0 LUN 1 with tag `tag` and `cdb` (padded to 32 bytes).
    static func request(target: UInt8 = 0, lun: UInt16 = 1, tag: UInt64 = 7, attribute: UInt8 = 0, cdb: [UInt8]) -> [UInt8] {
        VirtioSCSIAddress(target: target, lun: lun).bytes + LE.u64(tag) + [attribute, 0, 0] + cdb + [UInt8](repeating: 0, count: 32 - cdb.count)
    }

    /// `virtio_scsi_cmd_resp` with `sense` (padded to 96 bytes).
    static func response(status: UInt8, response: UInt8 = 0, resid: UInt32 = 0, senseLength: UInt32? = nil, sense: [UInt8] = []) -> [UInt8] {
        LE.u32(senseLength ?? UInt32(sense.count)) + LE.u32(resid) + LE.u16(0) + [status, response] + sense
            + [UInt8](repeating: 0, count: 96 - sense.count)
    }

    static let read10: [UInt8] = [0x28, 0, 0, 0, 0x08, 0x00, 0, 0x00, 0x08, 0]

    func testLinuxLUNAddressing() {
        let a = VirtioSCSIAddress(target: 2, lun: 0x123)
        XCTAssertEqual(a.bytes, [1, 2, 0x41, 0x23, 0, 0, 0, 0])
        XCTAssertEqual(a.target, 2)
        XCTAssertEqual(a.lun, 0x123)
        XCTAssertEqual(a.description, "2:291")
        let bad = VirtioSCSIAddress([0, 1, 0x40, 0])
        XCTAssertFalse(bad.isSingleLevel)
        XCTAssertEqual(bad.bytes.count, 8, "padded")
        XCTAssertEqual(bad.description, "lun 0001400000000000")
    }

    func testReadAndWriteCDBs() {
        let read10 = SCSICommandBlock(Self.read10)
        XCTAssertEqual(read10.name, "READ(10)")
        XCTAssertEqual(read10.blockRange?.lba, 2048)
        XCTAssertEqual(read10.blockRange?.blocks, 8)
        let read6 = SCSICommandBlock([0x08, 0x3f, 0xff, 0xfe, 0x00, 0])
        XCTAssertEqual(read6.blockRange?.lba, 0x1f_fffe, "the top three bits of byte 1 are not the LBA")
        XCTAssertEqual(read6.blockRange?.blocks, 256, "READ(6) length 0 is 256 blocks")
        XCTAssertEqual(SCSICommandBlock([0x0a, 0, 0, 9, 4, 0]).summary, "WRITE(6) lba 9 blocks 4")
        let write16 = SCSICommandBlock([0x8a, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        XCTAssertEqual(write16.summary, "WRITE(16) lba 4294967296 blocks 65536")
        XCTAssertEqual(SCSICommandBlock([0x88] + [UInt8](repeating: 0xff, count: 15)).blockRange?.lba, UInt64.max)
        XCTAssertEqual(SCSICommandBlock([0xa8, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0]).summary, "READ(12) lba 256 blocks 2")
        XCTAssertNil(SCSICommandBlock([0x28, 0, 0, 0]).blockRange, "a READ(10) cut short has no range")
        XCTAssertEqual(SCSICommandBlock([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]).summary, "SYNCHRONIZE CACHE(10) lba 0 blocks 0")
    }

    func testOtherCDBs() {
        XCTAssertEqual(SCSICommandBlock([0x00, 0, 0, 0, 0, 0]).summary, "TEST UNIT READY")
        XCTAssertEqual(SCSICommandBlock([0x12, 0, 0, 0, 36, 0]).summary, "INQUIRY alloc 36")
        XCTAssertEqual(SCSICommandBlock([0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]).summary, "REPORT LUNS alloc 4096")
        XCTAssertEqual(SCSICommandBlock([0x25] + [UInt8](repeating: 0, count: 9)).summary, "READ CAPACITY(10)")
        XCTAssertEqual(SCSICommandBlock([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]).summary, "READ CAPACITY(16) alloc 32")
        XCTAssertEqual(SCSICommandBlock([0x1a, 0x08, 0x3f, 0, 192, 0]).summary, "MODE SENSE(6) alloc 192")
        XCTAssertEqual(SCSICommandBlock([0x5a, 0, 0x3f, 0, 0, 0, 0, 0x01, 0x00, 0]).summary, "MODE SENSE(10) alloc 256")
        XCTAssertEqual(SCSICommandBlock([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0]).name, "UNMAP")
        XCTAssertEqual(SCSICommandBlock([0xc5]).name, "opcode 0xc5")
        XCTAssertEqual(SCSICommandBlock([]).name, "empty CDB")
        XCTAssertEqual(SCSICommandBlock.length(operationCode: 0x88), 16)
        XCTAssertEqual(SCSICommandBlock.length(operationCode: 0x28), 10)
        XCTAssertNil(SCSICommandBlock.length(operationCode: 0xc0))
    }

    func testStatusAndSense() {
        XCTAssertEqual(SCSIStatus.checkCondition.description, "CHECK CONDITION")
        XCTAssertEqual(SCSIStatus(rawValue: 0x18).description, "RESERVATION CONFLICT")
        XCTAssertEqual(SCSIStatus(rawValue: 0x7e).description, "status 0x7e")
        let fixed = SCSISense([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x00])
        XCTAssertEqual(fixed?.format, .fixed)
        XCTAssertEqual(fixed?.key, 5)
        XCTAssertEqual(fixed?.summary, "ILLEGAL REQUEST asc 0x24/0x00")
        let descriptor = SCSISense([0xf2, 0x06, 0x29, 0x01])
        XCTAssertEqual(descriptor?.format, .descriptor)
        XCTAssertEqual(descriptor?.summary, "UNIT ATTENTION asc 0x29/0x01")
        XCTAssertEqual(SCSISense([0x71, 0, 0x03])?.summary, "deferred MEDIUM ERROR asc 0x00/0x00", "fields past the data read as 0")
        XCTAssertNil(SCSISense([0x70, 0]), "too short for the key")
        XCTAssertNil(SCSISense([0x7f, 0, 0, 0]), "vendor format")
        XCTAssertNil(SCSISense([]))
    }

    func testCommandAndGoodResponse() throws {
        let guest = PayloadTestGuest([
            .init(at: 0x100, Self.request(cdb: Self.read10)),
            .init(at: 0x200, Self.response(status: 0), writable: true),
            .init(at: 0x1000, [], length: 4096, writable: true),
        ])
        guard case .scsiCommand(let inFlight)? = guest.decode("virtio-scsi", queue: 2) else { return XCTFail("not a SCSI command") }
        XCTAssertEqual(inFlight.request?.address, VirtioSCSIAddress(target: 0, lun: 1))
        XCTAssertEqual(inFlight.request?.tag, 7)
        XCTAssertEqual(inFlight.request?.cdb.bytes.count, 32)
        XCTAssertNil(inFlight.response)
        XCTAssertEqual(inFlight.dataIn, 4096)
        XCTAssertEqual(inFlight.dataOut, 0)
        XCTAssertNil(inFlight.defect)
        XCTAssertEqual(inFlight.summary, "scsi 0:1 tag 7 READ(10) lba 2048 blocks 8")
        let done = try XCTUnwrap(guest.decode("virtio-scsi", queue: 3, completed: 108 + 4096))
        XCTAssertEqual(done.summary, "scsi 0:1 tag 7 READ(10) lba 2048 blocks 8 → ok GOOD")
    }

    func testCheckConditionWithSense() {
        let sense: [UInt8] = [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00]
        let c = VirtioSCSICommand(readable: Self.request(tag: 1, cdb: [0x4d, 0, 0, 0, 0, 0, 0, 0, 0x40, 0]), readableLength: 51,
                                  written: Self.response(status: 2, resid: 64, sense: sense), writableLength: 108 + 64)
        XCTAssertEqual(c.response?.status, .checkCondition)
        XCTAssertEqual(c.response?.senseLength, 14)
        XCTAssertEqual(c.response?.residual, 64)
        XCTAssertEqual(c.response?.sense?.additionalCode, 0x20)
        XCTAssertEqual(c.summary, "scsi 0:1 tag 1 LOG SENSE alloc 64 → ok CHECK CONDITION ILLEGAL REQUEST asc 0x20/0x00 resid 64")
    }

    func testWriteWithDataOutAndTransportFailure() {
        let c = VirtioSCSICommand(readable: Self.request(target: 3, lun: 0, tag: 9, attribute: 1, cdb: [0x2a, 0, 0, 0, 0, 16, 0, 0, 1, 0]),
                                  readableLength: 51 + 512, written: Self.response(status: 0, response: 3), writableLength: 108)
        XCTAssertEqual(c.dataOut, 512)
        XCTAssertEqual(c.response?.response, VirtioSCSIResponseCode(rawValue: 3))
        XCTAssertEqual(c.summary, "scsi 3:0 tag 9 WRITE(10) lba 16 blocks 1 ordered out 512 → bad-target")
    }

    func testT10ProtectionInformation() {
        let bytes = VirtioSCSIAddress(target: 0, lun: 0).bytes + LE.u64(2) + [0, 0, 0] + LE.u32(8) + LE.u32(0) + Self.read10
            + [UInt8](repeating: 0, count: 22)
        let c = VirtioSCSICommand(readable: bytes, readableLength: 59, written: nil, writableLength: 0, protectionInformation: true)
        XCTAssertEqual(c.request?.protectionBytesOut, 8)
        XCTAssertEqual(c.request?.protectionBytesIn, 0)
        XCTAssertEqual(c.request?.cdb.name, "READ(10)")
        XCTAssertNil(c.defect)
    }

    func testTruncatedAndHostileCommands() {
        let short = VirtioSCSICommand(readable: [1, 0, 0x40, 1, 0, 0, 0, 0, 7, 0], readableLength: 10, written: nil, writableLength: 0)
        XCTAssertNil(short.request)
        XCTAssertEqual(short.defect, .truncated(needed: 20, present: 10))
        XCTAssertEqual(short.summary, "scsi (truncated: 10 of 20 bytes)")
        let cutCDB = VirtioSCSICommand(readable: Array(Self.request(cdb: Self.read10).prefix(24)), readableLength: 24, written: nil, writableLength: 0)
        XCTAssertEqual(cutCDB.request?.cdb.name, "READ(10)")
        XCTAssertNil(cutCDB.request?.cdb.blockRange)
        XCTAssertEqual(cutCDB.defect, .truncated(needed: 51, present: 24), "QEMU refuses a request shorter than virtio_scsi_cmd_req")
        let hugeSense = VirtioSCSICommand(readable: Self.request(cdb: [0]), readableLength: 51,
                                          written: Self.response(status: 2, senseLength: 0xffff_ffff, sense: [0x70, 0, 2]), writableLength: 108)
        XCTAssertEqual(hugeSense.response?.sense?.keyName, "NOT READY")
        XCTAssertEqual(hugeSense.defect, .malformed("sense_len 4294967295 past the 96-byte sense buffer"))
        let shortResponse = VirtioSCSICommand(readable: Self.request(cdb: [0]), readableLength: 51, written: [0, 0, 0, 0, 0], writableLength: 108)
        XCTAssertNil(shortResponse.response)
        XCTAssertEqual(shortResponse.defect, .truncated(needed: 12, present: 5))
        XCTAssertTrue(shortResponse.summary.hasSuffix("(truncated: 5 of 12 bytes)"), shortResponse.summary)
    }

    func testTaskManagementAndAsyncNotification() throws {
        let tmf = LE.u32(0) + LE.u32(5) + VirtioSCSIAddress(target: 0, lun: 1).bytes + LE.u64(0)
        let reset = VirtioSCSIControl(readable: tmf, written: [10])
        XCTAssertEqual(reset.kind, .taskManagement(subtype: 5, tag: 0))
        XCTAssertEqual(reset.response, VirtioSCSIResponseCode(rawValue: 10))
        XCTAssertEqual(reset.summary, "scsi-ctrl TMF LOGICAL_UNIT_RESET 0:1 tag 0 → function-succeeded")
        XCTAssertEqual(VirtioSCSIControl(readable: tmf, written: nil).summary, "scsi-ctrl TMF LOGICAL_UNIT_RESET 0:1 tag 0")
        let an = LE.u32(1) + VirtioSCSIAddress(target: 0, lun: 0).bytes + LE.u32(0x10)
        let query = VirtioSCSIControl(readable: an, written: LE.u32(0x10) + [0])
        XCTAssertEqual(query.kind, .asyncNotification(subscribe: false, eventsRequested: 0x10))
        XCTAssertEqual(query.eventsActual, 0x10)
        XCTAssertEqual(query.summary, "scsi-ctrl AN_QUERY 0:0 events 0x10 → ok events 0x10")
        XCTAssertEqual(VirtioSCSIControl(readable: LE.u32(2) + an.dropFirst(4), written: [1]).defect, .truncated(needed: 5, present: 1))
        XCTAssertEqual(VirtioSCSIControl(readable: LE.u32(0) + LE.u32(1), written: nil).defect, .truncated(needed: 24, present: 8))
        XCTAssertEqual(VirtioSCSIControl(readable: [1, 2], written: nil).summary, "scsi-ctrl (truncated: 2 of 4 bytes)")
        XCTAssertEqual(VirtioSCSIControl(readable: LE.u32(77), written: nil).summary, "scsi-ctrl type 77")
        let guest = PayloadTestGuest([.init(at: 0x100, tmf), .init(at: 0x200, [3], writable: true)])
        XCTAssertEqual(try XCTUnwrap(guest.decode("virtio-scsi", queue: 0, completed: 1)).summary,
                       "scsi-ctrl TMF LOGICAL_UNIT_RESET 0:1 tag 0 → bad-target")
    }

    func testEvents() throws {
        let rescan = try XCTUnwrap(VirtioSCSIEvent(LE.u32(1) + VirtioSCSIAddress(target: 0, lun: 3).bytes + LE.u32(1)))
        XCTAssertEqual(rescan.summary, "scsi-event TRANSPORT_RESET 0:3 rescan")
        let change = try XCTUnwrap(VirtioSCSIEvent(LE.u32(3) + VirtioSCSIAddress(target: 1, lun: 0).bytes + LE.u32(0x0229)))
        XCTAssertEqual(change.summary, "scsi-event PARAM_CHANGE 1:0 asc 0x29/0x02")
        let missed = try XCTUnwrap(VirtioSCSIEvent(LE.u32(0x8000_0000) + [UInt8](repeating: 0, count: 12)))
        XCTAssertTrue(missed.eventsMissed)
        XCTAssertEqual(missed.eventName, "NO_EVENT")
        XCTAssertNil(VirtioSCSIEvent([UInt8](repeating: 0, count: 15)))
        let guest = PayloadTestGuest([.init(at: 0x300, LE.u32(1) + VirtioSCSIAddress(target: 0, lun: 0).bytes + LE.u32(2), writable: true)])
        XCTAssertNil(guest.decode("virtio-scsi", queue: 1), "an event buffer in flight holds nothing yet")
        XCTAssertEqual(guest.decode("virtio-scsi", queue: 1, completed: 16), .scsiEvent(try XCTUnwrap(VirtioSCSIEvent(
            LE.u32(1) + VirtioSCSIAddress(target: 0, lun: 0).bytes + LE.u32(2)))))
        XCTAssertEqual(guest.decode("virtio-scsi", queue: 1, completed: 6), .undecodable(family: "scsi-event", defect: .truncated(needed: 16, present: 6)))
    }
}
