/// What the chains of `watch`'s events carry, decoded as `dump` decodes them, poll after poll.
///
/// A chain's bytes are read after the poll that reported it, and a driver frees (and may reuse)
/// what it wrote once the device used the chain, so a payload is given only where the bytes read
/// are the event's own:
/// - an **available** chain is decoded from what the driver wrote (the request) when it was still
///   in flight for the whole read: not used in the same poll, and the ring's indexes (split) or the
///   chain's slot (packed) as the poll left them once the chain was read. Its payload is kept.
/// - a **used** chain gets the payload kept from its available event (the request as it was in
///   flight); on a queue of receive buffers (``QueueRole/Flow/receive``: input events, entropy,
///   received packets) a chain with no device-readable part is decoded from what the device wrote,
///   when a split ring's indexes are still as the poll left them (the driver has not posted it
///   again, so the device has not written it since). Otherwise none: never the contents of a later
///   chain under an earlier event.
public struct RingEventPayloads {
    /// A descriptor's size in a split table and a packed ring (virtio 1.2, 2.7.5 and 2.8.13).
    static let descriptorSize = 16

    /// Each queue's payloads of chains seen in flight, by head (split) or buffer ID (packed).
    private var inFlight: [Int: [UInt32: DevicePayload]] = [:]
    /// Most chains remembered per queue (a ring's size at most, so this only bounds odd rings).
    static let maxRemembered = 32_768

    /// Nothing seen yet.
    public init() {}

    /// The payload of each of `events` (one poll of `watcher`, in ring order: see
    /// ``RingWatcher/inRingOrder(_:queues:)``), in the same order; nil where the queue has no decoder
    /// (`roles[queue]` nil), the chain cannot be read, or its bytes may no longer be its own.
    public mutating func decode(_ events: [RingEvent], watcher: RingWatcher, roles: [PayloadRole?]) -> [DevicePayload?] {
        var payloads = [DevicePayload?](repeating: nil, count: events.count)
        let byQueue = Dictionary(grouping: events.indices, by: { events[$0].queue })
        for (q, positions) in byQueue where q < watcher.queues.count && q < roles.count {
            guard let role = roles[q] else { continue }
            var kept = inFlight[q] ?? [:]
            decode(positions.map { (i: $0, event: events[$0]) }, queue: q, role: role, watcher: watcher, kept: &kept, into: &payloads)
            inFlight[q] = kept.count > Self.maxRemembered ? [:] : kept
        }
        return payloads
    }

    private func decode(_ events: [(i: Int, event: RingEvent)], queue q: Int, role: PayloadRole, watcher: RingWatcher,
                        kept: inout [UInt32: DevicePayload], into payloads: inout [DevicePayload?]) {
        let memory = watcher.memories[q]
        let location = watcher.queues[q]
        let receiveQueue = QueueRole(deviceName: role.device, index: role.queueIndex, queueCount: role.queueCount).flow == .receive
        // Available chains the device used later in this poll (ring order): their bytes may be freed already.
        var usedLater = Set<Int>()
        var usedAfter = Set<UInt32>()
        for e in events.reversed() {
            switch e.event.kind {
            case .used(let id, _): usedAfter.insert(id)
            case .available(let head): if usedAfter.remove(UInt32(head)) != nil { usedLater.insert(e.i) }
            case .lapped: break
            }
        }
        // Decoded here, kept only once the ring shows they were read while still in flight.
        var fresh: [(i: Int, id: UInt32, slot: UInt16, payload: DevicePayload?)] = []
        var receive: [(i: Int, payload: DevicePayload?)] = []
        var table: [Descriptor]?
        func splitTable() -> [Descriptor]? {
            if table == nil, let raw = try? memory.bytes(at: location.descriptors, count: Int(location.size) * Self.descriptorSize) {
                table = Descriptor.decode(raw, layout: .split)
            }
            return table
        }
        for (i, event) in events {
            switch event.kind {
            case .available(let head):
                // A new chain under this head: what was kept for it is no longer its.
                kept[UInt32(head)] = nil
                guard !usedLater.contains(i) else { continue }
                let chain: Chain
                switch location.layout {
                case .split:
                    guard let table = splitTable() else { continue }
                    chain = Chain.split(head: head, table: table, memory: memory)
                case .packed:
                    guard let ring = watcher.packedRings[q], Int(event.index) < ring.count else { continue }
                    chain = Chain.packed(head: event.index, ring: ring, memory: memory)
                }
                fresh.append((i, UInt32(head), event.index, role.decode(chain, memory: memory)))
            case .used(let id, let length):
                if let payload = kept.removeValue(forKey: id) {
                    payloads[i] = payload
                } else if location.layout == .split, id < UInt32(location.size), let table = splitTable() {
                    // Only a queue of receive buffers: a used request's chain (its indirect table
                    // freed, perhaps zeroed) may read as a chain with nothing device-readable.
                    guard receiveQueue else { continue }
                    let chain = Chain.split(head: UInt16(id), table: table, memory: memory)
                    if chain.readableBytes == 0 && chain.writableBytes > 0 && chain.problems.isEmpty {
                        receive.append((i, role.decode(chain, memory: memory, completedLength: length)))
                    }
                }
            case .lapped:
                continue
            }
        }
        guard !fresh.isEmpty || !receive.isEmpty, ringUnmoved(queue: q, watcher: watcher, slots: fresh.map(\.slot)) else { return }
        for f in fresh {
            payloads[f.i] = f.payload
            if let payload = f.payload { kept[f.id] = payload }
        }
        for r in receive { payloads[r.i] = r.payload }
    }

    /// Whether the ring is as the poll left it: a split ring's avail and used indexes, a packed
    /// ring's `slots`.
    private func ringUnmoved(queue q: Int, watcher: RingWatcher, slots: [UInt16]) -> Bool {
        let memory = watcher.memories[q]
        let location = watcher.queues[q]
        switch location.layout {
        case .split:
            guard let before = watcher.current[q].available, let usedBefore = watcher.current[q].used,
                  let availAt = location.driverArea.advanced(by: 2), let usedAt = location.deviceArea.advanced(by: 2),
                  let avail = try? memory.load(UInt16.self, at: availAt), let used = try? memory.load(UInt16.self, at: usedAt) else { return false }
            return avail == before && used == usedBefore
        case .packed:
            guard let ring = watcher.packedRings[q],
                  let raw = try? memory.bytes(at: location.descriptors, count: ring.count * Self.descriptorSize) else { return false }
            let now = Descriptor.decode(raw, layout: .packed)
            return now.count == ring.count && slots.allSatisfy { Int($0) < ring.count && now[Int($0)] == ring[Int($0)] }
        }
    }
}
