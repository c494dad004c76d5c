/// A SCSI status byte (SAM-5, 5.3): how the logical unit completed a command.
public struct SCSIStatus: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let good = SCSIStatus(rawValue: 0x00)
    public static let checkCondition = SCSIStatus(rawValue: 0x02)

    /// `GOOD`, `CHECK CONDITION`, `BUSY`...; `status 0x..` for a value SAM does not define.
    public var description: String {
        switch rawValue {
        case 0x00: return "GOOD"
        case 0x02: return "CHECK CONDITION"
        case 0x04: return "CONDITION MET"
        case 0x08: return "BUSY"
        case 0x10: return "INTERMEDIATE"
        case 0x14: return "INTERMEDIATE-CONDITION MET"
        case 0x18: return "RESERVATION CONFLICT"
        case 0x22: return "COMMAND TERMINATED"
        case 0x28: return "TASK SET FULL"
        case 0x30: return "ACA ACTIVE"
        case 0x40: return "TASK ABORTED"
        default: return "status 0x" + String(rawValue, radix: 16).leftPadded(2)
        }
    }
}
