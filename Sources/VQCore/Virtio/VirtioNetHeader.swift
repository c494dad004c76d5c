/// The header in front of every virtio-net frame (virtio 1.2, 5.1.6): offload flags, GSO fields,
/// and on receive the number of buffers a frame was merged from.
public struct VirtioNetHeader: Sendable, Hashable {
    /// How big the header is and which fields it has, from the negotiated features.
    public struct Format: Sendable, Hashable {
        /// Bytes in front of the frame: 10 (legacy without mergeable buffers), 12 (VERSION_1 or
        /// MRG_RXBUF), 20 (with HASH_REPORT).
        public var size: Int
        /// Whether `num_buffers` counts merged receive buffers (MRG_RXBUF). Without it a frame is one
        /// buffer whatever the field says.
        public var mergeable: Bool

        public init(size: Int, mergeable: Bool) {
            self.size = size
            self.mergeable = mergeable
        }

        /// The format the driver and device agreed on.
        public init(features: VirtioFeatures) {
            let mergeable = features.contains(.netMergeableReceiveBuffers)
            var size = features.contains(.version1) || mergeable ? 12 : 10
            if features.contains(.netHashReport) { size = 20 }
            self.init(size: size, mergeable: mergeable)
        }
    }

    public var flags: UInt8
    public var gsoType: UInt8
    public var headerLength: UInt16
    public var gsoSize: UInt16
    public var csumStart: UInt16
    public var csumOffset: UInt16
    /// Buffers this received frame spans (1 without mergeable buffers).
    public var numBuffers: UInt16

    /// Decodes the header at the start of `bytes`; nil when they are shorter than the format's size.
    public init?(_ bytes: [UInt8], format: Format) {
        guard bytes.count >= format.size, format.size >= 10 else { return nil }
        let v = ByteView(Array(bytes.prefix(format.size)))
        flags = bytes[0]
        gsoType = bytes[1]
        headerLength = v.u16(2)
        gsoSize = v.u16(4)
        csumStart = v.u16(6)
        csumOffset = v.u16(8)
        numBuffers = format.mergeable && format.size >= 12 ? max(v.u16(10), 1) : 1
    }

    /// `none`, `tcpv4`, `udp`, `tcpv6`, `udp_l4`, with `+ecn`.
    public var gsoName: String {
        let base: String
        switch gsoType & 0x7f {
        case 0: base = "none"
        case 1: base = "tcpv4"
        case 3: base = "udp"
        case 4: base = "tcpv6"
        case 5: base = "udp_l4"
        default: base = "type-\(gsoType & 0x7f)"
        }
        return gsoType & 0x80 != 0 ? base + "+ecn" : base
    }

    /// The fields for people, as a capture's packet comment carries them.
    public var description: String {
        "flags 0x" + String(flags, radix: 16).leftPadded(2) + " gso \(gsoName) hdr_len \(headerLength) gso_size \(gsoSize)"
            + " csum_start \(csumStart) csum_offset \(csumOffset) num_buffers \(numBuffers)"
    }
}

extension VirtioFeatures {
    /// VIRTIO_NET_F_MRG_RXBUF (15): received frames may span several buffers.
    public static let netMergeableReceiveBuffers = VirtioFeatures(rawValue: 1 << 15)
    /// VIRTIO_NET_F_CTRL_VQ (17): the device has a control queue.
    public static let netControlQueue = VirtioFeatures(rawValue: 1 << 17)
    /// VIRTIO_NET_F_HASH_REPORT (57): the header carries a hash report (20 bytes).
    public static let netHashReport = VirtioFeatures(rawValue: 1 << 57)
}
