/// The 8-byte LUN field of virtio-scsi requests and events (virtio 1.2, 5.6.6.1): Linux writes
/// byte 0 = 1, byte 1 = the target, bytes 2-3 = 0x4000 | LUN (big-endian, flat addressing), and
/// QEMU reads the LUN as `(lun[2] << 8 | lun[3]) & 0x3fff`.
public struct VirtioSCSIAddress: Sendable, Hashable, CustomStringConvertible {
    /// The eight bytes as written.
    public var bytes: [UInt8]

    /// The address in `bytes` (padded with zeros to 8 bytes, cut to 8).
    public init(_ bytes: some Collection<UInt8>) {
        self.bytes = Array(bytes.prefix(8)) + [UInt8](repeating: 0, count: max(0, 8 - bytes.count))
    }

    /// The address Linux builds for `target` and `lun`.
    public init(target: UInt8, lun: UInt16) {
        self.init([1, target, UInt8(0x40 | (lun >> 8) & 0x3f), UInt8(lun & 0xff), 0, 0, 0, 0])
    }

    /// Whether the bytes follow the single-level format virtio-scsi devices accept (byte 0 = 1).
    public var isSingleLevel: Bool { bytes[0] == 1 }

    /// The target (byte 1).
    public var target: UInt8 { bytes[1] }

    /// The LUN (bytes 2-3 without the addressing-method bits).
    public var lun: UInt16 { (UInt16(bytes[2]) << 8 | UInt16(bytes[3])) & 0x3fff }

    /// `0:1` (target:LUN), or the raw bytes (`lun 00000000...`) when byte 0 is not 1: a device
    /// answers those with BAD_TARGET.
    public var description: String {
        isSingleLevel ? "\(target):\(lun)" : "lun " + bytes.map { String($0, radix: 16).leftPadded(2) }.joined()
    }
}
