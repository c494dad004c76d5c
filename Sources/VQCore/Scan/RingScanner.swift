import Dispatch
import Glibc
import Synchronization

/// A virtqueue found by scanning guest RAM (``RingScanner``), split or packed, with the evidence for it.
public struct ScannedRing: Sendable, Hashable {
    /// Where the rings are (features are unknown to a scan and left empty). A packed ring's
    /// driver and device areas are its event suppression structures.
    public var location: VirtqueueLocation
    /// `avail.idx` when the ring was read: the driver's count of buffers made available. A packed
    /// ring has no such word: the driver's next slot and wrap counter as the AVAIL bits show them,
    /// `slot | wrap << 15` (``PackedRing/Position/encoded``).
    public var availIndex: UInt16
    /// `used.idx` when the ring was read: the device's count of buffers returned. A packed ring:
    /// the device's next used slot and wrap counter as derived from the ring, `slot | wrap << 15`.
    public var usedIndex: UInt16
    /// What the ring's buffers look like: `virtio-blk`, `virtio-net-rx`, `virtio-net-tx`,
    /// `virtio-net-ctrl`, `virtio-rng`, `virtio-console`; nil when the contents say nothing clear.
    public var deviceGuess: String?
    /// How strongly the contents support the find (higher is surer; see ``RingScanner``).
    public var score: Int
    /// The evidence behind ``score`` and ``deviceGuess``, one short phrase each.
    public var reasons: [String]
    /// How sure ``deviceGuess`` is: the chains that voted for it (each of the latest up to 16
    /// available and 16 used chains votes once); 0 when there is no guess.
    public var guessScore: Int = 0
    /// Whether the ring is left behind rather than in use (``RingLiveness``): nil when not judged
    /// (an image, one instant).
    public var stale: Bool?
    /// Why ``stale`` is what it is, one short phrase; nil when not judged.
    public var liveness: String?

    public init(location: VirtqueueLocation, availIndex: UInt16, usedIndex: UInt16, deviceGuess: String?, score: Int, reasons: [String],
                stale: Bool? = nil, liveness: String? = nil) {
        self.location = location
        self.availIndex = availIndex
        self.usedIndex = usedIndex
        self.deviceGuess = deviceGuess
        self.score = score
        self.reasons = reasons
        self.stale = stale
        self.liveness = liveness
    }

    /// The name a queue list gives the ring's pseudo-device: the guess (``QueueList/unknownDevice``
    /// when none), prefixed `stale-` for a stale ring, so that no stale ring takes a live device's name.
    public var deviceName: String {
        let name = deviceGuess ?? QueueList.unknownDevice
        return stale == true ? QueueList.stalePrefix + name : name
    }
}

/// What a RAM scan found and what it cost.
public struct RingScanResult: Sendable {
    /// The rings found: those not judged stale first, then the stale ones, each part in
    /// guest-physical order of the descriptor tables.
    public var rings: [ScannedRing]
    /// Bytes of guest RAM the prefilter examined (resident pages only, each byte once).
    public var bytesScanned: UInt64
    /// Wall-clock time of the scan.
    public var seconds: Double
    /// Pages not read because the page map says they are not resident (never touched by the guest).
    public var pagesSkipped: UInt64
    /// Bytes actually read from the target, chunk margins (read twice) included.
    public var bytesRead: UInt64
    /// Positions that passed the cheap avail-header test.
    public var anchors: UInt64
    /// Ring candidates verified in full (descriptor table, avail ring, used ring search).
    public var candidatesVerified: UInt64
    /// Candidates not verified because ``RingScanLimits/maximumCandidates`` was reached.
    public var candidatesDropped: UInt64
    /// Candidates that passed every check, before overlaps were resolved and the score threshold applied.
    public var candidatesPassed: Int
    /// Ranges that could not be read (the process changed its memory map), one line each.
    public var notes: [String]
    /// Seconds between the scan's reading of the found rings' indexes and the second reading that
    /// judges them live or stale (``RingScanLimits/livenessWindow``), not part of ``seconds``; 0
    /// when they were not judged (an image).
    public var livenessWindow: Double = 0

    public init(rings: [ScannedRing], bytesScanned: UInt64, seconds: Double, pagesSkipped: UInt64, bytesRead: UInt64 = 0,
                anchors: UInt64 = 0, candidatesVerified: UInt64 = 0, candidatesDropped: UInt64 = 0, candidatesPassed: Int = 0,
                notes: [String] = []) {
        self.rings = rings
        self.bytesScanned = bytesScanned
        self.seconds = seconds
        self.pagesSkipped = pagesSkipped
        self.bytesRead = bytesRead
        self.anchors = anchors
        self.candidatesVerified = candidatesVerified
        self.candidatesDropped = candidatesDropped
        self.candidatesPassed = candidatesPassed
        self.notes = notes
    }
}

/// Bounds on a RAM scan's work. The defaults suit any guest; tests lower them.
public struct RingScanLimits: Sendable, Hashable {
    /// The largest queue size tried (virtio allows 32768; QEMU's devices allow at most 1024).
    public var maximumRingSize: Int = 32768
    /// Bytes of RAM read and scanned at a time by one thread (rounded to pages).
    public var chunkSize: Int = 8 << 20
    /// Candidates verified in full over the whole scan; beyond this they are counted and dropped.
    public var maximumCandidates: Int = 200_000
    /// Bytes after the end of the avail ring searched for the used ring.
    public var usedSearchWindow: Int = 8192
    /// Used-ring positions checked in full for one candidate.
    public var maximumUsedPositions: Int = 256
    /// Rings reported at most (best scores first).
    public var maximumRings: Int = 4096
    /// On a live target, seconds after the scan at which the found rings' indexes are read again to
    /// judge them live or stale (``RingLiveness``), clamped to 0.3; 0 leaves them unjudged.
    public var livenessWindow: Double = 0.15

    public init() {}
}

/// Finds split and packed virtqueues in guest RAM without help from QEMU (no QMP): `vqscope scan --no-qmp`.
///
/// ## What is assumed
/// A split ring is three areas the driver allocates (virtio 1.2, 2.7): a descriptor table of
/// `N` 16-byte entries (16-byte aligned, `N` a power of two up to 32768), the available ring
/// (`flags`, `idx`, `ring[N]`, `used_event`; 2-byte aligned) and the used ring (`flags`, `idx`,
/// `ring[N]` of `{id, len}`, `avail_event`; 4-byte aligned). The spec lets a modern driver put the
/// three anywhere; the scan assumes **the avail ring directly follows the descriptor table**
/// (`avail = desc + 16 * N`), which is the legacy layout (virtio 0.9.5, spec 2.7.2) and what every
/// known driver does (Linux, SeaBIOS, OVMF, Windows' virtio-win, DPDK). The used ring is searched
/// for at every 4-byte-aligned position in a bounded window after the avail ring; the known
/// placements score higher: Linux's (the next 64-byte boundary after `used_event`) and the legacy
/// one (the next 4 KiB boundary, also SeaBIOS's). A driver that allocates the used ring apart from
/// the other two is not found.
///
/// ## How
/// 1. *Prefilter*, one 8-byte load per 16-byte-aligned position: an avail ring header with
///    `flags` ≤ 1, `idx` ≠ 0 and the first two ring entries below 0x8000.
/// 2. For each `N`, cheapest test first: the most recent avail entry is below `N` and names a
///    live descriptor (non-empty, flags ≤ 7, next < N, buffer in guest RAM: the slot map's RAM,
///    plus on a PC the BIOS shadow area 0xc0000-0xfffff, where firmware keeps buffers).
/// 3. Full check: every avail entry < N; every descriptor empty or valid (flags ≤ 7, next < N,
///    not INDIRECT with NEXT, buffer inside RAM, an indirect table a multiple of 16 bytes); every
///    head the driver has written names a live descriptor; a used ring in the window with
///    `flags` ≤ 1, `avail.idx − used.idx` ≤ N (mod 65536), every id < N and every written id live.
///    An all-zero ring is never a find: `avail.idx` ≠ 0 and a live descriptor are required.
/// 4. Score the evidence (below), keep the best `N` per avail ring, drop candidates that overlap a
///    better one (a candidate whose used ring, found at no known placement, lies inside a better
///    ring falls back to its used ring at a known placement), and keep those scoring at least
///    `minimumScore`.
/// 5. Guess the device from the buffers (``ScannedRing/deviceGuess``).
/// 6. On a live target, read the found rings' indexes again ``RingScanLimits/livenessWindow``
///    seconds later and judge each live or stale (``RingLiveness``); stale rings are listed last.
///    An image's rings are not judged (``ScannedRing/stale`` nil).
///
/// ## Score
/// | evidence | points |
/// |---|---|
/// | used ring at a known placement (Linux's or legacy) | +4 |
/// | `used.idx` ≠ 0 | +2 |
/// | each of the latest (≤ 4) used entries returning the head made available at the same position | +1 |
/// | `used.idx` = `avail.idx` (idle) | +1 |
/// | descriptor table page-aligned (64-byte-aligned) | +4 (+1) |
/// | each written avail entry, up to 4 (all must name live descriptors) | +1 |
/// | two or more live descriptors | +1 |
/// | N ≥ 64 / N ≤ 4 | +1 / −4 |
/// | non-zero avail entries past `avail.idx`, or used elements past `used.idx` (drivers allocate rings zeroed; only a 16-bit wrap explains it) | −8 each |
/// | each descriptor longer than 4 MiB (up to 3) | −2 |
///
/// On the bench's Linux guests every ring that has moved scores 14–21 (an input ring filled but
/// never used: 14); chance structures elsewhere in RAM scored at most 8 (``defaultMinimumScore``
/// is 10). A ring that has seen a single request and is not page-aligned can fall below it.
///
/// ## Packed rings
/// A packed ring (virtio 1.2, 2.8) is one ring of `N` 16-byte descriptors `{addr, len, id, flags}`.
/// The scan assumes it **starts on a page**, as Linux allocates it (whole pages, zeroed), and tests
/// each page start in the same pass as the split prefilter: two loads per 4 KiB. A page passes when
/// its first slot could be a written descriptor (flags only NEXT, WRITE, INDIRECT, AVAIL, USED;
/// buffer id below 0x8000; an address below 2^52). Then, for each `N`: every slot is zero or valid
/// (an available one, AVAIL ≠ USED, holds a non-empty buffer in RAM; a used one keeps the driver's
/// address, in RAM; an indirect table is whole descriptors; every buffer id below `N`); the AVAIL
/// bits read `x…x ¬x…¬x` (the driver writes in ring order, so they change at most once); zeroed
/// slots only as the tail of a first lap, every written slot before them with AVAIL set; at least
/// one AVAIL or USED bit set. A first lap's zeroed tail does not show `N`: the largest that fits,
/// up to one page (or twice the written slots), is reported and the reasons say so; a size that
/// leaves written slots outside the ring is refuted by them (the size holding the most written
/// slots wins, then the score). The score counts
/// page alignment, distinct ids in flight, written slots, and Linux's event suppression pages
/// (driver's one page below the ring, device's two below: 4 bytes with flags ≤ 2, the rest of the
/// page zero), reported as the driver and device areas (Linux's places, unconfirmed, when not
/// seen). Packed finds overlapping a split ring or a better packed find are dropped. The driver's and
/// the device's positions come from ``PackedRing/snapshot(memory:location:usedIndex:lastAvailIndex:maxAttempts:limits:)``.
/// The device is guessed from that snapshot: its latest available chains, as a split ring's, and
/// its latest used slots, where the device wrote the buffer ID and length and left the driver's
/// address (a frame read by the device, a frame written, an input event, 512*k + 1 bytes).
///
/// RAM is read in large chunks with the batched reader, two threads by default; pages a live
/// process has never touched are skipped (reading them would make the kernel map zero pages into
/// QEMU) when `residentPages` says which are resident.
public enum RingScanner {
    /// The default score threshold: a page-aligned ring at a known layout that has done a little
    /// work passes; tiny look-alikes inside other structures do not.
    public static let defaultMinimumScore = 10

    /// A scan's progress: bytes of guest RAM the scan has got through (pages skipped as not
    /// resident count as done) and the bytes it covers in all. Called from the scanning threads,
    /// one call at a time, `done` never falling: first with 0, and, when the scan gets through,
    /// last with `done == total`.
    public typealias Progress = @Sendable (_ done: UInt64, _ total: UInt64) -> Void

    /// Scans every RAM slot of `memory` for split and packed virtqueues.
    /// - Parameters:
    ///   - residentPages: for a live process, which pages are resident: called with the host
    ///     address of a page and a page count, returns one flag per page. Pages reported false are
    ///     never read (they read as zeros to the guest). Pass nil for images. It is called from
    ///     several threads at once. ``residentPages(pid:)`` builds one from `/proc/PID/pagemap`.
    ///   - threads: worker threads (each reads and scans its own chunks). `memory`'s reader must
    ///     allow concurrent reads when this is above 1 (``ProcessMemory``, ``FileMemory`` and
    ///     ``BufferMemory`` do).
    ///   - minimumScore: rings scoring below this are not reported.
    ///   - limits: bounds on the work.
    ///   - progress: told how far the scan has got, after each chunk (``RingScanLimits/chunkSize``).
    public static func scan(memory: GuestMemory, residentPages: (@Sendable (UInt64, Int) -> [Bool])?,
                            threads: Int = 2, minimumScore: Int = defaultMinimumScore,
                            limits: RingScanLimits = RingScanLimits(), progress: Progress? = nil) throws(MemoryError) -> RingScanResult {
        let start = MonotonicClock.now()
        let maxN = max(2, min(32768, 1 << (Int.bitWidth - 1 - max(2, limits.maximumRingSize).leadingZeroBitCount)))
        let ram = RAMRanges(memory.map)
        let plan = ScanPlan(map: memory.map, chunkSize: limits.chunkSize, maxN: maxN, usedWindow: limits.usedSearchWindow)
        let shared = ScanShared(maximumCandidates: limits.maximumCandidates, progress: progress,
                                total: plan.chunks.reduce(0) { $0 + ($1.end - $1.start) })
        shared.reportStart()
        let context = ScanContext(memory: memory, resident: residentPages, ram: ram, maxN: maxN, limits: limits)

        let workers = max(1, min(threads, 64, plan.chunks.count))
        if workers == 1 {
            scanWorker(plan: plan, context: context, shared: shared)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                scanWorker(plan: plan, context: context, shared: shared)
            }
        }
        if let error = shared.error.withLock({ $0 }) { throw error }

        let all = shared.candidates.withLock { $0 }
        let kept = resolve(all, maximum: Int.max).filter { $0.score >= minimumScore }.prefix(limits.maximumRings)
        var rings: [ScannedRing] = []
        rings.reserveCapacity(kept.count)
        for candidate in kept {
            var ring = candidate.scannedRing()
            let guess = DeviceGuesser(memory: memory, resident: residentPages, ram: ram).guess(ring)
            ring.deviceGuess = guess.name
            ring.guessScore = guess.score
            ring.reasons.append(contentsOf: guess.reasons)
            rings.append(ring)
        }
        // Packed rings: best first, none overlapping a split ring or a better packed ring.
        var taken = rings.map { r in (r.location.descriptors.rawValue, r.location.descriptors.rawValue &+ 16 &* UInt64(r.location.size)) }
        let packed = shared.packedCandidates.withLock { $0 }.sorted { $0.score != $1.score ? $0.score > $1.score : $0.descriptors < $1.descriptors }
        for candidate in packed where rings.count < limits.maximumRings {
            guard !taken.contains(where: { $0.0 < candidate.end && candidate.descriptors < $0.1 }) else { continue }
            taken.append((candidate.descriptors, candidate.end))
            let location = candidate.scannedRing(driver: PackedRing.Position(index: 0, wrap: true),
                                                 deviceUsed: PackedRing.Position(index: 0, wrap: true)).location
            guard let snapshot = try? PackedRing.snapshot(memory: memory, location: location) else { continue }
            var ring = candidate.scannedRing(driver: snapshot.driver, deviceUsed: snapshot.deviceUsed)
            let guess = DeviceGuesser(memory: memory, resident: residentPages, ram: ram).guess(snapshot)
            ring.deviceGuess = guess.name
            ring.guessScore = guess.score
            ring.reasons.append(contentsOf: guess.reasons)
            rings.append(ring)
        }
        rings.sort { $0.location.descriptors < $1.location.descriptors }
        let stats = shared.stats.withLock { $0 }
        let seconds = MonotonicClock.now() - start
        // A live target: read the rings' indexes again after a short window, and judge.
        let window = min(0.3, limits.livenessWindow)
        if residentPages != nil && window > 0 && !rings.isEmpty {
            MonotonicClock.sleep(seconds: window)
            let later = rings.map { ring -> RingIndexes? in
                guard ring.location.layout == .packed else { return try? RingIndexes.read(ring.location, from: memory) }
                return (try? PackedRing.snapshot(memory: memory, location: ring.location)).map {
                    RingIndexes(available: $0.driver.encoded, used: $0.deviceUsed.encoded)
                }
            }
            rings = RingLiveness.rankLiveFirst(RingLiveness.judge(rings, later: later, window: window, map: memory.map))
        } else {
            for i in rings.indices { rings[i].liveness = RingLiveness.unjudged.reason }
        }
        var result = RingScanResult(rings: rings, bytesScanned: stats.bytesScanned, seconds: seconds,
                                    pagesSkipped: stats.pagesSkipped, bytesRead: stats.bytesRead, anchors: stats.anchors,
                                    candidatesVerified: UInt64(min(shared.verified.load(ordering: .relaxed), max(0, limits.maximumCandidates))),
                                    candidatesDropped: stats.dropped, candidatesPassed: all.count, notes: stats.notes)
        result.livenessWindow = residentPages != nil && !rings.isEmpty ? max(0, window) : 0
        return result
    }

    /// Scans an opened target: a live process's resident pages (through its page map), or a whole
    /// image. Throws ``TargetError`` when the page map cannot be read, ``MemoryError`` when the scan fails.
    public static func scan(_ target: Target, threads: Int = 2, minimumScore: Int = defaultMinimumScore,
                            limits: RingScanLimits = RingScanLimits(), progress: Progress? = nil) throws -> RingScanResult {
        let resident = try target.process.map { (process) throws(TargetError) in try residentPages(pid: process.pid) }
        var result = try scan(memory: target.memory, residentPages: resident, threads: threads, minimumScore: minimumScore, limits: limits,
                              progress: progress)
        result.rings = withDeviceAreas(result.rings, of: target, resident: resident)
        return result
    }

    /// `rings` with each packed ring's event suppression areas as QEMU's device holds them, where
    /// QEMU's memory says (``DeviceRingAreas``): a live process only (an image has no QEMU).
    static func withDeviceAreas(_ rings: [ScannedRing], of target: Target, resident: (@Sendable (UInt64, Int) -> [Bool])?) -> [ScannedRing] {
        guard let process = target.process, rings.contains(where: { $0.location.layout == .packed }),
              let mappings = try? process.mappings() else { return rings }
        let found = DeviceRingAreas.find(for: rings, reader: ProcessMemory(pid: process.pid), mappings: mappings,
                                         ram: target.qemuMap ?? target.memory.map, resident: resident)
        return rings.map { ring in
            guard ring.location.layout == .packed, let areas = found[ring.location.descriptors.rawValue] else { return ring }
            var ring = ring
            ring.location.driverArea = GuestPhysicalAddress(areas.driver)
            ring.location.deviceArea = GuestPhysicalAddress(areas.device)
            ring.reasons.removeAll { $0.hasPrefix("event suppression areas") }
            ring.reasons.append("event suppression areas as QEMU's device holds them (its ring addresses, found in its memory)")
            return ring
        }
    }

    /// Which pages of process `pid` are resident, from `/proc/PID/pagemap` (bit 63, present): the
    /// `residentPages` argument of ``scan(memory:residentPages:threads:minimumScore:limits:)``.
    /// Swapped-out pages count as not resident (reading them would swap them in). Where the page
    /// map cannot be read for a range, its pages count as not resident: the scan never touches a
    /// page it is unsure of.
    public static func residentPages(pid: Int32) throws(TargetError) -> @Sendable (UInt64, Int) -> [Bool] {
        let file: FileMemory
        do { file = try FileMemory(path: "/proc/\(pid)/pagemap", bounded: false) } catch {
            if case .cannotOpen(_, let code) = error, code == EACCES || code == EPERM {
                throw .permissionDenied(pid: pid, what: "the page map")
            }
            throw error
        }
        return { host, count in
            guard count > 0 else { return [] }
            var entries = [UInt64](repeating: 0, count: count)
            let ok = entries.withUnsafeMutableBytes { bytes -> Bool in
                (try? file.read(at: host / Pagemap.pageSize * 8, into: bytes)) != nil
            }
            guard ok else { return [Bool](repeating: false, count: count) }
            return entries.map { PagemapEntry(raw: UInt64(littleEndian: $0)).present }
        }
    }

    // MARK: Overlaps

    /// Best first; a candidate overlapping one already kept is dropped, except that a candidate
    /// whose used ring (found at no known placement) lies inside a kept ring falls back to its best
    /// used ring at a known placement.
    static func resolve(_ candidates: [RingCandidate], maximum: Int) -> [RingCandidate] {
        let ordered = candidates.sorted {
            $0.score != $1.score ? $0.score > $1.score : $0.descriptors < $1.descriptors
        }
        var kept: [RingCandidate] = []
        var ranges: [(UInt64, UInt64)] = []  // kept regions, sorted by start, disjoint
        func overlaps(_ s: UInt64, _ e: UInt64) -> Bool {
            // The first range starting at or after e; only its predecessor can overlap.
            var lo = 0, hi = ranges.count
            while lo < hi { let mid = (lo + hi) / 2; if ranges[mid].0 < e { lo = mid + 1 } else { hi = mid } }
            return lo > 0 && ranges[lo - 1].1 > s
        }
        func insert(_ s: UInt64, _ e: UInt64) {
            var lo = 0, hi = ranges.count
            while lo < hi { let mid = (lo + hi) / 2; if ranges[mid].0 < s { lo = mid + 1 } else { hi = mid } }
            ranges.insert((s, e), at: lo)
        }
        for var c in ordered {
            if kept.count >= maximum { break }
            if overlaps(c.descriptors, c.coreEnd) { continue }
            if overlaps(c.used, c.end) {
                guard let alternative = c.knownAlternative else { continue }
                c.usedChoice = alternative
                c.knownAlternative = nil
                if overlaps(c.used, c.end) { continue }
            }
            if c.used < c.coreEnd {  // used right after ring[N], over used_event
                insert(c.descriptors, max(c.coreEnd, c.end))
            } else {
                insert(c.descriptors, c.coreEnd)
                insert(c.used, c.end)
            }
            kept.append(c)
        }
        return kept
    }

}

// MARK: - The plan and the workers

/// Guest RAM as sorted [start, end) ranges, for "is this buffer in RAM".
struct RAMRanges: Sendable {
    let starts: [UInt64]
    let ends: [UInt64]

    /// The x86 BIOS area (0xc0000-0xfffff): shadow RAM behind the chipset's PAM registers, which
    /// firmware makes writable and keeps buffers in (SeaBIOS's virtio-blk request header and status
    /// byte live there). Slot maps built without QEMU leave it out, its mapping being chipset state.
    static let biosShadow: (UInt64, UInt64) = (0xC0000, 0x100000)

    init(_ map: SlotMap) {
        var ranges = map.slots.filter { $0.kind == .ram }.map { ($0.guest.rawValue, $0.guestEnd) }
        // Where RAM surrounds the BIOS area (a PC), buffers may be in it.
        let ram = ranges
        func isRAM(_ a: UInt64) -> Bool { ram.contains { $0.0 <= a && a < $0.1 } }
        if isRAM(0x9F000) && isRAM(Self.biosShadow.1) { ranges.append(Self.biosShadow) }
        ranges.sort { $0.0 < $1.0 }
        // Merge touching and overlapping ranges: a buffer may cross from one slot to the next.
        var merged: [(UInt64, UInt64)] = []
        for (s, e) in ranges {
            if let last = merged.last, s <= last.1 { merged[merged.count - 1].1 = max(last.1, e) } else { merged.append((s, e)) }
        }
        starts = merged.map(\.0)
        ends = merged.map(\.1)
    }

    /// Whether `[address, address + length)` lies in one RAM range (`length` ≥ 1).
    @inline(__always)
    func contains(_ address: UInt64, _ length: UInt64) -> Bool {
        let (last, overflow) = address.addingReportingOverflow(length &- 1)
        if overflow { return false }
        for i in 0..<starts.count where address >= starts[i] {
            if address < ends[i] { return last < ends[i] }
        }
        return false
    }
}

/// One piece of work: anchors in `[start, end)` of one slot, read with margins `[readStart, readEnd)`.
struct ScanChunk: Sendable {
    var slot: Int
    var start: UInt64
    var end: UInt64
    var readStart: UInt64
    var readEnd: UInt64
}

struct ScanPlan: Sendable {
    var chunks: [ScanChunk] = []
    var slots: [MemorySlot]

    init(map: SlotMap, chunkSize: Int, maxN: Int, usedWindow: Int) {
        slots = map.slots
        let chunk = UInt64(max(64 << 10, chunkSize)) & ~0xFFF
        // A candidate's descriptor table lies up to 16 N before its avail ring; its used ring up to
        // 6 + 2N + window + 6 + 8N after.
        let layout = SplitRingLayout(size: maxN)
        let lead = UInt64(layout.descriptorTableBytes)
        let tail = UInt64(layout.availBytes + max(0, usedWindow) + layout.usedBytes + 64)
        var hostRanges: [(UInt64, UInt64)] = []
        for (i, slot) in map.slots.enumerated() where slot.kind == .ram {
            // An alias of RAM already scanned (the same host bytes at another guest address) is skipped.
            let h = slot.host, he = slot.host &+ slot.size
            if hostRanges.contains(where: { $0.0 <= h && he <= $0.1 }) { continue }
            hostRanges.append((h, he))
            var s = slot.guest.rawValue
            let end = slot.guestEnd
            while s < end {
                let e = min(end, s &+ chunk)
                let rs = s - min(lead, s - slot.guest.rawValue)
                let re = e + min(tail, end - e)
                chunks.append(ScanChunk(slot: i, start: s, end: e, readStart: rs, readEnd: re))
                s = e
            }
        }
    }
}

/// What every worker reads and shares. Unchecked: the memory's reader is shared by the worker
/// threads, which the scan's documentation requires to be safe (every reader of this package is).
struct ScanContext: @unchecked Sendable {
    let memory: GuestMemory
    let resident: (@Sendable (UInt64, Int) -> [Bool])?
    let ram: RAMRanges
    let maxN: Int
    let limits: RingScanLimits
}

struct ScanStats: Sendable {
    var bytesScanned: UInt64 = 0
    var bytesRead: UInt64 = 0
    var pagesSkipped: UInt64 = 0
    var anchors: UInt64 = 0
    var dropped: UInt64 = 0
    var notes: [String] = []

    mutating func add(_ o: ScanStats) {
        bytesScanned += o.bytesScanned
        bytesRead += o.bytesRead
        pagesSkipped += o.pagesSkipped
        anchors += o.anchors
        dropped += o.dropped
        notes += o.notes
    }
}

final class ScanShared: Sendable {
    let next = Atomic<Int>(0)
    let verified = Atomic<Int>(0)
    let maximumCandidates: Int
    let candidates = Mutex<[RingCandidate]>([])
    let packedCandidates = Mutex<[PackedCandidate]>([])
    let stats = Mutex(ScanStats())
    let error = Mutex<MemoryError?>(nil)
    let progress: RingScanner.Progress?
    /// Bytes of the plan's chunks in all, and those done (held while `progress` is called, so that
    /// its calls never overlap and never go back).
    let total: UInt64
    let done = Mutex<UInt64>(0)

    init(maximumCandidates: Int, progress: RingScanner.Progress? = nil, total: UInt64 = 0) {
        self.maximumCandidates = maximumCandidates
        self.progress = progress
        self.total = total
    }

    /// Tells `progress` the scan starts.
    func reportStart() {
        guard let progress else { return }
        done.withLock { progress($0, total) }
    }

    /// Counts `chunk` as done and tells `progress`.
    func finished(_ chunk: ScanChunk) {
        guard let progress else { return }
        done.withLock { done in
            done += chunk.end - chunk.start
            progress(done, total)
        }
    }

    /// Takes one full verification from the budget; false once it is spent.
    @inline(__always)
    func takeVerification() -> Bool {
        verified.wrappingAdd(1, ordering: .relaxed).newValue <= maximumCandidates
    }
}

extension RingScanner {
    /// The host's page size: the unit of residency in the page map and of the scan buffer's pages.
    static var pageSize: UInt64 { Sys.pageSize }

    /// Bytes read per system call batch; the prefilter runs over each piece right after its read,
    /// while the piece is still in the CPU's cache.
    static let pieceSize = 256 << 10

    /// One thread: takes chunks until none are left; reads each (resident pages only) and scans it.
    static func scanWorker(plan: ScanPlan, context: ScanContext, shared: ScanShared) {
        let capacity = plan.chunks.reduce(0) { max($0, Int($1.readEnd - $1.readStart)) }
        guard capacity > 0 else { return }
        // Anonymous memory: zero until written, and not even allocated until touched.
        guard let mapped = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != MAP_FAILED else {
            shared.error.withLock { if $0 == nil { $0 = .system(call: "mmap of a \(capacity >> 20) MiB scan buffer", errno: errno) } }
            return
        }
        defer { munmap(mapped, capacity) }
        let buffer = UnsafeMutableRawBufferPointer(start: mapped, count: capacity)
        // Pages of `buffer` that may hold bytes of an earlier chunk (must be zeroed before they
        // stand for a page that is not resident).
        var dirty = [Bool](repeating: false, count: (capacity + Int(pageSize) - 1) / Int(pageSize) + 1)
        var stats = ScanStats()
        var found: [RingCandidate] = []
        var packedFound: [PackedCandidate] = []
        var anchors: [Int] = []
        var packedAnchors: [Int] = []
        defer {
            shared.stats.withLock { $0.add(stats) }
            shared.candidates.withLock { $0.append(contentsOf: found) }
            shared.packedCandidates.withLock { $0.append(contentsOf: packedFound) }
        }
        while true {
            if shared.error.withLock({ $0 != nil }) { return }
            let index = shared.next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard index < plan.chunks.count else { return }
            let chunk = plan.chunks[index]
            defer { shared.finished(chunk) }
            let slot = plan.slots[chunk.slot]
            let count = Int(chunk.readEnd - chunk.readStart)
            let view = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            anchors.removeAll(keepingCapacity: true)
            packedAnchors.removeAll(keepingCapacity: true)
            do throws(MemoryError) {
                try readAndFilter(chunk, slot: slot, into: view, dirty: &dirty, context: context, stats: &stats, anchors: &anchors,
                                  packedAnchors: &packedAnchors)
            } catch {
                switch error {
                case .processGone, .permissionDenied:
                    shared.error.withLock { if $0 == nil { $0 = error } }
                    return
                default:
                    stats.notes.append("\(Hex.string(chunk.readStart))-\(Hex.string(chunk.readEnd - 1)) not read: \(error)")
                    continue
                }
            }
            guard !anchors.isEmpty || !packedAnchors.isEmpty else { continue }
            let bytes = ScanBytes(base: UnsafeRawPointer(view.baseAddress!), gpa: chunk.readStart, count: count)
            let packedProbe = PackedProbe(bytes: bytes, slotStart: slot.guest.rawValue, slotEnd: slot.guestEnd, ram: context.ram,
                                          maxN: context.maxN)
            for offset in packedAnchors {
                guard shared.takeVerification() else { stats.dropped &+= 1; continue }
                if let candidate = packedProbe.best(at: chunk.readStart &+ UInt64(offset)), candidate.score >= PackedProbe.minimumScore {
                    packedFound.append(candidate)
                }
            }
            let probe = RingProbe(bytes: bytes, slotStart: slot.guest.rawValue, slotEnd: slot.guestEnd, ram: context.ram,
                                  maxN: context.maxN, limits: context.limits)
            for offset in anchors {
                if let candidate = probe.best(avail: chunk.readStart &+ UInt64(offset), budget: shared, dropped: &stats.dropped) {
                    found.append(candidate)
                }
            }
        }
    }

    /// Fills `view` with guest bytes `[readStart, readEnd)`, piece by piece: resident pages read in
    /// one batch per piece, the rest zero (what an untouched page holds). Right after a piece is
    /// read, the prefilter runs over its resident pages inside `[start, end)` and appends the
    /// offsets (in `view`) of the positions that pass to `anchors`.
    static func readAndFilter(_ chunk: ScanChunk, slot: MemorySlot, into view: UnsafeMutableRawBufferPointer, dirty: inout [Bool],
                              context: ScanContext, stats: inout ScanStats, anchors: inout [Int], packedAnchors: inout [Int]) throws(MemoryError) {
        let hostStart = slot.host &+ (chunk.readStart - slot.guest.rawValue)
        let firstPage = hostStart / pageSize
        let pageCount = Int((hostStart &+ UInt64(view.count) &- 1) / pageSize - firstPage + 1)
        let resident = context.resident.map { $0(firstPage * pageSize, pageCount) }
        /// Offset in `view` where page `i` (counted from `firstPage`) ends.
        func pageEnd(_ i: Int) -> Int { min(view.count, Int((firstPage + UInt64(i) + 1) * pageSize - hostStart)) }
        let anchorStart = Int(chunk.start - chunk.readStart), anchorEnd = Int(chunk.end - chunk.readStart)

        if let resident {
            // Nothing resident where anchors could be: nothing to read.
            var any = false
            var skipped: UInt64 = 0
            for i in 0..<pageCount {
                let s = i == 0 ? 0 : pageEnd(i - 1), e = pageEnd(i)
                guard s < anchorEnd && e > anchorStart else { continue }
                if i < resident.count && resident[i] { any = true } else { skipped += 1 }
            }
            stats.pagesSkipped += skipped
            guard any else { return }
        }

        var ranges: [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)] = []
        var runs: [(Int, Int)] = []  // resident runs of the piece, offsets in `view`
        var page = 0
        while page < pageCount {
            // One piece: whole pages up to `pieceSize` bytes.
            let pieceStart = page == 0 ? 0 : pageEnd(page - 1)
            ranges.removeAll(keepingCapacity: true)
            runs.removeAll(keepingCapacity: true)
            var runStart: Int?
            repeat {
                let s = page == 0 ? 0 : pageEnd(page - 1), e = pageEnd(page)
                if resident.map({ page < $0.count && $0[page] }) ?? true {
                    if runStart == nil { runStart = s }
                    dirty[page] = true
                } else {
                    if let r = runStart { runs.append((r, s)); runStart = nil }
                    if dirty[page] {
                        memset(view.baseAddress! + s, 0, e - s)
                        dirty[page] = false
                    }
                }
                page += 1
            } while page < pageCount && pageEnd(page) - pieceStart <= pieceSize
            let pieceEnd = page == 0 ? 0 : pageEnd(page - 1)
            if let r = runStart { runs.append((r, pieceEnd)) }
            for (s, e) in runs {
                ranges.append((GuestPhysicalAddress(chunk.readStart + UInt64(s)), UnsafeMutableRawBufferPointer(rebasing: view[s..<e])))
                stats.bytesRead += UInt64(e - s)
            }
            if !ranges.isEmpty { try context.memory.read(ranges) }
            for (s, e) in runs {
                let a = max(s, anchorStart), b = min(e, anchorEnd)
                guard a < b else { continue }
                stats.bytesScanned += UInt64(b - a)
                prefilter(view, from: a, to: b, gpa: chunk.readStart, anchors: &anchors)
                packedPrefilter(view, from: a, to: b, gpa: chunk.readStart, anchors: &packedAnchors)
            }
        }
        stats.anchors += UInt64(anchors.count + packedAnchors.count)
    }

    /// The prefilter: one 8-byte load per 16-byte-aligned guest position in `[from, to)` of `view`
    /// (guest address `gpa + offset`). A position passes when it could be an avail ring header:
    /// flags ≤ 1, idx ≠ 0, ring[0] and ring[1] below 0x8000.
    @inline(__always)
    static func prefilter(_ view: UnsafeMutableRawBufferPointer, from: Int, to: Int, gpa: UInt64, anchors: inout [Int]) {
        // Mask of bits that must be zero: flags bits 1-15, bit 15 of ring[0] and of ring[1].
        let mustBeZero: UInt64 = 0x8000_8000_0000_FFFE
        let base = UnsafeRawPointer(view.baseAddress!)
        var offset = from &+ Int((16 &- (gpa &+ UInt64(from)) & 15) & 15)
        let limit = min(to, view.count &- 7)
        while offset < limit {
            let v = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            if v & mustBeZero == 0 && v & 0xFFFF_0000 != 0 { anchors.append(offset) }
            offset &+= 16
        }
    }
}

/// Guest bytes `[gpa, gpa + count)` held in memory; loads are unchecked (callers check ranges).
struct ScanBytes {
    let base: UnsafeRawPointer
    let gpa: UInt64
    let count: Int

    @inline(__always) func u16(_ address: UInt64) -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: Int(address &- gpa), as: UInt16.self))
    }
    @inline(__always) func u32(_ address: UInt64) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: Int(address &- gpa), as: UInt32.self))
    }
    @inline(__always) func u64(_ address: UInt64) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: Int(address &- gpa), as: UInt64.self))
    }
    /// Whether `[address, address + length)` is held.
    @inline(__always) func holds(_ address: UInt64, _ length: UInt64) -> Bool {
        address >= gpa && address &- gpa <= UInt64(count) && length <= UInt64(count) - (address &- gpa)
    }
}
