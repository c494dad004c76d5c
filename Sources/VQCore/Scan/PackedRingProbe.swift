/// A packed ring (virtio 1.2, 2.8) that passed every hard check, with the evidence scored.
struct PackedCandidate: Sendable, Hashable {
    var size: Int
    var descriptors: UInt64
    /// Slots written (not all zero).
    var written: Int
    /// Slots made available and not yet used (AVAIL ≠ USED).
    var available: Int
    /// Whether the ring is in its first lap with a zeroed tail, so that its size is a guess: any
    /// power of two from the written slots to the zeroed end fits.
    var sizeGuessed: Bool
    /// Linux's event suppression pages (driver's one page before the ring, device's two), when
    /// they look like one: 4 bytes with flags ≤ 2, the rest of the page zero.
    var driverEvent: UInt64?
    var deviceEvent: UInt64?
    var score: Int

    var end: UInt64 { descriptors &+ 16 &* UInt64(size) }

    func scannedRing(driver: PackedRing.Position, deviceUsed: PackedRing.Position) -> ScannedRing {
        var reasons = ["packed ring of \(size) descriptors at \(Hex.string(descriptors)), page-aligned"]
        if sizeGuessed { reasons.append("first lap with a zeroed tail: the size is the largest that fits, not seen") }
        reasons.append("\(written) slots written, \(available) available; AVAIL bits change at most once, every buffer id below \(size)")
        reasons.append("driver at \(driver), device used position \(deviceUsed)")
        if driverEvent != nil && deviceEvent != nil {
            reasons.append("event suppression areas where Linux puts them (one and two pages before the ring)")
        } else {
            reasons.append("event suppression areas not seen where Linux puts them: given as Linux's places, unconfirmed")
        }
        let location = VirtqueueLocation(layout: .packed, size: UInt16(size), descriptors: GuestPhysicalAddress(descriptors),
                                         driverArea: GuestPhysicalAddress(driverEvent ?? descriptors &- RingScanner.guestPage),
                                         deviceArea: GuestPhysicalAddress(deviceEvent ?? descriptors &- 2 &* RingScanner.guestPage))
        return ScannedRing(location: location, availIndex: driver.encoded, usedIndex: deviceUsed.encoded, deviceGuess: nil, score: score,
                           reasons: reasons)
    }
}

extension RingScanner {
    /// The guest page Linux allocates a packed ring's descriptor ring and each event area in
    /// (4 KiB on the x86 guests vqscope reads; not the host's page size).
    static let guestPage: UInt64 = 4096

    /// The packed prefilter: at each page-aligned guest position in `[from, to)` of `view`, two
    /// loads: slot 0 could be a written packed descriptor (flags only NEXT, WRITE, INDIRECT, AVAIL,
    /// USED; buffer id below 0x8000; a non-zero address below 2^52). Linux allocates packed rings
    /// in whole pages, so only page starts are tried: one test per 4 KiB.
    @inline(__always)
    static func packedPrefilter(_ view: UnsafeMutableRawBufferPointer, from: Int, to: Int, gpa: UInt64, anchors: inout [Int]) {
        let base = UnsafeRawPointer(view.baseAddress!)
        let page = RingScanner.guestPage
        var offset = from &+ Int((page &- (gpa &+ UInt64(from)) & (page &- 1)) & (page &- 1))
        let limit = min(to, view.count &- 15)
        while offset < limit {
            let addr = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            let tail = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt64.self))
            // flags: bits other than 0x8087 zero; id: bit 15 zero.
            if addr != 0 && addr >> 52 == 0 && tail & 0x7F78_8000_0000_0000 == 0 { anchors.append(offset) }
            offset &+= Int(page)
        }
    }
}

/// Verifies a packed ring whose descriptor ring would start at a page-aligned anchor.
struct PackedProbe {
    let bytes: ScanBytes
    let slotStart: UInt64
    let slotEnd: UInt64
    let ram: RAMRanges
    let maxN: Int

    /// The least score a packed find needs (the split scan's default threshold).
    static let minimumScore = 10

    /// What one slot holds.
    enum Slot: Equatable { case zero, invalid, written(avail: Bool, used: Bool, id: UInt16) }

    @inline(__always)
    func slot(_ at: UInt64) -> Slot {
        let addr = bytes.u64(at), tail = bytes.u64(at &+ 8)
        if addr == 0 && tail == 0 { return .zero }
        let len = UInt32(truncatingIfNeeded: tail), id = UInt16(truncatingIfNeeded: tail >> 32), flags = UInt16(truncatingIfNeeded: tail >> 48)
        guard flags & 0x7F78 == 0, id < 0x8000, flags & 5 != 5 else { return .invalid }
        if flags & 4 != 0 && len & 15 != 0 { return .invalid }
        let avail = flags & 0x80 != 0, used = flags & 0x8000 != 0
        // The address stays the driver's after use; an available buffer is not empty and lies in RAM.
        if avail != used {
            guard len > 0, ram.contains(addr, UInt64(len)) else { return .invalid }
        } else {
            guard ram.contains(addr, 1) else { return .invalid }
        }
        return .written(avail: avail, used: used, id: id)
    }

    /// The best packed ring starting at `p` (page-aligned), or nil.
    func best(at p: UInt64) -> PackedCandidate? {
        guard p & 0xFFF == 0, p >= slotStart else { return nil }
        // Walk the slots while each is valid on its own: the ring cannot reach past the first invalid one.
        // A first lap's zeroed tail leaves the size open: a ring of one page (or twice the written
        // slots, when more) at most, which also bounds the walk over zeros.
        var slots: [Slot] = []
        var firstZero: Int?
        var at = p
        while slots.count < maxN && at &+ 16 <= slotEnd && bytes.holds(at, 16) {
            if let z = firstZero, slots.count >= max(256, 2 * z) { break }
            let s = slot(at)
            if s == .invalid { break }
            if s == .zero && firstZero == nil { firstZero = slots.count }
            slots.append(s)
            at &+= 16
        }
        guard case .written = slots.first else { return nil }
        // A size that leaves written slots of the first lap outside the ring is refuted by them: 24
        // slots written in ring order are no full lap of 16 (whose driver position and wrap counter
        // would be wrong). So the candidate holding the most written slots wins, then the best score.
        var best: PackedCandidate?
        var n = 2
        while n <= slots.count {
            defer { n <<= 1 }
            guard let c = check(slots, n: n, at: p) else { continue }
            if let b = best, c.written < b.written || (c.written == b.written && c.score < b.score) { continue }
            best = c
        }
        return best
    }

    /// The hard checks and the score of a ring of `n` slots at `p`.
    func check(_ slots: [Slot], n: Int, at p: UInt64) -> PackedCandidate? {
        var firstZero: Int?
        var transitions = 0
        var lastAvail: Bool?
        var written = 0, available = 0, flagged = 0
        var availableIDs = Set<UInt16>()
        for i in 0..<n {
            switch slots[i] {
            case .invalid: return nil
            case .zero:
                if firstZero == nil { firstZero = i }
            case .written(let avail, let used, let id):
                // A zeroed slot is one never written: only the tail of the first lap.
                if firstZero != nil { return nil }
                guard Int(id) < n else { return nil }
                written += 1
                if avail || used { flagged += 1 }
                if avail != used {
                    available += 1
                    availableIDs.insert(id)
                }
                if let last = lastAvail, last != avail { transitions += 1 }
                lastAvail = avail
            }
        }
        // The driver writes slots in ring order: AVAIL reads x…x ¬x…¬x. In the first lap every
        // written slot has AVAIL = 1.
        guard transitions <= 1 else { return nil }
        if firstZero != nil && !slots[0..<n].allSatisfy({ if case .written(let a, _, _) = $0 { return a } else { return true } }) { return nil }
        // A lap of used descriptors with wrap 0 has no flag set at all: too little to tell from data.
        guard flagged > 0, written >= 2 || n <= 8 else { return nil }

        var score = 4  // page-aligned
        if availableIDs.count == available { score += 2 } else { score -= 4 }  // ids in flight are distinct
        score += min(written, 4)
        if written == n { score += 2 }
        if n <= 4 { score -= 4 } else if n >= 64 { score += 1 }
        let driverEvent = eventPage(p &- RingScanner.guestPage, n: n), deviceEvent = eventPage(p &- 2 &* RingScanner.guestPage, n: n)
        if driverEvent { score += 3 }
        if deviceEvent { score += 2 }
        return PackedCandidate(size: n, descriptors: p, written: written, available: available, sizeGuessed: firstZero != nil,
                               driverEvent: driverEvent ? p &- RingScanner.guestPage : nil, deviceEvent: deviceEvent ? p &- 2 &* RingScanner.guestPage : nil, score: score)
    }

    /// Whether the page at `at` looks like an event suppression structure alone in its page:
    /// flags ≤ 2 and an offset below `n`, the rest of the page zero.
    func eventPage(_ at: UInt64, n: Int) -> Bool {
        let page = RingScanner.guestPage
        guard at >= slotStart, bytes.holds(at, page) else { return false }
        let head = bytes.u32(at)
        let flags = head >> 16, offset = head & 0x7FFF
        guard flags <= 2, Int(offset) < n else { return false }
        var k: UInt64 = 8
        if bytes.u32(at &+ 4) != 0 { return false }
        while k < page {
            if bytes.u64(at &+ k) != 0 { return false }
            k &+= 8
        }
        return true
    }
}
