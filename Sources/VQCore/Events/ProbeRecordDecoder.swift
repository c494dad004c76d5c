/// Why a probe record could not be decoded (a record shorter than it says, an unknown kind).
public struct ProbeRecordError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Decodes the records vqscope's eBPF probes write into their ring buffer
/// (Sources/CVQProbes/bpf/vqprobes.h): a 56-byte header, 8 segment records of 24 bytes, then
/// the copied bytes of the segments in order. Little-endian.
public enum ProbeRecordDecoder {
    /// Segment records per event (VQP_MAX_SEGS).
    public static let maxSegments = 8
    /// Header bytes (struct vqp_header).
    public static let headerSize = 56
    /// Bytes of one segment record (struct vqp_segment).
    public static let segmentSize = 24
    /// Bytes copied per event at most (VQP_DATA_MAX).
    public static let maxData = 4096
    /// The probes' ring buffer (the `events` map's size in vqprobes.bpf.c).
    public static let ringBufferBytes = 16 << 20
    /// The fewest records that fill the ring buffer (each of the largest size, with the ring's
    /// 8-byte record header): a poll that read fewer followed no moment the probes had to drop one.
    public static let fewestRecordsFillingRing = ringBufferBytes / (headerSize + maxSegments * segmentSize + maxData + 8)

    public static func decode(_ bytes: [UInt8]) throws(ProbeRecordError) -> ProbeEvent {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(ProbeRecordError) -> ProbeEvent in try decode(raw) } }
        return try result.get()
    }

    /// Decodes a record where the ring buffer holds it (nothing copied but the segments' bytes).
    /// Without `segments`, the event has none (for a reader that shows no buffers: the header is
    /// still checked whole).
    public static func decode(_ bytes: UnsafeRawBufferPointer, segments withSegments: Bool = true) throws(ProbeRecordError) -> ProbeEvent {
        let fixed = headerSize + maxSegments * segmentSize
        guard bytes.count >= fixed else { throw ProbeRecordError("a probe record of \(bytes.count) bytes is shorter than its \(fixed)-byte header") }
        // Every offset read below is inside the header checked above.
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        let rawKind = u32(8)
        let object = u64(16), argument = u64(24)
        let nsegs = Int(u32(48)), dataLength = Int(u32(52))
        guard nsegs <= maxSegments else { throw ProbeRecordError("a probe record says \(nsegs) segments (at most \(maxSegments))") }
        guard dataLength <= maxData, fixed + dataLength <= bytes.count else {
            throw ProbeRecordError("a probe record says \(dataLength) data bytes but holds \(bytes.count - fixed)")
        }
        var segments: [ProbeEvent.Segment] = []
        segments.reserveCapacity(nsegs)
        var offset = fixed
        for s in 0..<(withSegments ? nsegs : 0) {
            let base = headerSize + s * segmentSize
            let copied = Int(u32(base + 12))
            guard copied <= u32(base + 8), offset + copied <= fixed + dataLength else {
                throw ProbeRecordError("a probe record's segment \(s) says \(copied) bytes copied, more than it holds")
            }
            segments.append(.init(address: u64(base), length: u32(base + 8), writable: u32(base + 16) != 0,
                                  bytes: Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + copied]))))
            offset += copied
        }
        var e = ProbeEvent(nanoseconds: u64(0), kind: .kick, thread: u32(12), subject: .virtQueue(object),
                           outCount: u32(40), inCount: u32(44), segments: segments)
        switch rawKind {
        case 1: e.subject = .device(object, queue: UInt32(truncatingIfNeeded: argument))
        case 2: e.subject = .hostNotifier(object)
        case 3: e.kind = .pop; e.head = u32(32)
        case 4: e.kind = .fill; e.head = u32(32); e.count = u32(36); e.position = UInt32(truncatingIfNeeded: argument)
        case 5: e.kind = .flush; e.count = UInt32(truncatingIfNeeded: argument)
        case 6, 7: e.kind = rawKind == 6 ? .interrupt : .suppressed; e.throughIrqfd = argument != 0
        default: throw ProbeRecordError("a probe record of unknown kind \(rawKind)")
        }
        return e
    }
}
