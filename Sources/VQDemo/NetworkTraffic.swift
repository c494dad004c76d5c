/// What a simulated guest says on its network and what comes back: pings to the gateway, DNS
/// lookups, NTP, a UDP stream out in bursts and one in, the ARP that goes with them, and the
/// occasional broadcast from a neighbour. Replies arrive a few ticks after their request.
struct NetworkTraffic: Sendable {
    let guest: NetworkFrames.Endpoint
    let gateway: NetworkFrames.Endpoint
    let dnsServer: NetworkFrames.Endpoint
    let streamPeer: NetworkFrames.Endpoint
    let neighbour: NetworkFrames.Endpoint

    private var outbound = TrafficPhase(peak: 3.0, idle: 0.05)
    private var inbound = TrafficPhase(peak: 2.5, idle: 0.03)
    private var pending: [(due: UInt64, frame: [UInt8])] = []
    private var pingSequence: UInt16 = 0
    private var ipIdentification: UInt16 = 0x1c46
    private var dnsID: UInt16 = 0x3a21
    private var gatewayKnown = false
    private var nextPing: UInt64 = 0

    static let names = ["example.org", "deb.debian.org", "ntp.ubuntu.com", "github.com", "swift.org", "qemu.org"]

    /// The traffic of guest number `index` (0, 1...) on 10.0.2.0/24, as QEMU's user networking numbers it.
    init(index: UInt8) {
        guest = .init(mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56 &+ index], ip: [10, 0, 2, 15 &+ index])
        gateway = .init(mac: [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], ip: [10, 0, 2, 2])
        dnsServer = .init(mac: [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], ip: [10, 0, 2, 3])
        streamPeer = .init(mac: [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], ip: [10, 0, 2, 100])
        neighbour = .init(mac: [0x52, 0x54, 0x00, 0xab, 0xcd, 0x01], ip: [10, 0, 2, 20])
    }

    /// The frames the guest sends at tick `now`.
    mutating func transmit(at now: UInt64, random: inout DemoRandom) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        if !gatewayKnown || random.chance(0.0005) {
            frames.append(NetworkFrames.arp(reply: false, senderMAC: guest.mac, senderIP: guest.ip, targetMAC: gateway.mac, targetIP: gateway.ip))
            schedule(NetworkFrames.arp(reply: true, senderMAC: gateway.mac, senderIP: gateway.ip, targetMAC: guest.mac, targetIP: guest.ip),
                     after: 1, now: now)
            gatewayKnown = true
        }
        if now >= nextPing {  // ping, once a second
            nextPing = now + 100
            pingSequence &+= 1
            frames.append(NetworkFrames.icmpEcho(reply: false, from: guest, to: gateway, identifier: 0x4d2, sequence: pingSequence, payloadLength: 56))
            schedule(NetworkFrames.icmpEcho(reply: true, from: gateway, to: guest, identifier: 0x4d2, sequence: pingSequence, payloadLength: 56),
                     after: UInt64(Int.random(in: 1...3, using: &random)), now: now)
        }
        let rate = outbound.rate(at: now, random: &random)
        for _ in 0..<random.events(rate: rate) {
            frames.append(nextOutbound(now: now, random: &random))
        }
        return frames
    }

    /// The frames that arrive for the guest at tick `now`.
    mutating func receive(at now: UInt64, random: inout DemoRandom) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        pending.removeAll { item in
            guard item.due <= now else { return false }
            frames.append(item.frame)
            return true
        }
        let rate = inbound.rate(at: now, random: &random)
        for _ in 0..<random.events(rate: rate) {
            ipIdentification &+= 1
            let payload = streamPayload(length: random.chance(0.8) ? 1472 : Int.random(in: 200...1400, using: &random), random: &random)
            frames.append(NetworkFrames.udp(from: streamPeer, to: guest, sourcePort: 5004, destinationPort: 40123,
                                            identification: ipIdentification, payload: payload))
        }
        if random.chance(0.002) {
            frames.append(NetworkFrames.arp(reply: false, senderMAC: neighbour.mac, senderIP: neighbour.ip,
                                            targetMAC: NetworkFrames.broadcast,
                                            targetIP: random.chance(0.3) ? guest.ip : [10, 0, 2, UInt8.random(in: 30...60, using: &random)]))
        }
        return frames
    }

    /// The guest's answer to a frame it received, if it answers (ARP for its address, ping).
    func answer(to frame: [UInt8]) -> [UInt8]? {
        guard frame.count >= 42 else { return nil }
        let type = UInt16(frame[12]) << 8 | UInt16(frame[13])
        if type == 0x0806, frame[21] == 1, Array(frame[38..<42]) == guest.ip {
            let asker = NetworkFrames.Endpoint(mac: Array(frame[22..<28]), ip: Array(frame[28..<32]))
            return NetworkFrames.arp(reply: true, senderMAC: guest.mac, senderIP: guest.ip, targetMAC: asker.mac, targetIP: asker.ip)
        }
        return nil
    }

    private mutating func nextOutbound(now: UInt64, random: inout DemoRandom) -> [UInt8] {
        ipIdentification &+= 1
        let kind = random.pick([(70.0, 0), (8.0, 1), (2.0, 2), (20.0, 3)])
        switch kind {
        case 0:  // the stream out: mostly full-size datagrams
            let length = random.chance(0.75) ? 1472 : Int.random(in: 64...1400, using: &random)
            return NetworkFrames.udp(from: guest, to: streamPeer, sourcePort: 41000, destinationPort: 5001,
                                     identification: ipIdentification, payload: streamPayload(length: length, random: &random))
        case 1:  // DNS
            dnsID &+= 1
            let name = Self.names[Int.random(in: 0..<Self.names.count, using: &random)]
            schedule(NetworkFrames.udp(from: dnsServer, to: guest, sourcePort: 53, destinationPort: 50000 + dnsID % 1000,
                                       identification: ipIdentification &+ 0x100,
                                       payload: NetworkFrames.dnsAnswer(id: dnsID, name: name, address: [93, 184, 216, UInt8.random(in: 1...254, using: &random)])),
                     after: UInt64(Int.random(in: 2...10, using: &random)), now: now)
            return NetworkFrames.udp(from: guest, to: dnsServer, sourcePort: 50000 + dnsID % 1000, destinationPort: 53,
                                     identification: ipIdentification, payload: NetworkFrames.dnsQuery(id: dnsID, name: name))
        case 2:  // NTP
            var request = [UInt8](repeating: 0, count: 48)
            request[0] = 0x23
            var answer = request
            answer[0] = 0x24; answer[1] = 2
            schedule(NetworkFrames.udp(from: gateway, to: guest, sourcePort: 123, destinationPort: 123, identification: ipIdentification &+ 0x200, payload: answer),
                     after: UInt64(Int.random(in: 2...6, using: &random)), now: now)
            return NetworkFrames.udp(from: guest, to: gateway, sourcePort: 123, destinationPort: 123, identification: ipIdentification, payload: request)
        default:  // small control datagrams of the stream (acknowledgements)
            return NetworkFrames.udp(from: guest, to: streamPeer, sourcePort: 40123, destinationPort: 5004,
                                     identification: ipIdentification, payload: streamPayload(length: Int.random(in: 8...96, using: &random), random: &random))
        }
    }

    private mutating func schedule(_ frame: [UInt8], after ticks: UInt64, now: UInt64) {
        pending.append((now + ticks, frame))
    }

    /// A stream datagram's payload: a sequence number, then filler.
    private func streamPayload(length: Int, random: inout DemoRandom) -> [UInt8] {
        var payload = [UInt8](repeating: 0x5a, count: max(length, 8))
        let sequence = random.next()
        for i in 0..<8 { payload[i] = UInt8(truncatingIfNeeded: sequence >> (8 * UInt64(i))) }
        return payload
    }
}
