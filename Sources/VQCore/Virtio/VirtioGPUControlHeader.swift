/// The header of every virtio-gpu command and response (virtio 1.2, 5.7.6.7):
/// `virtio_gpu_ctrl_hdr` (type u32, flags u32, fence_id u64, ctx_id u32, ring_idx u8, padding;
/// 24 bytes).
public struct VirtioGPUControlHeader: Sendable, Hashable {
    /// The header's size.
    public static let size = 24

    public var type: UInt32
    /// Bit 0 VIRTIO_GPU_FLAG_FENCE, bit 1 VIRTIO_GPU_FLAG_INFO_RING_IDX.
    public var flags: UInt32
    public var fenceID: UInt64
    public var contextID: UInt32
    public var ringIndex: UInt8

    /// Decodes the header at the start of `bytes`; nil when they are fewer than 24.
    public init?(_ bytes: [UInt8]) {
        var r = PayloadReader(bytes)
        guard let type = r.u32(), let flags = r.u32(), let fence = r.u64(), let context = r.u32(), let ring = r.u8(), r.skip(3) else {
            return nil
        }
        self.type = type
        self.flags = flags
        fenceID = fence
        contextID = context
        ringIndex = ring
    }

    /// Whether the driver asked for a fence (VIRTIO_GPU_FLAG_FENCE).
    public var isFenced: Bool { flags & 1 != 0 }

    /// `RESOURCE_FLUSH`, `OK_NODATA`, `ERR_INVALID_RESOURCE_ID`... (VIRTIO_GPU_CMD_*, VIRTIO_GPU_RESP_*).
    public var typeName: String {
        let table: [String?]
        switch type >> 8 {
        case 0x01: table = ["GET_DISPLAY_INFO", "RESOURCE_CREATE_2D", "RESOURCE_UNREF", "SET_SCANOUT", "RESOURCE_FLUSH",
                            "TRANSFER_TO_HOST_2D", "RESOURCE_ATTACH_BACKING", "RESOURCE_DETACH_BACKING", "GET_CAPSET_INFO",
                            "GET_CAPSET", "GET_EDID", "RESOURCE_ASSIGN_UUID", "RESOURCE_CREATE_BLOB", "SET_SCANOUT_BLOB"]
        case 0x02: table = ["CTX_CREATE", "CTX_DESTROY", "CTX_ATTACH_RESOURCE", "CTX_DETACH_RESOURCE", "RESOURCE_CREATE_3D",
                            "TRANSFER_TO_HOST_3D", "TRANSFER_FROM_HOST_3D", "SUBMIT_3D", "RESOURCE_MAP_BLOB", "RESOURCE_UNMAP_BLOB"]
        case 0x03: table = ["UPDATE_CURSOR", "MOVE_CURSOR"]
        case 0x11: table = ["OK_NODATA", "OK_DISPLAY_INFO", "OK_CAPSET_INFO", "OK_CAPSET", "OK_EDID", "OK_RESOURCE_UUID", "OK_MAP_INFO"]
        case 0x12: table = ["ERR_UNSPEC", "ERR_OUT_OF_MEMORY", "ERR_INVALID_SCANOUT_ID", "ERR_INVALID_RESOURCE_ID",
                            "ERR_INVALID_CONTEXT_ID", "ERR_INVALID_PARAMETER"]
        default: table = []
        }
        let index = Int(type & 0xff)
        if type >> 16 == 0, index < table.count, let name = table[index] { return name }
        return "type 0x" + String(type, radix: 16)
    }

    /// `RESOURCE_FLUSH fence 12 ctx 3` (fence and context only when set).
    public var summary: String {
        var s = typeName
        if isFenced { s += " fence \(fenceID)" }
        if flags & 2 != 0 { s += " ring \(ringIndex)" }
        if contextID != 0 { s += " ctx \(contextID)" }
        if flags & ~3 != 0 { s += " flags 0x" + String(flags, radix: 16) }
        return s
    }
}
