/// Decodes what a chain carries for its device (virtio-blk request, virtio-net packet, console text,
/// rng bytes, virtio-scsi, 9P, virtio-input, virtio-balloon, console control, vsock, virtio-fs and
/// virtio-gpu messages), reading at most a few hundred bytes of the chain's buffers in one batch
/// per part.
///
/// What the driver wrote (readable buffers) is meaningful while a chain is in flight; what the
/// device writes (writable buffers) only once the chain is used, with the length the device gave:
/// pass `completedLength` for used chains.
///
/// The device is named as QEMU names it (`virtio-scsi`, `vhost-vsock`, `vhost-user-fs`...); its
/// queue index picks the message: virtio-scsi 0 control, 1 events, 2+ commands; virtio-input 0
/// events, 1 status; virtio-balloon inflate, deflate, then stats, free page hints and reporting as
/// negotiated; virtio-serial 2 and 3 control (multiport); vsock 0 receive, 1 transmit, 2 events.
public enum PayloadDecoder {
    /// How many bytes of a buffer are read to decode it.
    public static let peekBytes = 96

    /// What `chain` on queue `queueIndex` (of `queueCount`) of `device` carries, or nil when the
    /// device or queue has no decoder here, the chain's bytes cannot be read, or (for buffers the
    /// device fills) it is still in flight. A message too short for its fields comes back named
    /// (``DevicePayload/undecodable(family:defect:)``, or a defect in the decoded message).
    public static func decode(_ chain: Chain, device: String, queueIndex: Int, queueCount: Int, memory: GuestMemory,
                              completedLength: UInt32? = nil, features: VirtioFeatures = [.version1]) -> DevicePayload? {
        switch device {
        case "virtio-blk":
            guard let header = try? gather(chain, writable: false, limit: 16, memory: memory), header.count == 16 else { return nil }
            let total = chain.readableBytes + chain.writableBytes
            var status: UInt8?
            if completedLength != nil, let last = chain.elements.last(where: \.isWritable), last.length > 0 {
                status = try? memory.load(UInt8.self, at: GuestPhysicalAddress(last.address.rawValue &+ UInt64(last.length - 1)))
            }
            return BlockRequest(header: header, dataLength: total >= 17 ? total - 17 : 0, status: status).map { .block($0) }
        case "virtio-net":
            // Queues 0, 2, 4... receive, 1, 3, 5... transmit; an odd count ends with the control queue.
            if queueCount % 2 == 1 && queueIndex == queueCount - 1 { return nil }
            let receive = queueIndex % 2 == 0
            let modern = features.contains(.version1)
            if receive {
                guard let written = completedLength,
                      let bytes = try? gather(chain, writable: true, limit: min(Int(written), peekBytes), memory: memory) else { return nil }
                return NetworkPacket(bytes: bytes, totalLength: Int(written), modern: modern).map { .network($0) }
            }
            guard let bytes = try? gather(chain, writable: false, limit: peekBytes, memory: memory) else { return nil }
            return NetworkPacket(bytes: bytes, totalLength: Int(min(chain.readableBytes, UInt64(Int.max))), modern: modern).map { .network($0) }
        case "virtio-serial", "virtio-console":
            // Queues 2 and 3 of a multiport device carry control messages, the rest port data.
            if queueIndex == 2 || queueIndex == 3 {
                return consoleControl(chain, fromDevice: queueIndex == 2, memory: memory, completedLength: completedLength)
            }
            let bytes: [UInt8]?
            if chain.readableBytes > 0 { bytes = try? gather(chain, writable: false, limit: peekBytes, memory: memory) }
            else if let written = completedLength { bytes = try? gather(chain, writable: true, limit: min(Int(written), peekBytes), memory: memory) }
            else { bytes = nil }
            guard let bytes else { return nil }
            return .console(text: String(bytes.map { (0x20..<0x7f).contains($0) ? Character(Unicode.Scalar($0)) : "." }))
        case "virtio-rng":
            guard let written = completedLength,
                  let bytes = try? gather(chain, writable: true, limit: min(Int(written), peekBytes), memory: memory) else { return nil }
            return .entropy(bytes: bytes)
        default:
            let parts = ChainParts(chain: chain, memory: memory, completedLength: completedLength)
            switch VirtioDeviceType(name: device) {
            case .scsi?: return scsi(parts, queueIndex: queueIndex, features: features)
            case .ninePTransport?: return nineP(parts)
            case .input?: return input(parts, queueIndex: queueIndex)
            case .balloon?: return balloon(parts, queueIndex: queueIndex, features: features)
            case .socket?: return socket(parts, queueIndex: queueIndex)
            case .fileSystem?: return fileSystem(parts)
            case .gpu?: return gpu(parts)
            default: return nil
            }
        }
    }

    /// The two parts of a chain as decoders read them: the first bytes the driver wrote, and once
    /// the chain is used, the first bytes the device wrote (never more than it said it wrote).
    struct ChainParts {
        let chain: Chain
        let memory: GuestMemory
        let completedLength: UInt32?

        /// The first `limit` bytes of the device-readable part; nil when they cannot be read.
        func readable(_ limit: Int) -> [UInt8]? {
            try? PayloadDecoder.gather(chain, writable: false, limit: limit, memory: memory)
        }

        /// The first `limit` bytes the device wrote; nil while in flight or when they cannot be read.
        func written(_ limit: Int) -> [UInt8]? {
            guard let completedLength else { return nil }
            return try? PayloadDecoder.gather(chain, writable: true, limit: min(Int(completedLength), limit), memory: memory)
        }

        /// Whether the device used the chain.
        var isCompleted: Bool { completedLength != nil }
        /// What the device wrote, by its own count.
        var writtenLength: UInt64 { UInt64(completedLength ?? 0) }
    }

    private static func scsi(_ parts: ChainParts, queueIndex: Int, features: VirtioFeatures) -> DevicePayload? {
        switch queueIndex {
        case 0:
            guard let readable = parts.readable(32) else { return nil }
            let written = parts.isCompleted ? parts.written(8) : nil
            if parts.isCompleted && written == nil { return nil }
            return .scsiControl(VirtioSCSIControl(readable: readable, written: written))
        case 1:
            guard let written = parts.written(VirtioSCSIEvent.size) else { return nil }
            return VirtioSCSIEvent(written).map { .scsiEvent($0) }
                ?? .undecodable(family: "scsi-event", defect: .truncated(needed: VirtioSCSIEvent.size, present: written.count))
        default:
            let pi = features.contains(.scsiProtectionInformation)
            let requestSize = VirtioSCSICommand.requestHeaderSize(protectionInformation: pi) + VirtioSCSICommand.defaultCDBSize
            guard let readable = parts.readable(requestSize) else { return nil }
            let written = parts.written(VirtioSCSICommand.responseHeaderSize + VirtioSCSICommand.defaultSenseSize)
            if parts.isCompleted && written == nil { return nil }
            return .scsiCommand(VirtioSCSICommand(readable: readable, readableLength: parts.chain.readableBytes, written: written,
                                                  writableLength: parts.chain.writableBytes, protectionInformation: pi))
        }
    }

    /// Bytes of a 9P message read: enough for a Twalk of several names or a Tattach.
    static let ninePPeekBytes = 256

    private static func nineP(_ parts: ChainParts) -> DevicePayload? {
        guard let readable = parts.readable(ninePPeekBytes) else { return nil }
        let written = parts.written(ninePPeekBytes)
        if parts.isCompleted && written == nil { return nil }
        return .nineP(VirtioNinePExchange(readable: readable, readableLength: parts.chain.readableBytes, written: written,
                                          writtenLength: parts.writtenLength))
    }

    private static func input(_ parts: ChainParts, queueIndex: Int) -> DevicePayload? {
        let limit = VirtioInputEvents.maxEvents * VirtioInputEvents.eventSize
        if queueIndex == 0 {
            // Posted and not yet filled: what it is, not what its stale bytes say.
            guard parts.isCompleted else {
                return parts.chain.readableBytes == 0 ? .input(VirtioInputEvents(postedLength: parts.chain.writableBytes)) : nil
            }
            guard let written = parts.written(limit) else { return nil }
            return .input(VirtioInputEvents(written, length: parts.writtenLength, fromDevice: true))
        }
        guard let readable = parts.readable(limit) else { return nil }
        return .input(VirtioInputEvents(readable, length: parts.chain.readableBytes, fromDevice: false))
    }

    private static func balloon(_ parts: ChainParts, queueIndex: Int, features: VirtioFeatures) -> DevicePayload? {
        let chain = parts.chain
        guard let queue = VirtioBalloonMessage.Queue(index: queueIndex, features: features) else { return nil }
        switch queue {
        case .inflate, .deflate:
            guard let readable = parts.readable(4 * VirtioBalloonMessage.PageList.maxShown) else { return nil }
            return .balloon(.pages(.init(readable, length: chain.readableBytes, inflate: queue == .inflate)))
        case .statistics:
            let limit = VirtioBalloonMessage.Statistics.maxEntries * VirtioBalloonMessage.Statistics.entrySize
            guard let readable = parts.readable(limit) else { return nil }
            return .balloon(.statistics(.init(readable, length: chain.readableBytes)))
        case .freePageHints where chain.readableBytes > 0:
            guard let readable = parts.readable(4) else { return nil }
            var r = PayloadReader(readable)
            guard let id = r.u32() else { return .undecodable(family: "balloon", defect: .truncated(needed: 4, present: readable.count)) }
            return .balloon(.hintCommand(id))
        case .freePageHints, .reporting:
            return .balloon(.freePages(reporting: queue == .reporting, ranges: chain.elements.filter(\.isWritable).count,
                                       bytes: chain.writableBytes))
        }
    }

    private static func consoleControl(_ chain: Chain, fromDevice: Bool, memory: GuestMemory, completedLength: UInt32?) -> DevicePayload? {
        let parts = ChainParts(chain: chain, memory: memory, completedLength: completedLength)
        let limit = VirtioConsoleControl.headerSize + 64
        guard let bytes = fromDevice ? parts.written(limit) : parts.readable(limit) else { return nil }
        return VirtioConsoleControl(bytes, fromDevice: fromDevice).map { .consoleControl($0) }
            ?? .undecodable(family: "console-ctrl", defect: .truncated(needed: VirtioConsoleControl.headerSize, present: bytes.count))
    }

    private static func socket(_ parts: ChainParts, queueIndex: Int) -> DevicePayload? {
        let size = VirtioVsockPacket.headerSize
        switch queueIndex {
        case 0, 1:
            let bytes = queueIndex == 0 ? parts.written(size) : parts.readable(size)
            guard let bytes else { return nil }
            let length = queueIndex == 0 ? parts.writtenLength : parts.chain.readableBytes
            return VirtioVsockPacket(bytes, bufferLength: length).map { .socketPacket($0) }
                ?? .undecodable(family: "vsock", defect: .truncated(needed: size, present: bytes.count))
        case 2:
            guard let written = parts.written(4) else { return nil }
            return VirtioVsockEvent(written).map { .socketEvent($0) }
                ?? .undecodable(family: "vsock-event", defect: .truncated(needed: 4, present: written.count))
        default:
            return nil
        }
    }

    private static func fileSystem(_ parts: ChainParts) -> DevicePayload? {
        // fuse_in_header and fuse_read_in/fuse_write_in's first fields.
        guard let readable = parts.readable(VirtioFSRequest.inHeaderSize + 20) else { return nil }
        let written = parts.written(VirtioFSRequest.outHeaderSize)
        if parts.isCompleted && written == nil { return nil }
        return .fileSystem(VirtioFSRequest(readable: readable, readableLength: parts.chain.readableBytes, written: written,
                                           writtenLength: parts.writtenLength))
    }

    private static func gpu(_ parts: ChainParts) -> DevicePayload? {
        guard let readable = parts.readable(VirtioGPUControlHeader.size) else { return nil }
        let written = parts.written(VirtioGPUControlHeader.size)
        if parts.isCompleted && written == nil { return nil }
        return .gpu(VirtioGPUExchange(readable: readable, written: written))
    }

    /// The first `limit` bytes of the chain's readable (or writable) buffers, in chain order.
    static func gather(_ chain: Chain, writable: Bool, limit: Int, memory: GuestMemory) throws(MemoryError) -> [UInt8] {
        let pieces = chain.ranges(writable: writable, limit: limit)
        var result = [UInt8](repeating: 0, count: pieces.reduce(0) { $0 + $1.1 })
        try rethrowing(MemoryError.self) {
            try result.withUnsafeMutableBytes { bytes in
                var offset = 0
                var ranges: [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] = []
                for (address, n) in pieces {
                    ranges.append((address, UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + n])))
                    offset += n
                }
                try memory.read(ranges)
            }
        }
        return result
    }
}
