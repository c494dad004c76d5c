/// A SCSI command descriptor block (SBC-4, SPC-5): the operation by name and, for the block reads
/// and writes, the logical block address and the number of blocks. SCSI fields are big-endian.
public struct SCSICommandBlock: Sendable, Hashable {
    /// The CDB's bytes as the driver wrote them (at most the 32 of virtio-scsi's default `cdb_size`).
    public var bytes: [UInt8]

    /// A CDB from its bytes (no check: an empty one has no operation).
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The operation code, byte 0.
    public var operationCode: UInt8? { bytes.first }

    /// The service action of SERVICE ACTION IN(16) and MAINTENANCE IN/OUT (byte 1, bits 0-4).
    public var serviceAction: UInt8? { bytes.count > 1 ? bytes[1] & 0x1f : nil }

    /// How long the CDB of `operationCode` is, by its group code (SPC-5, 4.2.5.1); nil for the
    /// vendor-specific and reserved groups.
    public static func length(operationCode: UInt8) -> Int? {
        switch operationCode >> 5 {
        case 0: return 6
        case 1, 2: return 10
        case 4: return 16
        case 5: return 12
        default: return operationCode == 0x7f ? 8 : nil
        }
    }

    /// `READ(10)`, `INQUIRY`, `READ CAPACITY(16)`...; `opcode 0xc5` for one not named here.
    public var name: String {
        guard let op = operationCode else { return "empty CDB" }
        if op == 0x9e, serviceAction == 0x10 { return "READ CAPACITY(16)" }
        if op == 0x9e, serviceAction == 0x12 { return "GET LBA STATUS" }
        if op == 0xa3, serviceAction == 0x0c { return "REPORT SUPPORTED OPERATION CODES" }
        if op == 0xa3, serviceAction == 0x0a { return "REPORT TARGET PORT GROUPS" }
        return Self.names[op] ?? "opcode 0x" + String(op, radix: 16).leftPadded(2)
    }

    private static let names: [UInt8: String] = [
        0x00: "TEST UNIT READY", 0x01: "REZERO UNIT", 0x03: "REQUEST SENSE", 0x04: "FORMAT UNIT",
        0x08: "READ(6)", 0x0a: "WRITE(6)", 0x12: "INQUIRY", 0x15: "MODE SELECT(6)", 0x16: "RESERVE(6)",
        0x17: "RELEASE(6)", 0x1a: "MODE SENSE(6)", 0x1b: "START STOP UNIT", 0x1d: "SEND DIAGNOSTIC",
        0x1e: "PREVENT ALLOW MEDIUM REMOVAL", 0x23: "READ FORMAT CAPACITIES", 0x25: "READ CAPACITY(10)",
        0x28: "READ(10)", 0x2a: "WRITE(10)", 0x2b: "SEEK(10)", 0x2e: "WRITE AND VERIFY(10)", 0x2f: "VERIFY(10)",
        0x35: "SYNCHRONIZE CACHE(10)", 0x37: "READ DEFECT DATA(10)", 0x3b: "WRITE BUFFER", 0x3c: "READ BUFFER",
        0x41: "WRITE SAME(10)", 0x42: "UNMAP", 0x43: "READ TOC/PMA/ATIP", 0x46: "GET CONFIGURATION",
        0x4a: "GET EVENT STATUS NOTIFICATION", 0x4c: "LOG SELECT", 0x4d: "LOG SENSE", 0x51: "READ DISC INFORMATION",
        0x55: "MODE SELECT(10)", 0x56: "RESERVE(10)", 0x57: "RELEASE(10)", 0x5a: "MODE SENSE(10)",
        0x5e: "PERSISTENT RESERVE IN", 0x5f: "PERSISTENT RESERVE OUT", 0x7f: "VARIABLE LENGTH",
        0x83: "EXTENDED COPY", 0x84: "RECEIVE COPY RESULTS", 0x88: "READ(16)", 0x89: "COMPARE AND WRITE",
        0x8a: "WRITE(16)", 0x8e: "WRITE AND VERIFY(16)", 0x8f: "VERIFY(16)", 0x91: "SYNCHRONIZE CACHE(16)",
        0x93: "WRITE SAME(16)", 0x9e: "SERVICE ACTION IN(16)", 0xa0: "REPORT LUNS", 0xa3: "MAINTENANCE IN",
        0xa4: "MAINTENANCE OUT", 0xa8: "READ(12)", 0xaa: "WRITE(12)", 0xac: "GET PERFORMANCE", 0xad: "READ DVD STRUCTURE",
        0xaf: "VERIFY(12)", 0xbb: "SET CD SPEED", 0xbe: "READ CD",
    ]

    /// Where a block read or write starts and how many blocks it moves: READ/WRITE(6/10/12/16),
    /// VERIFY, WRITE SAME and SYNCHRONIZE CACHE(10/16); nil for other operations or a CDB too short
    /// for the fields. A READ(6)/WRITE(6) length of 0 means 256 blocks (SBC-4, 5.20).
    public var blockRange: (lba: UInt64, blocks: UInt32)? {
        guard let op = operationCode, let size = Self.blockFieldsEnd(op), bytes.count >= size else { return nil }
        switch size {
        case 6:
            let lba = UInt64(bytes[1] & 0x1f) << 16 | UInt64(bytes[2]) << 8 | UInt64(bytes[3])
            let blocks = op == 0x08 || op == 0x0a ? (bytes[4] == 0 ? 256 : UInt32(bytes[4])) : UInt32(bytes[4])
            return (lba, blocks)
        case 10: return (UInt64(bigEndian(2, 4)), UInt32(bigEndian(7, 2)))
        case 12: return (UInt64(bigEndian(2, 4)), UInt32(bigEndian(6, 4)))
        default: return (bigEndian(2, 8), UInt32(bigEndian(10, 4)))
        }
    }

    /// The CDB size holding the LBA and length of the block operations that have them.
    private static func blockFieldsEnd(_ op: UInt8) -> Int? {
        switch op {
        case 0x08, 0x0a: return 6
        case 0x28, 0x2a, 0x2e, 0x2f, 0x35, 0x41: return 10
        case 0xa8, 0xaa, 0xaf: return 12
        case 0x88, 0x8a, 0x8e, 0x8f, 0x91, 0x93: return 16
        default: return nil
        }
    }

    /// The allocation length of INQUIRY, MODE SENSE, REPORT LUNS, READ CAPACITY(16), REQUEST SENSE
    /// (how many bytes the driver lets the device return); nil for other operations.
    public var allocationLength: UInt32? {
        guard let op = operationCode else { return nil }
        let field: (Int, Int)?
        switch op {
        case 0x03, 0x1a: field = (4, 1)
        case 0x12: field = (3, 2)
        case 0x5a, 0x4d: field = (7, 2)
        case 0xa0: field = (6, 4)
        case 0x9e where serviceAction == 0x10: field = (10, 4)
        default: field = nil
        }
        guard let (at, count) = field, bytes.count >= at + count else { return nil }
        return UInt32(bigEndian(at, count))
    }

    /// The big-endian integer of `count` bytes at `at` (the caller checked they are there).
    private func bigEndian(_ at: Int, _ count: Int) -> UInt64 {
        bytes[at..<at + count].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// `READ(10) lba 2048 blocks 8`, `INQUIRY alloc 36`, `TEST UNIT READY`.
    public var summary: String {
        var s = name
        if let range = blockRange { s += " lba \(range.lba) blocks \(range.blocks)" }
        if let length = allocationLength { s += " alloc \(length)" }
        return s
    }
}
