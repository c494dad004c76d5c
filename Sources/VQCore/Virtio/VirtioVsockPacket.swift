/// A virtio-vsock packet (virtio 1.2, 5.10.6): `virtio_vsock_hdr` (src_cid u64, dst_cid u64,
/// src_port u32, dst_port u32, len u32, type u16, op u16, flags u32, buf_alloc u32, fwd_cnt u32;
/// 44 bytes, packed) and `len` bytes of data behind it.
public struct VirtioVsockPacket: Sendable, Hashable {
    /// The header's size.
    public static let headerSize = 44

    public var sourceCID: UInt64
    public var destinationCID: UInt64
    public var sourcePort: UInt32
    public var destinationPort: UInt32
    /// The data length the header gives.
    public var length: UInt32
    /// 1 STREAM, 2 SEQPACKET.
    public var type: UInt16
    public var op: UInt16
    public var flags: UInt32
    public var bufferAllocation: UInt32
    public var forwardCount: UInt32
    /// A `len` past the bytes the buffer holds after the header.
    public var defect: PayloadDefect?

    /// Decodes the header at the start of `bytes`, a buffer of `bufferLength` bytes in all (for
    /// checking `len`); nil when they are fewer than 44.
    public init?(_ bytes: [UInt8], bufferLength: UInt64) {
        var r = PayloadReader(bytes)
        guard let src = r.u64(), let dst = r.u64(), let srcPort = r.u32(), let dstPort = r.u32(), let len = r.u32(),
              let type = r.u16(), let op = r.u16(), let flags = r.u32(), let bufAlloc = r.u32(), let fwdCnt = r.u32() else { return nil }
        sourceCID = src
        destinationCID = dst
        sourcePort = srcPort
        destinationPort = dstPort
        length = len
        self.type = type
        self.op = op
        self.flags = flags
        bufferAllocation = bufAlloc
        forwardCount = fwdCnt
        if UInt64(len) > bufferLength - min(bufferLength, UInt64(Self.headerSize)) {
            defect = .malformed("len \(len) is past the buffer's \(bufferLength - min(bufferLength, UInt64(Self.headerSize))) bytes of data")
        }
    }

    /// `REQUEST`, `RW`, `CREDIT_UPDATE`... (VIRTIO_VSOCK_OP_*).
    public var opName: String {
        let names = ["INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW", "CREDIT_UPDATE", "CREDIT_REQUEST"]
        return Int(op) < names.count ? names[Int(op)] : "op \(op)"
    }

    /// `stream`, `seqpacket`.
    public var typeName: String { type == 1 ? "stream" : type == 2 ? "seqpacket" : "type \(type)" }

    /// `vsock RW stream 3:1025 > 2:5000 len 100 buf_alloc 262144 fwd_cnt 0`, with SHUTDOWN's
    /// `rcv`/`send` and SEQPACKET's `eom`/`eor` flags by name.
    public var summary: String {
        var s = "vsock \(opName) \(typeName) \(sourceCID):\(sourcePort) > \(destinationCID):\(destinationPort) len \(length)"
        if flags != 0 {
            let names = op == 4 ? ["rcv", "send"] : type == 2 ? ["eom", "eor"] : []
            let known = names.indices.filter { flags & (1 << $0) != 0 }.map { names[$0] }
            let rest = flags & ~UInt32((1 << names.count) - 1)
            s += " flags " + (known + (rest != 0 ? ["0x" + String(rest, radix: 16)] : [])).joined(separator: "|")
        }
        s += " buf_alloc \(bufferAllocation) fwd_cnt \(forwardCount)"
        if let defect { s += " (\(defect))" }
        return s
    }
}
