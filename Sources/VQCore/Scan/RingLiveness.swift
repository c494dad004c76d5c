/// Whether a ring a RAM scan found is in use, and why it is judged so (``RingLiveness/judge(_:later:window:map:)``).
///
/// A scan finds every ring-shaped structure, including rings nobody uses any more: the one SeaBIOS
/// set up while probing boot devices (left in the e820-reserved top of RAM), a ring an earlier
/// driver abandoned when the device was reset. Such a ring must not take a live device's name.
public struct RingLiveness: Sendable, Hashable {
    /// `true`: nothing shows the ring is in use and something shows it was left behind; `false`:
    /// something shows it is in use; `nil`: not judged (an image holds one instant).
    public var stale: Bool?
    /// Why, one short phrase.
    public var reason: String

    /// A judgement from its parts.
    public init(stale: Bool?, reason: String) {
        self.stale = stale
        self.reason = reason
    }

    /// An image's rings: one instant says nothing of motion.
    public static let unjudged = RingLiveness(stale: nil, reason: "one instant (an image): not judged")

    /// Bytes at the top of the RAM below 4 GiB that SeaBIOS reserves in the e820 map for its own
    /// tables (BUILD_MAX_HIGHTABLE): its virtio rings live there, no operating system's do.
    public static let firmwareTop: UInt64 = 256 << 10

    /// The firmware's area of `map`: the top ``firmwareTop`` bytes of the RAM range (slots merged)
    /// holding guest 1 MiB, when it ends at or below 4 GiB and is larger than the area.
    static func firmwareArea(_ map: SlotMap) -> (start: UInt64, end: UInt64)? {
        let ram = RAMRanges(map)
        for i in 0..<ram.starts.count where ram.starts[i] <= 0x100000 && 0x100000 < ram.ends[i] {
            let end = ram.ends[i]
            guard end <= 1 << 32, end - ram.starts[i] > firmwareTop else { return nil }
            return (end - firmwareTop, end)
        }
        return nil
    }

    /// Whether `location`'s used ring sits where Linux puts it: right after `used_event`, rounded
    /// up to 64 bytes, with the avail ring right after the descriptor table.
    /// A packed ring is found only page-aligned, as Linux allocates it: always in its layout.
    static func linuxLayout(_ location: VirtqueueLocation) -> Bool {
        if location.layout == .packed { return true }
        let n = UInt64(location.size)
        let avail = location.driverArea.rawValue
        return avail == location.descriptors.rawValue &+ 16 &* n && location.deviceArea.rawValue == (avail &+ 6 &+ 2 &* n &+ 63) & ~63
    }

    /// Judges each of `rings` (as the scan read them) from a second reading `later` of their
    /// indexes, taken `window` seconds after (one entry per ring, nil where it could not be read),
    /// in guest RAM `map`. In this order:
    /// 1. indexes that moved: live;
    /// 2. in the firmware's reserved top of low RAM (``firmwareTop``): stale;
    /// 3. replaced: not in Linux's layout while a ring of the same size and guess is: stale;
    /// 4. buffers in flight (`avail.idx` ≠ `used.idx`): live;
    /// 5. idle in Linux's layout (the running driver's): live;
    /// 6. otherwise (idle, unmoved, in no layout of the running driver): stale.
    /// Returns the rings with ``ScannedRing/stale`` and ``ScannedRing/liveness`` set, in the same order.
    public static func judge(_ rings: [ScannedRing], later: [RingIndexes?], window: Double, map: SlotMap) -> [ScannedRing] {
        let firmware = firmwareArea(map)
        let milliseconds = Int((window * 1000).rounded())
        let linuxShapes = Set(rings.filter { linuxLayout($0.location) }.map { ShapeKey(size: $0.location.size, guess: $0.deviceGuess) })
        return rings.enumerated().map { i, ring in
            var ring = ring
            let verdict: RingLiveness
            let now = i < later.count ? later[i] : nil
            let desc = ring.location.descriptors.rawValue
            if let now, let a = now.available, let u = now.used, a != ring.availIndex || u != ring.usedIndex {
                verdict = RingLiveness(stale: false, reason: "indexes moved in \(milliseconds) ms (avail \(ring.availIndex)→\(a), used \(ring.usedIndex)→\(u))")
            } else if let firmware, desc >= firmware.start, desc < firmware.end {
                verdict = RingLiveness(stale: true, reason: "in the firmware's reserved top of RAM (\(Hex.string(firmware.start))-\(Hex.string(firmware.end - 1))), unmoved")
            } else if !linuxLayout(ring.location), linuxShapes.contains(ShapeKey(size: ring.location.size, guess: ring.deviceGuess)) {
                verdict = RingLiveness(stale: true, reason: "replaced: a ring of the same size and kind is laid out as the running driver does")
            } else if ring.availIndex != ring.usedIndex {
                verdict = RingLiveness(stale: false, reason: "\(ring.availIndex &- ring.usedIndex) buffers in flight")
            } else if linuxLayout(ring.location) {
                verdict = RingLiveness(stale: false, reason: "idle, laid out as the running Linux driver does")
            } else if now == nil {
                verdict = RingLiveness(stale: nil, reason: "idle, its indexes could not be read again")
            } else {
                verdict = RingLiveness(stale: true, reason: "idle and unmoved in \(milliseconds) ms, in no layout of the running driver")
            }
            ring.stale = verdict.stale
            ring.liveness = verdict.reason
            return ring
        }
    }

    private struct ShapeKey: Hashable {
        var size: UInt16
        var guess: String?
    }

    /// `rings` with the stale ones last, each part in its former order.
    public static func rankLiveFirst(_ rings: [ScannedRing]) -> [ScannedRing] {
        rings.filter { $0.stale != true } + rings.filter { $0.stale == true }
    }
}
