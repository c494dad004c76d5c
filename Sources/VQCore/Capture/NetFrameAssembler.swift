/// One Ethernet frame a virtio-net device carried, as a capture writes it.
public struct CapturedFrame: Sendable, Hashable {
    /// Which way it went: received by the guest (rx) or sent by it (tx).
    public var direction: Pcapng.Direction
    /// The virtqueue it was read from.
    public var queueIndex: Int
    /// The head descriptor (split) or buffer ID (packed) of its first buffer.
    public var bufferID: UInt32
    /// When vqscope saw it (the caller's clock): tx when made available, rx when returned.
    public var time: Double
    /// The virtio-net header that came with it (stripped from ``bytes``).
    public var header: VirtioNetHeader
    /// The frame, from the destination MAC on, at most the snap length.
    public var bytes: [UInt8]
    /// The frame's whole length (more than `bytes.count` when it was cut at the snap length).
    public var length: Int

    /// The packet comment a capture file carries for it.
    public var comment: String {
        "virtio-net \(direction == .inbound ? "rx" : "tx") queue \(queueIndex) buffer \(bufferID): \(header.description)"
    }
}

/// Turns the buffers of one virtio-net device's queues, as ``QueueTap``s read them, into frames:
/// tx frames from the chains the driver makes available, rx frames from the buffers the device
/// returns (merged from several buffers when MRG_RXBUF says so), each without its virtio-net
/// header; and counts the frames that went by unread.
///
/// Queue roles follow the virtio spec: even queues receive, odd ones transmit, and with a control
/// queue (an odd number of queues) the last is control and carries no frames.
public struct NetFrameAssembler: Sendable {
    /// The device's header format.
    public let format: VirtioNetHeader.Format
    /// The most bytes of a frame kept (the rest is counted in ``CapturedFrame/length``).
    public let snapLength: Int
    /// Frames that could not be read soundly (a lapped ring, a buffer reused before it was read,
    /// an unreadable or malformed buffer), per direction.
    public private(set) var missedReceived = 0
    public private(set) var missedSent = 0
    /// The frames missed by why: `lapped` (a ring moved more than its size between polls),
    /// `reused` (the guest took the buffer back before it could be read), `unreadable`,
    /// `unknown-buffer`, `malformed` (too short, or a length that cannot be told), `merge`
    /// (a merged frame lost a buffer).
    public private(set) var missedBy: [String: Int] = [:]

    private mutating func miss(_ reason: String, sent: Bool, count: Int = 1) {
        guard count > 0 else { return }
        if sent { missedSent += count } else { missedReceived += count }
        missedBy[reason, default: 0] += count
    }

    /// A received frame whose later buffers have not come yet.
    private struct Partial: Sendable {
        var frame: CapturedFrame
        var remaining: Int
        var broken: Bool
    }
    private var partial: [Int: Partial] = [:]

    public init(format: VirtioNetHeader.Format, snapLength: Int = 65535) {
        self.format = format
        self.snapLength = max(snapLength, 64)
    }

    /// Bytes a tap of a transmit queue should read of each chain the driver makes available.
    public var transmitBytes: Int { format.size + snapLength }
    /// Bytes a tap of a receive queue should read of each buffer the device returns.
    public var receiveBytes: Int { format.size + snapLength }

    /// The tap plan for queue `index` of a device with `queueCount` queues; nil for the control queue.
    public func plan(queueIndex index: Int, queueCount: Int) -> QueueTap.Plan? {
        if queueCount >= 3, queueCount % 2 == 1, index == queueCount - 1 { return nil }
        return index % 2 == 1 ? QueueTap.Plan(driverBytes: transmitBytes) : QueueTap.Plan(deviceBytes: .written(limit: receiveBytes))
    }

    /// The frames in one tap's outputs for queue `queueIndex`, in ring order.
    public mutating func frames(from outputs: [QueueTap.Output], queueIndex: Int) -> [CapturedFrame] {
        let transmit = queueIndex % 2 == 1
        var frames: [CapturedFrame] = []
        for output in outputs {
            switch output {
            case .available(let b) where transmit:
                if let frame = sent(b.driverBytes, chainBytes: Int(min(b.chain.readableBytes, UInt64(Int.max))), lengthUnknown: b.lengthUnknown,
                                    missed: b.missed?.rawValue, queueIndex: queueIndex, id: UInt32(b.id), time: b.time) {
                    frames.append(frame)
                }
            case .used(let c) where !transmit:
                if let frame = receive(c, queueIndex: queueIndex) { frames.append(frame) }
            case .lapped(let ring, let count):
                if transmit && ring == .avail { miss("lapped", sent: true, count: count) }
                if !transmit && ring == .used {
                    miss("lapped", sent: false, count: count)
                    if partial.removeValue(forKey: queueIndex) != nil { miss("merge", sent: false) }
                }
            default:
                break
            }
        }
        return frames
    }

    /// Frames still waiting for buffers when a capture ends count as missed.
    public mutating func finish() {
        miss("merge", sent: false, count: partial.count)
        partial.removeAll()
    }

    /// The length of an Ethernet frame as its headers give it (IPv4 total length, IPv6 payload
    /// length, ARP's fixed size, behind up to two VLAN tags); nil for anything else.
    public static func wireLength(_ frame: [UInt8]) -> Int? {
        var at = 12
        func u16(_ i: Int) -> Int? { i + 1 < frame.count ? Int(frame[i]) << 8 | Int(frame[i + 1]) : nil }
        guard var type = u16(at) else { return nil }
        for _ in 0..<2 where type == 0x8100 || type == 0x88a8 {
            at += 4
            guard let inner = u16(at) else { return nil }
            type = inner
        }
        let l3 = at + 2
        switch type {
        case 0x0800:
            guard let total = u16(l3 + 2), total >= 20 else { return nil }
            return l3 + total
        case 0x86dd:
            guard let payload = u16(l3 + 4) else { return nil }
            return l3 + 40 + payload
        case 0x0806:
            return l3 + 28
        default:
            return nil
        }
    }

    /// A tx frame from the device-readable bytes of a chain (the virtio-net header first), as read
    /// of a chain of `chainBytes` readable bytes (nil: not known, the frame's own headers give it);
    /// fewer bytes than that make a frame cut short, its whole length kept. nil, counted missed
    /// (why: `missed`, else `malformed`), when there are no bytes or too few for a header.
    /// The polling path and the probes' (``ProbeFrameTracer``) both come here.
    public mutating func sent(_ bytes: [UInt8]?, chainBytes: Int?, lengthUnknown: Bool = false, missed: String? = nil,
                              queueIndex: Int, id: UInt32, time: Double) -> CapturedFrame? {
        guard let bytes else {
            if let missed { miss(missed, sent: true) }
            return nil
        }
        guard let header = VirtioNetHeader(bytes, format: format), bytes.count > format.size else { miss("malformed", sent: true); return nil }
        var frame = Array(bytes[format.size...])
        var whole: Int
        if lengthUnknown || chainBytes == nil {
            // The length is lost: the frame's own headers give it.
            guard let length = Self.wireLength(frame) else { miss("malformed", sent: true); return nil }
            whole = length
            if lengthUnknown { frame = Array(frame.prefix(length)) }
        } else {
            whole = chainBytes! - format.size
        }
        whole = max(whole, frame.count)
        return CapturedFrame(direction: .outbound, queueIndex: queueIndex, bufferID: id, time: time,
                             header: header, bytes: Array(frame.prefix(snapLength)), length: whole)
    }

    /// A received frame (or, with MRG_RXBUF, a buffer of one) from the bytes the device wrote,
    /// `length` of them by the device's count (the bytes may be fewer: the frame is then cut short
    /// and a merged frame's later buffers are counted, not joined, so no byte is invented). nil
    /// while a merged frame waits for its later buffers, or when missed (`missed` says why).
    public mutating func received(_ bytes: [UInt8]?, length: UInt32, missed: String? = nil, queueIndex: Int, id: UInt32, time: Double) -> CapturedFrame? {
        receive(QueueTap.Completion(buffer: nil, index: 0, wrap: nil, id: id, length: length, time: time, deviceBytes: bytes,
                                    missed: missed.flatMap(QueueTap.MissReason.init(rawValue:))), queueIndex: queueIndex, reason: missed)
    }

    private mutating func receive(_ c: QueueTap.Completion, queueIndex: Int, reason: String? = nil) -> CapturedFrame? {
        // A later buffer of a merged frame.
        if var p = partial[queueIndex] {
            p.remaining -= 1
            if let bytes = c.deviceBytes, !p.broken {
                // Joined only onto a frame whole so far: after a cut no byte would sit where it belongs.
                let room = snapLength - p.frame.bytes.count
                if room > 0, p.frame.bytes.count == p.frame.length { p.frame.bytes += bytes.prefix(min(room, Int(c.length))) }
                p.frame.length += Int(c.length)
            } else {
                p.broken = true
            }
            guard p.remaining == 0 else { partial[queueIndex] = p; return nil }
            partial[queueIndex] = nil
            if p.broken { miss("merge", sent: false); return nil }
            return p.frame
        }
        guard let bytes = c.deviceBytes else { miss(c.missed?.rawValue ?? reason ?? "unreadable", sent: false); return nil }
        guard let header = VirtioNetHeader(bytes, format: format), Int(c.length) > format.size else {
            miss("malformed", sent: false)
            return nil
        }
        let frame = CapturedFrame(direction: .inbound, queueIndex: queueIndex, bufferID: c.id, time: c.time, header: header,
                                  bytes: Array(bytes[format.size...].prefix(min(snapLength, Int(c.length) - format.size))), length: Int(c.length) - format.size)
        let buffers = Int(header.numBuffers)
        guard buffers > 1 else { return frame }
        partial[queueIndex] = Partial(frame: frame, remaining: buffers - 1, broken: false)
        return nil
    }
}
