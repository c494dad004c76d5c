/// What a buffer chain carries for its device, decoded from the bytes at its addresses:
/// a block request, a network packet, console text, random bytes, a SCSI command, a 9P exchange,
/// input events, a balloon request, a console control message, a vsock packet, a FUSE request or a
/// GPU command.
public enum DevicePayload: Sendable, Hashable {
    case block(BlockRequest)
    case network(NetworkPacket)
    case console(text: String)
    case entropy(bytes: [UInt8])
    /// A virtio-scsi command on a request queue.
    case scsiCommand(VirtioSCSICommand)
    /// A virtio-scsi task management or asynchronous notification request (control queue).
    case scsiControl(VirtioSCSIControl)
    /// A virtio-scsi event (event queue).
    case scsiEvent(VirtioSCSIEvent)
    /// A virtio-9p request and its reply.
    case nineP(VirtioNinePExchange)
    /// virtio-input events (event queue) or status (LEDs...).
    case input(VirtioInputEvents)
    /// A virtio-balloon inflate/deflate array, statistics, or free page hints and reports.
    case balloon(VirtioBalloonMessage)
    /// A virtio-serial control message (control queues of a multiport device).
    case consoleControl(VirtioConsoleControl)
    /// A virtio-vsock packet header (receive and transmit queues).
    case socketPacket(VirtioVsockPacket)
    /// A virtio-vsock event (event queue).
    case socketEvent(VirtioVsockEvent)
    /// A virtio-fs (FUSE) request and its reply.
    case fileSystem(VirtioFSRequest)
    /// A virtio-gpu command and its response headers.
    case gpu(VirtioGPUExchange)
    /// A message too short or too broken for its device's decoder to say more: the name of the
    /// message's family (as its summary starts) and what is wrong.
    case undecodable(family: String, defect: PayloadDefect)

    /// A one-line description for people.
    public var summary: String {
        switch self {
        case .block(let r): return r.summary
        case .network(let p): return p.summary
        case .console(let text): return "console \"\(text)\""
        case .entropy(let bytes): return "rng \(bytes.count) bytes " + bytes.prefix(8).map { String($0, radix: 16).leftPadded(2) }.joined()
        case .scsiCommand(let c): return c.summary
        case .scsiControl(let c): return c.summary
        case .scsiEvent(let e): return e.summary
        case .nineP(let x): return x.summary
        case .input(let e): return e.summary
        case .balloon(let m): return m.summary
        case .consoleControl(let c): return c.summary
        case .socketPacket(let p): return p.summary
        case .socketEvent(let e): return e.summary
        case .fileSystem(let r): return r.summary
        case .gpu(let x): return x.summary
        case .undecodable(let family, let defect): return "\(family) \(defect)"
        }
    }
}

/// A virtio-blk request (virtio 1.2, 5.2.6): a 16-byte header the driver writes, data, and a
/// status byte the device writes.
public struct BlockRequest: Sendable, Hashable {
    public var type: UInt32
    public var sector: UInt64
    /// Bytes of data between header and status.
    public var dataLength: UInt64
    /// The status byte, when the device has completed the request (0 OK, 1 IOERR, 2 UNSUPP).
    public var status: UInt8?

    public init(type: UInt32, sector: UInt64, dataLength: UInt64, status: UInt8?) {
        self.type = type
        self.sector = sector
        self.dataLength = dataLength
        self.status = status
    }

    /// Decodes the 16-byte header (`type`, reserved, `sector`); nil when it is shorter.
    public init?(header: [UInt8], dataLength: UInt64, status: UInt8?) {
        guard header.count >= 16 else { return nil }
        let v = ByteView(header)
        self.init(type: v.u32(0), sector: v.u64(8), dataLength: dataLength, status: status)
    }

    public var typeName: String {
        switch type {
        case 0: return "read"
        case 1: return "write"
        case 4: return "flush"
        case 8: return "get-id"
        case 11: return "discard"
        case 13: return "write-zeroes"
        case 14: return "secure-erase"
        default: return "type-\(type)"
        }
    }

    public var statusName: String? {
        status.map { s in
            switch s {
            case 0: return "ok"
            case 1: return "ioerr"
            case 2: return "unsupp"
            default: return "status-\(s)"
            }
        }
    }

    public var summary: String {
        "blk \(typeName) sector \(sector) len \(dataLength)" + (statusName.map { " status \($0)" } ?? "")
    }
}

/// A virtio-net buffer: the virtio-net header (virtio 1.2, 5.1.6) and the Ethernet frame behind it.
public struct NetworkPacket: Sendable, Hashable {
    /// The virtio-net header.
    public var header: VirtioNetHeader
    /// The frame's length after the header.
    public var frameLength: Int
    public var frame: EthernetFrame?

    public var flags: UInt8 { header.flags }
    public var gsoType: UInt8 { header.gsoType }
    public var headerLength: UInt16 { header.headerLength }
    public var gsoSize: UInt16 { header.gsoSize }
    public var csumStart: UInt16 { header.csumStart }
    public var csumOffset: UInt16 { header.csumOffset }
    /// Buffers merged into this packet (with VIRTIO_NET_F_MRG_RXBUF or VERSION_1).
    public var numBuffers: UInt16 { header.numBuffers }

    /// The header's size: 12 bytes with VERSION_1 or mergeable receive buffers, else 10.
    public static func headerSize(modern: Bool) -> Int { modern ? 12 : 10 }

    /// Decodes the header and as much of the frame as `bytes` holds (`totalLength`: the whole buffer).
    public init?(bytes: [UInt8], totalLength: Int, modern: Bool = true) {
        let size = Self.headerSize(modern: modern)
        guard totalLength >= size, let h = VirtioNetHeader(bytes, format: .init(size: size, mergeable: modern)) else { return nil }
        header = h
        frameLength = totalLength - size
        frame = EthernetFrame(Array(bytes[size...]))
    }

    public var summary: String {
        var s = "net"
        if gsoType != 0 { s += " gso \(gsoType)/\(gsoSize)" }
        if numBuffers > 1 { s += " \(numBuffers) buffers" }
        s += " \(frameLength) bytes"
        if let frame { s += " " + frame.summary }
        return s
    }
}

/// The start of an Ethernet frame: addresses, EtherType, and IPv4/ARP/ICMP where present.
public struct EthernetFrame: Sendable, Hashable {
    public var destination: [UInt8]
    public var source: [UInt8]
    public var etherType: UInt16
    /// The frame's first bytes after the Ethernet header.
    public var payload: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 14 else { return nil }
        destination = Array(bytes[0..<6])
        source = Array(bytes[6..<12])
        etherType = UInt16(bytes[12]) << 8 | UInt16(bytes[13])
        payload = Array(bytes[14...])
    }

    static func mac(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).leftPadded(2) }.joined(separator: ":") }
    static func ipv4(_ b: ArraySlice<UInt8>) -> String { b.map(String.init).joined(separator: ".") }

    public var summary: String {
        switch etherType {
        case 0x0800 where payload.count >= 20:
            let proto = payload[9]
            let src = Self.ipv4(payload[12..<16]), dst = Self.ipv4(payload[16..<20])
            let ihl = Int(payload[0] & 0xf) * 4
            if proto == 1, payload.count > ihl {
                let type = payload[ihl]
                let name = type == 8 ? "echo request" : type == 0 ? "echo reply" : "type \(type)"
                return "IPv4 \(src) > \(dst) ICMP \(name)"
            }
            let protoName = proto == 6 ? "TCP" : proto == 17 ? "UDP" : "proto \(proto)"
            return "IPv4 \(src) > \(dst) \(protoName)"
        case 0x0806 where payload.count >= 28:
            let op = UInt16(payload[6]) << 8 | UInt16(payload[7])
            return "ARP \(op == 1 ? "who-has" : op == 2 ? "reply" : "op \(op)") \(Self.ipv4(payload[24..<28])) from \(Self.ipv4(payload[14..<18]))"
        case 0x86DD: return "IPv6 \(Self.mac(source)) > \(Self.mac(destination))"
        default: return "ethertype 0x\(String(etherType, radix: 16)) \(Self.mac(source)) > \(Self.mac(destination))"
        }
    }
}

extension String {
    /// The string padded on the left to `width` characters (`"f".leftPadded(2)` → `"0f"`).
    public func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
