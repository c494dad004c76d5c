/// The virtio-net header (virtio 1.2, 5.1.6) in front of every frame: 12 bytes with VERSION_1.
struct VirtioNetHeader: Hashable, Sendable {
    static let size = 12
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM (1), VIRTIO_NET_HDR_F_DATA_VALID (2).
    var flags: UInt8 = 0
    var checksumStart: UInt16 = 0
    var checksumOffset: UInt16 = 0
    var buffers: UInt16 = 1

    /// The header's 12 little-endian bytes.
    var bytes: [UInt8] {
        [flags, 0, 0, 0, 0, 0,
         UInt8(checksumStart & 0xff), UInt8(checksumStart >> 8), UInt8(checksumOffset & 0xff), UInt8(checksumOffset >> 8),
         UInt8(buffers & 0xff), UInt8(buffers >> 8)]
    }
}
