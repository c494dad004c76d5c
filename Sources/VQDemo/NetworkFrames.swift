/// Builds the Ethernet frames the simulated network carries, with headers a packet decoder (or
/// Wireshark) reads as real: ARP, IPv4 with a correct header checksum, ICMP echo, UDP.
enum NetworkFrames {
    typealias MAC = [UInt8]
    typealias IPv4 = [UInt8]

    static let broadcast: MAC = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]

    /// An ARP request (`who-has target tell sender`) or reply, padded to Ethernet's 60-byte minimum.
    static func arp(reply: Bool, senderMAC: MAC, senderIP: IPv4, targetMAC: MAC, targetIP: IPv4) -> [UInt8] {
        var frame = ethernet(destination: reply ? targetMAC : broadcast, source: senderMAC, type: 0x0806)
        frame += [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, reply ? 2 : 1]
        frame += senderMAC + senderIP + (reply ? targetMAC : [0, 0, 0, 0, 0, 0]) + targetIP
        return padded(frame)
    }

    /// An ICMP echo request or reply with `payloadLength` bytes of the usual ping pattern.
    static func icmpEcho(reply: Bool, from: Endpoint, to: Endpoint, identifier: UInt16, sequence: UInt16, payloadLength: Int) -> [UInt8] {
        var icmp: [UInt8] = [reply ? 0 : 8, 0, 0, 0]
        append(identifier, to: &icmp)
        append(sequence, to: &icmp)
        icmp += (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0 &+ 0x10) }
        let sum = checksum(icmp)
        icmp[2] = UInt8(sum >> 8); icmp[3] = UInt8(sum & 0xff)
        return ipv4(from: from, to: to, protocolNumber: 1, identification: sequence, payload: icmp)
    }

    /// A UDP datagram (checksum left 0, which IPv4 allows).
    static func udp(from: Endpoint, to: Endpoint, sourcePort: UInt16, destinationPort: UInt16, identification: UInt16, payload: [UInt8]) -> [UInt8] {
        var datagram: [UInt8] = []
        append(sourcePort, to: &datagram)
        append(destinationPort, to: &datagram)
        append(UInt16(8 + payload.count), to: &datagram)
        append(UInt16(0), to: &datagram)
        return ipv4(from: from, to: to, protocolNumber: 17, identification: identification, payload: datagram + payload)
    }

    /// A host on the simulated network: its MAC and IPv4 address.
    struct Endpoint: Hashable, Sendable {
        var mac: MAC
        var ip: IPv4
    }

    static func ipv4(from: Endpoint, to: Endpoint, protocolNumber: UInt8, identification: UInt16, payload: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [0x45, 0x00]
        append(UInt16(20 + payload.count), to: &header)
        append(identification, to: &header)
        header += [0x40, 0x00, 64, protocolNumber, 0, 0]
        header += from.ip + to.ip
        let sum = checksum(header)
        header[10] = UInt8(sum >> 8); header[11] = UInt8(sum & 0xff)
        return padded(ethernet(destination: to.mac, source: from.mac, type: 0x0800) + header + payload)
    }

    static func ethernet(destination: MAC, source: MAC, type: UInt16) -> [UInt8] {
        var frame = destination + source
        append(type, to: &frame)
        return frame
    }

    /// The Internet checksum (RFC 1071) of `bytes`.
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    private static func padded(_ frame: [UInt8]) -> [UInt8] {
        frame.count >= 60 ? frame : frame + [UInt8](repeating: 0, count: 60 - frame.count)
    }

    /// Appends a big-endian (network order) 16-bit value.
    static func append(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xff))
    }

    /// A DNS query for `name` (type A, class IN) with transaction `id`.
    static func dnsQuery(id: UInt16, name: String) -> [UInt8] {
        var message: [UInt8] = []
        append(id, to: &message)
        message += [0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        message += dnsName(name)
        message += [0x00, 0x01, 0x00, 0x01]
        return message
    }

    /// The answer to ``dnsQuery(id:name:)``: one A record.
    static func dnsAnswer(id: UInt16, name: String, address: IPv4) -> [UInt8] {
        var message: [UInt8] = []
        append(id, to: &message)
        message += [0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]
        message += dnsName(name) + [0x00, 0x01, 0x00, 0x01]
        message += [0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04] + address
        return message
    }

    private static func dnsName(_ name: String) -> [UInt8] {
        name.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }
}
