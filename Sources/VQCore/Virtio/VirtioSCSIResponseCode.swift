/// The `response` byte of a virtio-scsi reply (virtio 1.2, 5.6.6.1 and 5.6.6.2): whether the
/// transport delivered the command or task management function.
public struct VirtioSCSIResponseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let ok = VirtioSCSIResponseCode(rawValue: 0)

    /// `ok`, `overrun`, `bad-target`, `function-rejected`...
    public var description: String {
        let names = ["ok", "overrun", "aborted", "bad-target", "reset", "busy", "transport-failure", "target-failure",
                     "nexus-failure", "failure", "function-succeeded", "function-rejected", "incorrect-lun"]
        return Int(rawValue) < names.count ? names[Int(rawValue)] : "response \(rawValue)"
    }
}
