/// An event a virtio-scsi device writes into a buffer of its event queue (virtio 1.2, 5.6.6.3):
/// `virtio_scsi_event` (event u32, LUN, reason u32).
public struct VirtioSCSIEvent: Sendable, Hashable {
    /// The event, with VIRTIO_SCSI_T_EVENTS_MISSED (bit 31) when the device dropped some.
    public var event: UInt32
    public var address: VirtioSCSIAddress
    public var reason: UInt32

    /// The event's size: 16 bytes.
    public static let size = 16

    /// Decodes the event from the bytes the device wrote; nil when they are fewer than 16.
    public init?(_ bytes: [UInt8]) {
        var r = PayloadReader(bytes)
        guard let event = r.u32(), let lun = r.take(8), let reason = r.u32() else { return nil }
        self.event = event
        address = VirtioSCSIAddress(lun)
        self.reason = reason
    }

    /// Whether the device lost events before this one (VIRTIO_SCSI_T_EVENTS_MISSED).
    public var eventsMissed: Bool { event & 0x8000_0000 != 0 }

    /// `NO_EVENT`, `TRANSPORT_RESET`, `ASYNC_NOTIFY`, `PARAM_CHANGE`.
    public var eventName: String {
        let names = ["NO_EVENT", "TRANSPORT_RESET", "ASYNC_NOTIFY", "PARAM_CHANGE"]
        let code = event & 0x7fff_ffff
        return code < UInt32(names.count) ? names[Int(code)] : "event \(code)"
    }

    /// The reason for people: for TRANSPORT_RESET `hard`/`rescan`/`removed`; for PARAM_CHANGE the
    /// additional sense code and qualifier (reason = ASC | ASCQ << 8); else the number.
    public var reasonName: String {
        switch event & 0x7fff_ffff {
        case 1:
            let names = ["hard", "rescan", "removed"]
            return reason < UInt32(names.count) ? names[Int(reason)] : "reason \(reason)"
        case 3:
            return "asc 0x" + String(reason & 0xff, radix: 16).leftPadded(2) + "/0x" + String(reason >> 8 & 0xff, radix: 16).leftPadded(2)
        default:
            return "reason \(reason)"
        }
    }

    /// `scsi-event TRANSPORT_RESET 0:3 rescan`.
    public var summary: String {
        "scsi-event \(eventName)\(eventsMissed ? " (events missed)" : "") \(address) \(reasonName)"
    }
}
