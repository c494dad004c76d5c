import VQCore

/// A packed virtqueue driven by a driver and a device that follow the spec as Linux and QEMU do, in
/// memory, recording what truly happened: the ground truth for ``PackedRingFollower`` and
/// ``RingWatcher`` tests.
///
/// The driver writes a chain's slots in ring order with the buffer ID in every descriptor, NEXT on
/// all but the last, and the first descriptor's flags last. The device writes a used descriptor (ID,
/// length, AVAIL = USED = its wrap counter; the address is left as the driver wrote it) at its used
/// position and moves on by the buffer's slot count, in any completion order.
struct PackedRingSimulator {
    struct Buffer {
        var id: UInt16
        var position: Int
        var slots: Int
        var address: UInt64
    }

    let n: Int
    var ring: [Descriptor]
    /// Free-running driver and device used positions (slot = mod n; wrap counter 1 in even laps).
    var driver = 0
    var used = 0
    /// Buffers made available and not yet used, oldest first.
    var inFlight: [Buffer] = []
    /// What happened, in order.
    var truth: [RingEvent] = []
    private var addressCounter: UInt64 = 0

    init(size: Int) {
        n = size
        ring = [Descriptor](repeating: Descriptor(address: GuestPhysicalAddress(0), length: 0), count: size)
    }

    func slot(_ a: Int) -> Int { a % n }
    func wrap(_ a: Int) -> Bool { (a / n) % 2 == 0 }

    /// Slots the driver may still fill.
    var freeSlots: Int { used + n - driver }
    /// IDs not in flight, lowest first.
    var freeIDs: [UInt16] {
        let busy = Set(inFlight.map(\.id))
        return (0..<UInt16(n)).filter { !busy.contains($0) }
    }

    /// A random ID not in flight, if there is one (cheap while the ring is not nearly full).
    func randomFreeID(_ random: inout TestRandom) -> UInt16? {
        guard inFlight.count < n else { return nil }
        for _ in 0..<8 {
            let id = UInt16(random.below(n))
            if !inFlight.contains(where: { $0.id == id }) { return id }
        }
        return freeIDs.randomElement(using: &random)
    }

    /// Makes a buffer of `slots` descriptors available (one INDIRECT descriptor when `indirect`).
    /// `address` defaults to a fresh one; pass the same address to model a driver reusing its buffer.
    /// `writable` marks the descriptors device-writable; `length` is each one's (default 512; 32 for an
    /// indirect table).
    mutating func post(id: UInt16, slots: Int = 1, indirect: Bool = false, address: UInt64? = nil, writable: Bool = false, length: UInt32? = nil) {
        precondition(slots >= 1 && slots <= freeSlots, "no room")
        precondition(!inFlight.contains { $0.id == id }, "ID in flight")
        addressCounter += 1
        let base = address ?? (0x100000 + addressCounter * 0x1000)
        let w = wrap(driver)
        let availability: Descriptor.Flags = w ? [.avail] : [.used]
        for k in (0..<slots).reversed() {
            var flags = availability
            if k < slots - 1 { flags.insert(.next) }
            if indirect { flags.insert(.indirect) }
            if writable { flags.insert(.write) }
            // Slots of a chain wrapping past the end belong to the next lap.
            if wrap(driver + k) != w { flags = flags.symmetricDifference([.avail, .used]) }
            ring[slot(driver + k)] = Descriptor(address: GuestPhysicalAddress(base + UInt64(k) * 0x100), length: length ?? (indirect ? 32 : 512),
                                                flags: flags, id: id)
        }
        truth.append(RingEvent(queue: 0, kind: .available(head: id), index: UInt16(slot(driver)), wrap: w))
        inFlight.append(Buffer(id: id, position: driver, slots: slots, address: base))
        driver += slots
    }

    /// The device returns buffer `id` (in flight) having written `length` bytes.
    mutating func complete(id: UInt16, length: UInt32 = 64) {
        guard let i = inFlight.firstIndex(where: { $0.id == id }) else { preconditionFailure("\(id) not in flight") }
        let b = inFlight.remove(at: i)
        let w = wrap(used)
        let s = slot(used)
        ring[s] = Descriptor(address: ring[s].address, length: length, flags: w ? [.avail, .used] : [], id: id)
        truth.append(RingEvent(queue: 0, kind: .used(id: UInt32(id), length: length), index: UInt16(s), wrap: w))
        used += b.slots
    }

    /// Completes the oldest buffer in flight.
    mutating func completeOldest(length: UInt32 = 64) {
        complete(id: inFlight[0].id, length: length)
    }

    /// The ring as little-endian bytes (for a memory-backed test).
    var bytes: [UInt8] { ring.flatMap(\.packedBytes) }
}

/// A small deterministic generator (SplitMix64) for randomized tests.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// 0 ..< bound (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
