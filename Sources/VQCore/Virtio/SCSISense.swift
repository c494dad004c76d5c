/// SCSI sense data (SPC-5, 4.4): why a command ended in CHECK CONDITION, in the fixed (response
/// codes 0x70/0x71) or descriptor (0x72/0x73) format.
public struct SCSISense: Sendable, Hashable {
    /// The sense data format.
    public enum Format: String, Sendable, Hashable {
        case fixed, descriptor
    }

    /// The response code (byte 0, bits 0-6).
    public var responseCode: UInt8
    public var format: Format
    /// Deferred errors (0x71, 0x73) report an earlier command's failure.
    public var isDeferred: Bool
    /// The sense key (0-15).
    public var key: UInt8
    /// The additional sense code and its qualifier (0 when the data stops before them).
    public var additionalCode: UInt8
    public var additionalQualifier: UInt8

    /// Decodes the sense bytes the device wrote; nil when they are not sense data of a known format
    /// (empty, or a response code other than 0x70-0x73), or too short for the sense key.
    public init?(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return nil }
        responseCode = first & 0x7f
        switch responseCode {
        case 0x70, 0x71:
            guard bytes.count >= 3 else { return nil }
            format = .fixed
            key = bytes[2] & 0x0f
            additionalCode = bytes.count > 12 ? bytes[12] : 0
            additionalQualifier = bytes.count > 13 ? bytes[13] : 0
        case 0x72, 0x73:
            guard bytes.count >= 2 else { return nil }
            format = .descriptor
            key = bytes[1] & 0x0f
            additionalCode = bytes.count > 2 ? bytes[2] : 0
            additionalQualifier = bytes.count > 3 ? bytes[3] : 0
        default:
            return nil
        }
        isDeferred = responseCode & 1 != 0
    }

    /// `ILLEGAL REQUEST`, `UNIT ATTENTION`... (SPC-5, table 52).
    public var keyName: String {
        ["NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR", "HARDWARE ERROR", "ILLEGAL REQUEST",
         "UNIT ATTENTION", "DATA PROTECT", "BLANK CHECK", "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
         "EQUAL", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED"][Int(key & 0x0f)]
    }

    /// `ILLEGAL REQUEST asc 0x24/0x00` (with `deferred` for a deferred error).
    public var summary: String {
        (isDeferred ? "deferred " : "") + keyName + " asc 0x" + String(additionalCode, radix: 16).leftPadded(2)
            + "/0x" + String(additionalQualifier, radix: 16).leftPadded(2)
    }
}
