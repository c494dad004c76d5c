/// A simulated virtio-net device and the Linux driver in front of it: a receive queue kept full of
/// 1536-byte buffers (mergeable receive buffers), a transmit queue, and a control queue.
///
/// Each tick the device side works first (it sees what the driver posted before): it sends a
/// bounded number of queued frames (so a burst stays visible in the ring for a tick or two), writes
/// arriving frames into receive buffers, and acknowledges control commands. Then the driver side
/// takes back received frames (and answers ARP for its address), refills the receive ring in
/// batches, reclaims transmitted buffers lazily as Linux's `free_old_xmit` does, and queues new
/// frames.
///
/// Transmit chains: a virtio-net header and the frame, with large frames split into a linear part
/// and a fragment, as an skb with paged data. Without indirect descriptors these are 2- or 3-
/// descriptor NEXT chains; with them, frames go as one buffer (header and frame together) or as an
/// indirect table.
struct NetDevice<Queue: SimulatedQueue>: SimulatedDevice {
    private(set) var identity: DeviceIdentity
    private var rx: Queue
    private var tx: Queue
    private var control: Queue
    private var traffic: NetworkTraffic
    private var rxBuffers: BufferPool
    private var txBuffers: BufferPool
    private var controlBuffers: BufferPool
    private let usesIndirect: Bool
    /// Frames the guest answers with, sent on the next tick.
    private var answers: [[UInt8]] = []
    private var nextControl: UInt64 = 0
    private var controlStep = 0
    /// Frames dropped because no receive buffer was posted, and transmit frames dropped for a full ring.
    private(set) var dropped = (rx: 0, tx: 0)

    static var rxBufferSize: Int { 1536 }
    /// Frames the device sends per tick at most.
    static var transmitBudget: Int { 4 }

    /// Net features QEMU's virtio-net-pci offers (and Linux accepts) with user networking.
    static var netFeatures: UInt64 { FeatureBit.bits([0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23]) }

    /// A virtio-net device `id` at PCI slot `slot`, its rings allocated in `ram`; guest number
    /// `index` on the simulated network. `packed` selects VIRTIO_F_RING_PACKED; `indirect` whether the
    /// device offers indirect descriptors (`indirect_desc=off` on QEMU's command line turns them off).
    init(id: String, slot: Int, index: UInt8, packed: Bool, indirect: Bool, queueSize: UInt16,
         allocator: inout GuestAllocator, ram: GuestRAM) throws(DemoError) {
        var host = FeatureBit.offered | Self.netFeatures | (packed ? FeatureBit.ringPacked : 0)
        if !indirect { host &= ~FeatureBit.indirectDescriptors }
        let guest = host & ~(FeatureBit.notifyOnEmpty | FeatureBit.anyLayout)
        identity = DeviceIdentity(name: "virtio-net", proxyType: "virtio-net-pci", id: id, deviceID: 1, devfn: slot << 3,
                                  hostFeatures: host, guestFeatures: guest)
        usesIndirect = indirect
        let tables = indirect ? 4 : 0
        rx = try Queue(size: queueSize, eventIndex: true, indirectEntries: 0, allocator: &allocator, ram: ram)
        tx = try Queue(size: queueSize, eventIndex: true, indirectEntries: tables, allocator: &allocator, ram: ram)
        control = try Queue(size: 64, eventIndex: true, indirectEntries: tables, allocator: &allocator, ram: ram)
        rxBuffers = try BufferPool(count: Int(queueSize), stride: UInt64(Self.rxBufferSize), allocator: &allocator)
        txBuffers = try BufferPool(count: Int(queueSize), stride: 4096, allocator: &allocator)
        controlBuffers = try BufferPool(count: 64, stride: 64, allocator: &allocator)
        traffic = NetworkTraffic(index: index)
        refillReceiveRing(ram: ram, batch: 1)
    }

    var queueReports: [QueueReport] {
        [rx, tx, control].map { QueueReport(addresses: $0.addresses, view: $0.deviceView, defaultSize: $0.size) }
    }

    mutating func tick(_ now: UInt64, ram: GuestRAM, random: inout DemoRandom) {
        // Device side.
        var sent: [(id: UInt16, length: UInt32)] = []
        while sent.count < Self.transmitBudget, let chain = tx.fetch(ram: ram) {
            sent.append((chain.id, 0))
        }
        tx.complete(sent, ram: ram)
        var received: [(id: UInt16, length: UInt32)] = []
        for frame in traffic.receive(at: now, random: &random) {
            guard let chain = rx.fetch(ram: ram) else { dropped.rx += 1; continue }
            let header = VirtioNetHeader(flags: 2)  // DATA_VALID: the host checked the checksum
            received.append((chain.id, Self.write(header.bytes + frame, into: chain.writable, ram: ram)))
        }
        rx.complete(received, ram: ram)
        var acknowledged: [(id: UInt16, length: UInt32)] = []
        while let chain = control.fetch(ram: ram) {
            if let ack = chain.writable.last { ram.store(UInt8(0), at: ack.address) }  // VIRTIO_NET_OK
            acknowledged.append((chain.id, 1))
        }
        control.complete(acknowledged, ram: ram)

        // Driver side.
        for done in rx.reclaim(ram: ram) {
            let frame = ram.read(at: rxBuffers.address(done.token) + UInt64(VirtioNetHeader.size),
                                 count: max(0, Int(done.length) - VirtioNetHeader.size))
            if let answer = traffic.answer(to: frame) { answers.append(answer) }
            rxBuffers.give(done.token)
        }
        refillReceiveRing(ram: ram, batch: 16)
        if tx.outstanding > Int(tx.size) / 2 || random.chance(0.3) { reclaimTransmitted(ram: ram) }
        let frames = answers + traffic.transmit(at: now, random: &random)
        answers = []
        for frame in frames where !transmit(frame, ram: ram) {
            reclaimTransmitted(ram: ram)
            if !transmit(frame, ram: ram) { dropped.tx += 1 }
        }
        for done in control.reclaim(ram: ram) { controlBuffers.give(done.token) }
        if now >= nextControl {
            sendControlCommand(ram: ram)
            nextControl = now + (controlStep < 4 ? 1 : UInt64(Int.random(in: 1000...4000, using: &random)))
        }
    }

    /// Posts receive buffers while there are at least `batch` free (Linux refills in batches).
    private mutating func refillReceiveRing(ram: GuestRAM, batch: Int) {
        guard rxBuffers.available >= batch else { return }
        while rx.canAdd(buffers: 1), let index = rxBuffers.take() {
            _ = rx.add([.writable(rxBuffers.address(index), Self.rxBufferSize)], token: index, ram: ram)
        }
    }

    private mutating func reclaimTransmitted(ram: GuestRAM) {
        for done in tx.reclaim(ram: ram) { txBuffers.give(done.token) }
    }

    /// Queues one frame; false when the ring or the buffers are full.
    private mutating func transmit(_ frame: [UInt8], ram: GuestRAM) -> Bool {
        let segments = frame.count > 1000 ? 2 : 1
        let buffersNeeded = usesIndirect ? segments : segments + 1
        guard tx.canAdd(buffers: buffersNeeded), let index = txBuffers.take() else { return false }
        let slot = txBuffers.address(index)
        var header = VirtioNetHeader()
        if frame.count > 34, frame[12] == 0x08, frame[13] == 0x00, frame[23] == 17 {  // IPv4 UDP: checksum offload
            header = VirtioNetHeader(flags: 1, checksumStart: 34, checksumOffset: 6)
        }
        let linear = segments == 2 ? 134 : frame.count
        let fragment = slot + 2048
        if segments == 2 { ram.write(Array(frame[linear...]), at: fragment) }
        var buffers: [GuestBuffer]
        if usesIndirect {
            // The header in the skb's headroom, right before the frame: one buffer for both.
            ram.write(header.bytes + frame[..<linear], at: slot)
            buffers = [.readable(slot, VirtioNetHeader.size + linear)]
        } else {
            ram.write(header.bytes, at: slot)
            ram.write(Array(frame[..<linear]), at: slot + 64)
            buffers = [.readable(slot, VirtioNetHeader.size), .readable(slot + 64, linear)]
        }
        if segments == 2 { buffers.append(.readable(fragment, frame.count - linear)) }
        guard tx.add(buffers, token: index, ram: ram) else {
            txBuffers.give(index)
            return false
        }
        return true
    }

    /// The control commands Linux sends at start-up, then an occasional one: receive mode, MAC
    /// address, guest offloads, announce acknowledgement.
    private mutating func sendControlCommand(ram: GuestRAM) {
        let commands: [(class: UInt8, command: UInt8, data: [UInt8])] = [
            (0, 0, [0]),                          // VIRTIO_NET_CTRL_RX_PROMISC off
            (0, 1, [1]),                          // VIRTIO_NET_CTRL_RX_ALLMULTI on
            (1, 1, traffic.guest.mac),            // VIRTIO_NET_CTRL_MAC_ADDR_SET
            (5, 0, [0x83, 0x07, 0, 0, 0, 0, 0, 0]),  // VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET
            (3, 0, []),                           // VIRTIO_NET_CTRL_ANNOUNCE_ACK
            (0, 1, [0]),                          // VIRTIO_NET_CTRL_RX_ALLMULTI off
        ]
        let command = commands[controlStep < 4 ? controlStep : 4 + controlStep % 2]
        let buffersNeeded = command.data.isEmpty ? 2 : 3
        guard control.canAdd(buffers: buffersNeeded), let index = controlBuffers.take() else { return }
        controlStep += 1
        let slot = controlBuffers.address(index)
        ram.write([command.class, command.command], at: slot)
        ram.write(command.data, at: slot + 8)
        ram.store(UInt8(0xff), at: slot + 32)
        var buffers: [GuestBuffer] = [.readable(slot, 2)]
        if !command.data.isEmpty { buffers.append(.readable(slot + 8, command.data.count)) }
        buffers.append(.writable(slot + 32, 1))
        if !control.add(buffers, token: index, ram: ram) { controlBuffers.give(index) }
    }

    /// Writes `bytes` across `buffers` in order; the number of bytes written.
    static func write(_ bytes: [UInt8], into buffers: [GuestBuffer], ram: GuestRAM) -> UInt32 {
        var done = 0
        for buffer in buffers where done < bytes.count {
            let n = min(Int(buffer.length), bytes.count - done)
            ram.write(Array(bytes[done..<done + n]), at: buffer.address)
            done += n
        }
        return UInt32(done)
    }
}
