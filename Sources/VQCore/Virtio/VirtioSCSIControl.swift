/// A virtio-scsi control queue request (virtio 1.2, 5.6.6.2): a task management function
/// (`virtio_scsi_ctrl_tmf_req`: type 0, subtype, LUN, tag; reply: a response byte) or an
/// asynchronous notification query or subscription (`virtio_scsi_ctrl_an_req`: type 1 or 2, LUN,
/// event_requested; reply: event_actual, response).
public struct VirtioSCSIControl: Sendable, Hashable {
    /// The request's kind.
    public enum Kind: Sendable, Hashable {
        /// VIRTIO_SCSI_T_TMF with its subtype (ABORT_TASK...).
        case taskManagement(subtype: UInt32, tag: UInt64)
        /// VIRTIO_SCSI_T_AN_QUERY (`subscribe` false) or VIRTIO_SCSI_T_AN_SUBSCRIBE, with the
        /// events asked for.
        case asyncNotification(subscribe: Bool, eventsRequested: UInt32)
        /// A type the spec does not define.
        case unknown(type: UInt32)
    }

    /// The request, unless the bytes were too short for it (see `defect`).
    public var kind: Kind?
    public var address: VirtioSCSIAddress?
    /// The device's response byte, once used.
    public var response: VirtioSCSIResponseCode?
    /// The events the device reports for an AN request, once used.
    public var eventsActual: UInt32?
    public var defect: PayloadDefect?

    /// Decodes the request from the chain's first device-readable bytes and, once used, the reply
    /// from the first bytes the device wrote.
    public init(readable: [UInt8], written: [UInt8]?) {
        var r = PayloadReader(readable)
        guard let type = r.u32() else {
            defect = .truncated(needed: 4, present: readable.count)
            return
        }
        var w = written.map { PayloadReader($0) }
        switch type {
        case 0:
            guard let subtype = r.u32(), let lun = r.take(8), let tag = r.u64() else {
                defect = .truncated(needed: 24, present: readable.count)
                return
            }
            kind = .taskManagement(subtype: subtype, tag: tag)
            address = VirtioSCSIAddress(lun)
            if let byte = w?.u8() { response = VirtioSCSIResponseCode(rawValue: byte) }
            if let written, written.isEmpty { defect = .truncated(needed: 1, present: 0) }
        case 1, 2:
            guard let lun = r.take(8), let events = r.u32() else {
                defect = .truncated(needed: 16, present: readable.count)
                return
            }
            kind = .asyncNotification(subscribe: type == 2, eventsRequested: events)
            address = VirtioSCSIAddress(lun)
            if w != nil {
                if let actual = w?.u32(), let byte = w?.u8() {
                    eventsActual = actual
                    response = VirtioSCSIResponseCode(rawValue: byte)
                } else {
                    defect = .truncated(needed: 5, present: written?.count ?? 0)
                }
            }
        default:
            kind = .unknown(type: type)
        }
    }

    /// `ABORT_TASK`, `LOGICAL_UNIT_RESET`... (VIRTIO_SCSI_T_TMF_*).
    public static func subtypeName(_ subtype: UInt32) -> String {
        let names = ["ABORT_TASK", "ABORT_TASK_SET", "CLEAR_ACA", "CLEAR_TASK_SET", "I_T_NEXUS_RESET", "LOGICAL_UNIT_RESET",
                     "QUERY_TASK", "QUERY_TASK_SET"]
        return subtype < UInt32(names.count) ? names[Int(subtype)] : "subtype \(subtype)"
    }

    /// `scsi-ctrl TMF LOGICAL_UNIT_RESET 0:1 tag 0 → function-succeeded`.
    public var summary: String {
        var s = "scsi-ctrl"
        switch kind {
        case .taskManagement(let subtype, let tag)?:
            s += " TMF " + Self.subtypeName(subtype)
            if let address { s += " \(address)" }
            s += " tag \(tag)"
        case .asyncNotification(let subscribe, let events)?:
            s += subscribe ? " AN_SUBSCRIBE" : " AN_QUERY"
            if let address { s += " \(address)" }
            s += " events 0x" + String(events, radix: 16)
        case .unknown(let type)?:
            s += " type \(type)"
        case nil:
            break
        }
        if let response { s += " → \(response)" }
        if let eventsActual { s += " events 0x" + String(eventsActual, radix: 16) }
        if let defect { s += " (\(defect))" }
        return s
    }
}
