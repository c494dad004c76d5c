/// A virtio-scsi command on a request queue (virtio 1.2, 5.6.6.1): `virtio_scsi_cmd_req` the
/// driver writes (LUN, tag, task attribute, priority, CRN, CDB), and once the device used it,
/// `virtio_scsi_cmd_resp` (sense length, residual, status qualifier, status, response, sense).
public struct VirtioSCSICommand: Sendable, Hashable {
    /// `virtio_scsi_cmd_req`, or `virtio_scsi_cmd_req_pi` with VIRTIO_SCSI_F_T10_PI.
    public struct Request: Sendable, Hashable {
        public var address: VirtioSCSIAddress
        public var tag: UInt64
        /// 0 SIMPLE, 1 ORDERED, 2 HEAD OF QUEUE, 3 ACA.
        public var taskAttribute: UInt8
        public var priority: UInt8
        public var crn: UInt8
        /// T10 PI bytes out and in (only with VIRTIO_SCSI_F_T10_PI).
        public var protectionBytesOut: UInt32?
        public var protectionBytesIn: UInt32?
        public var cdb: SCSICommandBlock

        /// `simple`, `ordered`, `head-of-queue`, `aca`.
        public var taskAttributeName: String {
            let names = ["simple", "ordered", "head-of-queue", "aca"]
            return Int(taskAttribute) < names.count ? names[Int(taskAttribute)] : "task-attr \(taskAttribute)"
        }
    }

    /// `virtio_scsi_cmd_resp`.
    public struct Response: Sendable, Hashable {
        /// How many sense bytes the device says it wrote.
        public var senseLength: UInt32
        /// Bytes of the data buffer not transferred.
        public var residual: UInt32
        public var statusQualifier: UInt16
        public var status: SCSIStatus
        public var response: VirtioSCSIResponseCode
        /// The sense data, when `senseLength` is not 0 and its format is known.
        public var sense: SCSISense?
    }

    /// The request's fixed part: LUN 8, tag 8, task_attr, prio, crn (19 bytes); with T10 PI 8 more.
    public static func requestHeaderSize(protectionInformation: Bool) -> Int { protectionInformation ? 27 : 19 }
    /// The CDB size QEMU and Linux use unless the device's configuration changes it.
    public static let defaultCDBSize = 32
    /// The response's fixed part (12 bytes) before the sense data.
    public static let responseHeaderSize = 12
    /// The sense size QEMU and Linux use unless the device's configuration changes it.
    public static let defaultSenseSize = 96

    /// The request, unless the driver's bytes were too short for its header (see `defect`).
    public var request: Request?
    /// The response, once the device used the chain and wrote at least its fixed part.
    public var response: Response?
    /// Bytes of data the driver sends after the request (data-out).
    public var dataOut: UInt64
    /// Room for data the device returns after the response (data-in).
    public var dataIn: UInt64
    /// What was wrong with the bytes (a short request, a short response, a sense length past the
    /// sense buffer).
    public var defect: PayloadDefect?

    /// Decodes the request from the first bytes of the chain's device-readable part (`readable`, of
    /// `readableLength` in all) and, once used (`written`: the first bytes of what the device
    /// wrote), the response; `writableLength` is the device-writable part's size.
    public init(readable: [UInt8], readableLength: UInt64, written: [UInt8]?, writableLength: UInt64,
                protectionInformation: Bool = false) {
        let headerSize = Self.requestHeaderSize(protectionInformation: protectionInformation)
        let requestSize = headerSize + Self.defaultCDBSize
        let responseSize = Self.responseHeaderSize + Self.defaultSenseSize
        dataOut = readableLength > UInt64(requestSize) ? readableLength - UInt64(requestSize) : 0
        dataIn = writableLength > UInt64(responseSize) ? writableLength - UInt64(responseSize) : 0
        var r = PayloadReader(readable)
        if let lun = r.take(8), let tag = r.u64(), let attribute = r.u8(), let priority = r.u8(), let crn = r.u8() {
            let piOut = protectionInformation ? r.u32() : nil, piIn = protectionInformation ? r.u32() : nil
            if !protectionInformation || piIn != nil, r.remaining > 0 {
                request = Request(address: VirtioSCSIAddress(lun), tag: tag, taskAttribute: attribute, priority: priority, crn: crn,
                                  protectionBytesOut: piOut, protectionBytesIn: piIn,
                                  cdb: SCSICommandBlock(Array(r.takeUpTo(Self.defaultCDBSize))))
            }
        }
        if request == nil { defect = .truncated(needed: headerSize + 1, present: readable.count) }
        // QEMU refuses a request or response part shorter than the structures (virtio_scsi_parse_req).
        if readableLength < UInt64(requestSize) { defect = defect ?? .truncated(needed: requestSize, present: Int(readableLength)) }
        if written != nil, writableLength < UInt64(responseSize) {
            defect = defect ?? .truncated(needed: responseSize, present: Int(writableLength))
        }
        guard let written else { return }
        var w = PayloadReader(written)
        guard let senseLength = w.u32(), let residual = w.u32(), let qualifier = w.u16(), let status = w.u8(), let response = w.u8() else {
            defect = defect ?? .truncated(needed: Self.responseHeaderSize, present: written.count)
            return
        }
        let senseBytes = w.takeUpTo(Int(min(senseLength, UInt32(Self.defaultSenseSize))))
        self.response = Response(senseLength: senseLength, residual: residual, statusQualifier: qualifier, status: SCSIStatus(rawValue: status),
                                 response: VirtioSCSIResponseCode(rawValue: response),
                                 sense: senseLength > 0 ? SCSISense(Array(senseBytes)) : nil)
        if senseLength > UInt32(Self.defaultSenseSize) {
            defect = defect ?? .malformed("sense_len \(senseLength) past the \(Self.defaultSenseSize)-byte sense buffer")
        }
    }

    /// `scsi 0:1 tag 7 READ(10) lba 2048 blocks 8 → ok GOOD`, with the sense key after CHECK
    /// CONDITION and the residual when not 0.
    public var summary: String {
        var s = "scsi"
        if let request {
            s += " \(request.address) tag \(request.tag) " + request.cdb.summary
            if request.taskAttribute != 0 { s += " " + request.taskAttributeName }
        }
        if dataOut > 0 { s += " out \(dataOut)" }
        if let response {
            s += " → \(response.response)"
            if response.response == .ok { s += " \(response.status)" }
            if let sense = response.sense { s += " " + sense.summary }
            if response.residual != 0 { s += " resid \(response.residual)" }
        }
        if let defect { s += " (\(defect))" }
        return s
    }
}

extension VirtioFeatures {
    /// VIRTIO_SCSI_F_T10_PI (3): requests carry T10 protection information byte counts.
    public static let scsiProtectionInformation = VirtioFeatures(rawValue: 1 << 3)
}
