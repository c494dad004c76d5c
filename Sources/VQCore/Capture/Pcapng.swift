/// The blocks of a pcapng file (IETF draft-ietf-opsawg-pcapng) that a capture of virtio-net frames
/// needs: a section header, one interface description per device, an enhanced packet block per
/// frame (with its direction and a comment), and interface statistics with the frames dropped.
///
/// Every block is built as bytes in host byte order (the section header's byte-order magic says
/// which), padded to 32 bits, with its length at both ends; nothing here does I/O.
public enum Pcapng {
    /// A packet's direction, as the `epb_flags` option encodes it.
    public enum Direction: UInt32, Sendable {
        /// Received by the guest (virtio-net rx).
        case inbound = 1
        /// Sent by the guest (virtio-net tx).
        case outbound = 2
    }

    /// LINKTYPE_ETHERNET.
    public static let linkTypeEthernet: UInt16 = 1

    static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    static let interfaceDescriptionType: UInt32 = 1
    static let interfaceStatisticsType: UInt32 = 5
    static let enhancedPacketType: UInt32 = 6
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    /// The section header block that starts a file: version 1.0, section length unknown, with the
    /// writing application (`shb_userappl`) when given.
    public static func sectionHeader(application: String? = nil) -> [UInt8] {
        var body = Bytes()
        body.u32(byteOrderMagic)
        body.u16(1)
        body.u16(0)
        body.u64(UInt64.max) // section length: not given
        var options = Options()
        if let application { options.string(4, application) }
        return block(sectionHeaderType, body: body.bytes + options.end())
    }

    /// An interface description block: `linkType`, `snapLength` (0: no limit), microsecond
    /// timestamps, and the interface's name and description when given.
    public static func interfaceDescription(linkType: UInt16 = linkTypeEthernet, snapLength: UInt32 = 0,
                                            name: String? = nil, description: String? = nil) -> [UInt8] {
        var body = Bytes()
        body.u16(linkType)
        body.u16(0)
        body.u32(snapLength)
        var options = Options()
        if let name { options.string(2, name) }
        if let description { options.string(3, description) }
        options.bytes(9, [6]) // if_tsresol: 10^-6 s
        return block(interfaceDescriptionType, body: body.bytes + options.end())
    }

    /// An enhanced packet block: `data` as captured (the first bytes of a frame of
    /// `originalLength` bytes), seen at `microseconds` since the epoch on `interface` (the index
    /// of its interface description in the section), with its direction and a comment.
    public static func enhancedPacket(interface: UInt32, microseconds: UInt64, data: [UInt8], originalLength: Int? = nil,
                                      direction: Direction? = nil, comment: String? = nil) -> [UInt8] {
        var body = Bytes()
        body.u32(interface)
        body.u32(UInt32(truncatingIfNeeded: microseconds >> 32))
        body.u32(UInt32(truncatingIfNeeded: microseconds))
        body.u32(UInt32(clamping: data.count))
        body.u32(UInt32(clamping: originalLength ?? data.count))
        body.append(data)
        body.pad()
        var options = Options()
        if let comment { options.string(1, comment) }
        if let direction { options.u32(2, direction.rawValue) } // epb_flags, bits 0-1: direction
        return block(enhancedPacketType, body: body.bytes + options.end())
    }

    /// An interface statistics block at `microseconds`: packets received (`isb_ifrecv`) and
    /// dropped (`isb_ifdrop`) on `interface` since `start` (`isb_starttime`).
    public static func interfaceStatistics(interface: UInt32, microseconds: UInt64, start: UInt64? = nil,
                                           received: UInt64, dropped: UInt64) -> [UInt8] {
        var body = Bytes()
        body.u32(interface)
        body.u32(UInt32(truncatingIfNeeded: microseconds >> 32))
        body.u32(UInt32(truncatingIfNeeded: microseconds))
        var options = Options()
        if let start { options.timestamp(2, start) }
        options.timestamp(3, microseconds)
        options.u64(4, received)
        options.u64(5, dropped)
        return block(interfaceStatisticsType, body: body.bytes + options.end())
    }

    /// A block: type, total length, body, total length again.
    static func block(_ type: UInt32, body: [UInt8]) -> [UInt8] {
        var b = Bytes()
        let total = UInt32(12 + body.count)
        b.u32(type)
        b.u32(total)
        b.append(body)
        b.u32(total)
        return b.bytes
    }

    /// Little builder of host-order fields.
    struct Bytes {
        var bytes: [UInt8] = []
        mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) } }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) } }
        mutating func append(_ data: [UInt8]) { bytes.append(contentsOf: data) }
        /// Zeros up to the next multiple of 4.
        mutating func pad() { bytes.append(contentsOf: repeatElement(0, count: (4 - bytes.count % 4) % 4)) }
    }

    /// Options: code, length, value padded to 32 bits; `end()` adds opt_endofopt when any was added.
    struct Options {
        var b = Bytes()
        mutating func bytes(_ code: UInt16, _ value: [UInt8]) {
            b.u16(code)
            b.u16(UInt16(clamping: value.count))
            b.append(Array(value.prefix(Int(UInt16.max))))
            b.pad()
        }
        mutating func string(_ code: UInt16, _ value: String) { bytes(code, Array(value.utf8)) }
        mutating func u32(_ code: UInt16, _ value: UInt32) { withUnsafeBytes(of: value) { bytes(code, Array($0)) } }
        mutating func u64(_ code: UInt16, _ value: UInt64) { withUnsafeBytes(of: value) { bytes(code, Array($0)) } }
        /// A timestamp option: high and low 32 bits in if_tsresol units.
        mutating func timestamp(_ code: UInt16, _ value: UInt64) {
            var t = Bytes()
            t.u32(UInt32(truncatingIfNeeded: value >> 32))
            t.u32(UInt32(truncatingIfNeeded: value))
            bytes(code, t.bytes)
        }
        func end() -> [UInt8] {
            guard !b.bytes.isEmpty else { return [] }
            return b.bytes + [0, 0, 0, 0]
        }
    }
}
