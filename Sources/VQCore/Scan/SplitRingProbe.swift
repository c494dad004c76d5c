/// Where a candidate's used ring sits relative to its avail ring.
enum UsedPlacement: Sendable, Hashable {
    /// Linux: the end of `used_event` rounded up to 64 bytes (SMP_CACHE_BYTES).
    case linux
    /// Legacy virtio (0.9.5, QEMU's legacy PCI, SeaBIOS): the next 4 KiB boundary.
    case legacy
    /// Any other 4-byte-aligned place in the search window.
    case other
}

/// One place the used ring could be, with its evidence.
struct UsedChoice: Sendable, Hashable {
    var at: UInt64
    var placement: UsedPlacement
    var usedIndex: UInt16
    /// Written used entries checked (all name live descriptors).
    var checked: Int
    /// Of the latest (up to 4) used entries, those returning the head made available at the same position.
    var inOrder: Int
    /// Non-zero elements past used.idx (before a wrap).
    var tailDirty: Bool
    var score: Int
}

/// A ring that passed every hard check, with the evidence scored.
struct RingCandidate: Sendable, Hashable {
    var size: Int
    var descriptors: UInt64
    var avail: UInt64
    var availIndex: UInt16
    var liveDescriptors: Int
    /// Written avail entries checked (all name live descriptors).
    var headsChecked: Int
    /// Live descriptors longer than 4 MiB.
    var implausibleLengths: Int
    /// Non-zero avail entries past avail.idx (before a wrap).
    var availTailDirty: Bool
    /// The score of the descriptor table and avail ring alone.
    var coreScore: Int
    /// The best-scoring used ring.
    var usedChoice: UsedChoice
    /// The best used ring at a known placement, when the best one is elsewhere: used instead when
    /// the best one lies inside another ring.
    var knownAlternative: UsedChoice?

    var used: UInt64 { usedChoice.at }
    var usedIndex: UInt16 { usedChoice.usedIndex }
    var placement: UsedPlacement { usedChoice.placement }
    var score: Int { coreScore + usedChoice.score }
    /// One past the last byte of the avail ring (`used_event` included).
    var coreEnd: UInt64 { avail &+ 6 &+ 2 &* UInt64(size) }

    /// One past the last byte of the used ring (`avail_event` included).
    var end: UInt64 { used &+ 6 &+ 8 &* UInt64(size) }

    func scannedRing() -> ScannedRing {
        var reasons: [String] = []
        reasons.append("\(size) descriptors at \(Hex.string(descriptors))" + (descriptors & 0xFFF == 0 ? ", page-aligned" : descriptors & 63 == 0 ? ", 64-byte-aligned" : ", 16-byte-aligned"))
        switch placement {
        case .linux: reasons.append("used ring where Linux puts it (after used_event, rounded up to 64 bytes)")
        case .legacy: reasons.append("used ring where legacy virtio puts it (next 4 KiB boundary)")
        case .other: reasons.append("used ring at avail+\(Hex.string(used - avail)), no known layout")
        }
        let inFlight = availIndex &- usedIndex
        reasons.append("avail.idx \(availIndex), used.idx \(usedIndex)" + (inFlight == 0 ? ", idle" : ", \(inFlight) in flight"))
        reasons.append("\(liveDescriptors) live descriptor\(liveDescriptors == 1 ? "" : "s")")
        if headsChecked > 0 { reasons.append("\(headsChecked) written avail entr\(headsChecked == 1 ? "y names a" : "ies name") live descriptor\(headsChecked == 1 ? "" : "s")") }
        let usedChecked = usedChoice.checked
        if usedChecked > 0 {
            reasons.append("\(usedChecked) written used entr\(usedChecked == 1 ? "y names a" : "ies name") live descriptor\(usedChecked == 1 ? "" : "s")"
                           + ", \(usedChoice.inOrder) of the latest return the head made available at the same position")
        }
        if availTailDirty { reasons.append("avail entries past avail.idx are not zero (wrapped past 65535, or not a ring)") }
        if usedChoice.tailDirty { reasons.append("used elements past used.idx are not zero (wrapped past 65535, or not a ring)") }
        if implausibleLengths > 0 { reasons.append("\(implausibleLengths) descriptor\(implausibleLengths == 1 ? "" : "s") longer than 4 MiB") }
        let location = VirtqueueLocation(layout: .split, size: UInt16(size), descriptors: GuestPhysicalAddress(descriptors),
                                         driverArea: GuestPhysicalAddress(avail), deviceArea: GuestPhysicalAddress(used))
        return ScannedRing(location: location, availIndex: availIndex, usedIndex: usedIndex, deviceGuess: nil, score: score, reasons: reasons)
    }
}

/// Verifies ring candidates around one avail-ring anchor in a chunk of guest bytes.
struct RingProbe {
    let bytes: ScanBytes
    let slotStart: UInt64
    let slotEnd: UInt64
    let ram: RAMRanges
    let maxN: Int
    let usedWindow: UInt64
    let maximumUsedPositions: Int

    init(bytes: ScanBytes, slotStart: UInt64, slotEnd: UInt64, ram: RAMRanges, maxN: Int, limits: RingScanLimits) {
        self.bytes = bytes
        self.slotStart = slotStart
        self.slotEnd = slotEnd
        self.ram = ram
        self.maxN = maxN
        self.usedWindow = UInt64(max(0, limits.usedSearchWindow))
        self.maximumUsedPositions = max(1, limits.maximumUsedPositions)
    }

    enum DescriptorState { case empty, live, invalid }

    /// Longer than this, a descriptor's length counts against the candidate (not refused).
    static let plausibleLength: UInt32 = 4 << 20
    /// A used element's `len` above this refuses the candidate.
    static let maximumUsedLength: UInt32 = 1 << 28

    /// A descriptor: all zero (never used), live (valid and pointing into RAM), or invalid.
    @inline(__always)
    func descriptor(_ at: UInt64, _ n: Int) -> DescriptorState {
        let addr = bytes.u64(at)
        let tail = bytes.u64(at &+ 8)  // len | flags << 32 | next << 48
        let len = UInt32(truncatingIfNeeded: tail)
        let flags = UInt16(truncatingIfNeeded: tail >> 32)
        let next = UInt16(truncatingIfNeeded: tail >> 48)
        if flags > 7 || Int(next) >= n { return .invalid }
        if addr == 0 && len == 0 { return .empty }
        if len == 0 || flags & 5 == 5 { return .invalid }  // empty buffer; INDIRECT with NEXT
        if flags & 4 != 0 && len & 15 != 0 { return .invalid }  // an indirect table holds whole descriptors
        return ram.contains(addr, UInt64(len)) ? .live : .invalid
    }

    /// The best candidate whose avail ring is at `avail`, over every ring size.
    func best(avail p: UInt64, budget: ScanShared, dropped: inout UInt64) -> RingCandidate? {
        let idx = bytes.u16(p &+ 2)
        var best: RingCandidate?
        var maxEntry: UInt16 = 0
        var scanned = 0
        var n = 2
        while n <= maxN {
            defer { n <<= 1 }
            let nn = UInt64(n)
            // The table before the avail ring and the avail ring itself lie in this slot and chunk;
            // a larger N only reaches further.
            guard p >= slotStart &+ 16 &* nn, bytes.holds(p &- 16 &* nn, 16 &* nn) else { break }
            guard p &+ 6 &+ 2 &* nn <= slotEnd, bytes.holds(p, 6 &+ 2 &* nn) else { break }
            let desc = p &- 16 &* nn
            let mask = UInt16(n - 1)
            // Cheapest first: the latest head names a live descriptor.
            let head = bytes.u16(p &+ 4 &+ 2 &* UInt64((idx &- 1) & mask))
            guard Int(head) < n, descriptor(desc &+ 16 &* UInt64(head), n) == .live else { continue }
            // Then a few more of the latest written heads.
            let written = min(Int(idx), n)
            var headsLive = true
            var j = 2
            while j <= min(written, 4) {
                let h = bytes.u16(p &+ 4 &+ 2 &* UInt64((idx &- UInt16(j)) & mask))
                if Int(h) >= n || descriptor(desc &+ 16 &* UInt64(h), n) != .live { headsLive = false; break }
                j += 1
            }
            guard headsLive else { continue }
            // Every entry below N: stop at the first that is not (a larger N resumes from there).
            while scanned < n && Int(maxEntry) < n {
                let e = bytes.u16(p &+ 4 &+ 2 &* UInt64(scanned))
                if e > maxEntry { maxEntry = e }
                scanned += 1
            }
            if Int(maxEntry) >= maxN { break }
            guard Int(maxEntry) < n else { continue }
            guard budget.takeVerification() else { dropped &+= 1; continue }
            if let c = verify(n: n, descriptors: desc, avail: p), c.score > (best?.score ?? Int.min) {
                best = c
            }
        }
        return best
    }

    /// The full check of one (N, desc, avail): descriptor table, written heads, used ring search.
    /// Every avail entry is already known to be below N.
    func verify(n: Int, descriptors desc: UInt64, avail p: UInt64) -> RingCandidate? {
        let nn = UInt64(n)
        let mask = UInt16(n - 1)
        let idx = bytes.u16(p &+ 2)
        var live = 0
        var implausible = 0
        for i in 0..<nn {
            let at = desc &+ 16 &* i
            switch descriptor(at, n) {
            case .invalid: return nil
            case .empty: continue
            case .live:
                live += 1
                if bytes.u32(at &+ 8) > Self.plausibleLength && bytes.u16(at &+ 12) & 4 == 0 { implausible += 1 }
            }
        }
        guard live > 0 else { return nil }
        // Every head the driver has written names a live descriptor (a driver never clears one).
        let written = Int(idx) >= n ? n : Int(idx)
        for j in 1...max(1, written) where j <= written {
            let head = bytes.u16(p &+ 4 &+ 2 &* UInt64((idx &- UInt16(j)) & mask))
            if descriptor(desc &+ 16 &* UInt64(head), n) != .live { return nil }
        }

        // The used ring: the known places first, then every 4-byte position in the window.
        let layout = SplitRingLayout(size: n)
        let availEnd = p &+ UInt64(layout.availBytes)  // after used_event
        let first = (p &+ UInt64(layout.availEntriesBytes) &+ 3) & ~3  // right after ring[N] (no used_event)
        let linux = (availEnd &+ 63) & ~63
        let legacy = SplitRingLayout.alignedUp(availEnd)
        let usedSize = UInt64(layout.usedBytes)
        var bestUsed: UsedChoice?
        var bestKnown: UsedChoice?
        var zeroHeaderSeen = false
        var fullChecks = 0

        func consider(_ u: UInt64, _ placement: UsedPlacement) {
            guard u &+ usedSize <= slotEnd, bytes.holds(u, usedSize) else { return }
            let header = bytes.u32(u)
            let usedFlags = UInt16(truncatingIfNeeded: header), usedIdx = UInt16(truncatingIfNeeded: header >> 16)
            guard usedFlags <= 1, Int(idx &- usedIdx) <= n else { return }
            // A zero header carries no evidence: the first (best-placed) one stands for all.
            if header == 0 {
                if zeroHeaderSeen { return }
                zeroHeaderSeen = true
            }
            guard fullChecks < maximumUsedPositions else { return }
            fullChecks += 1
            for k in 0..<nn {
                let element = bytes.u64(u &+ 4 &+ 8 &* k)
                if element & 0xFFFF_FFFF >= nn || UInt32(truncatingIfNeeded: element >> 32) > Self.maximumUsedLength { return }
            }
            let usedWritten = Int(usedIdx) >= n ? n : Int(usedIdx)
            for j in 1...max(1, usedWritten) where j <= usedWritten {
                let id = bytes.u32(u &+ 4 &+ 8 &* UInt64((usedIdx &- UInt16(j)) & mask))
                if descriptor(desc &+ 16 &* UInt64(id), n) != .live { return }
            }
            // Evidence: the latest used entries return the heads the driver made available at the
            // same positions (every device here completes in order most of the time). Merely naming
            // live descriptors is weak: zeros elsewhere name descriptor 0.
            var inOrder = 0
            for j in 1...4 where j <= usedWritten {
                let position = usedIdx &- UInt16(j)
                guard Int(position &- (idx &- UInt16(n))) < n else { continue }  // overwritten since
                let id = bytes.u32(u &+ 4 &+ 8 &* UInt64(position & mask))
                if id == UInt32(bytes.u16(p &+ 4 &+ 2 &* UInt64(position & mask))) { inOrder += 1 }
            }
            var score = placement == .other ? 0 : 4
            if usedIdx != 0 { score += 2 + inOrder }
            if usedIdx == idx { score += 1 }
            // Drivers allocate rings zeroed: before used.idx first wraps, the elements past it are
            // zero. Other data there (the next ring's table, say) is no used ring, unless the index
            // has wrapped past 65535 (rare, and only costs points).
            var tailDirty = false
            for k in UInt64(usedWritten)..<nn where bytes.u64(u &+ 4 &+ 8 &* k) != 0 { tailDirty = true; break }
            if tailDirty { score -= 8 }
            let choice = UsedChoice(at: u, placement: placement, usedIndex: usedIdx, checked: usedWritten, inOrder: inOrder,
                                    tailDirty: tailDirty, score: score)
            if score > (bestUsed?.score ?? Int.min) { bestUsed = choice }
            if placement != .other && score > (bestKnown?.score ?? Int.min) { bestKnown = choice }
        }

        consider(linux, .linux)
        if legacy != linux { consider(legacy, .legacy) }
        var u = first
        let windowEnd = availEnd &+ usedWindow
        while u < windowEnd {
            if u != linux && u != legacy { consider(u, .other) }
            u &+= 4
        }
        guard let used = bestUsed else { return nil }

        var score = 0
        // The same for avail entries past avail.idx.
        var availTailDirty = false
        for k in UInt64(written)..<nn where bytes.u16(p &+ 4 &+ 2 &* k) != 0 { availTailDirty = true; break }
        if availTailDirty { score -= 8 }
        // Real drivers allocate rings page-aligned (Linux, SeaBIOS); a table inside some other
        // structure rarely is.
        if desc & 0xFFF == 0 { score += 4 } else if desc & 63 == 0 { score += 1 }
        score += min(written, 4)
        if live >= 2 { score += 1 }
        // A ring of 2 or 4 entries constrains few bits: small structures look like one by chance.
        if n <= 4 { score -= 4 } else if n >= 64 { score += 1 }
        score -= 2 * min(implausible, 3)
        return RingCandidate(size: n, descriptors: desc, avail: p, availIndex: idx, liveDescriptors: live, headsChecked: written,
                             implausibleLengths: implausible, availTailDirty: availTailDirty, coreScore: score, usedChoice: used,
                             knownAlternative: used.placement == .other ? bestKnown : nil)
    }
}
