/// Which mapping holds which part of guest RAM, where the process's mappings alone cannot say
/// (several memory backends of one size and kind: NUMA nodes), decided by what the guest's memory
/// says under each candidate slot map.
///
/// Every assignment puts the same bytes at the same set of guest-physical ranges, so a ring found
/// by a RAM scan is found under any of them: what differs is where the addresses *inside* guest
/// memory lead. A ring's descriptors name its buffers and indirect tables by guest-physical address;
/// under the right map those addresses reach bytes that say what they are (an indirect table that
/// holds together, an Ethernet frame, a blk request, ...), under a wrong one they reach another
/// node's memory. The scan runs once (under the first assignment); each found ring is moved
/// to where its bytes lie under every other assignment and its chains are checked there
/// (``DeviceGuesser/Guess/verified``). The assignment with the most verified chains wins when it has
/// strictly more than every other; otherwise the evidence cannot decide, and only the parts every
/// best-scoring assignment agrees on are certain.
public enum RAMAssignment {
    /// Assignments tried at most (4 equal backends have 24); beyond it the evidence is not gathered.
    public static let maximumAssignments = 24
    /// Rings whose chains are followed under each assignment at most, best scores first.
    public static let maximumRings = 64

    /// The outcome of weighing the evidence.
    public struct Decision: Sendable, Equatable {
        /// Verified chains under each assignment, in ``RAMBackends/assignments(limit:)`` order.
        public var scores: [Int]
        /// The assignment with strictly more verified chains than every other; nil when none has.
        public var chosen: Int?
        /// Per part of RAM: its mapping when every best-scoring assignment gives it the same one.
        public var certain: [UInt64?]
    }

    /// Weighs `scores` (one per assignment of `assignments`): pure.
    public static func decide(assignments: [[UInt64]], scores: [Int]) -> Decision {
        precondition(assignments.count == scores.count)
        guard let best = scores.max(), !assignments.isEmpty else {
            return Decision(scores: scores, chosen: nil, certain: [])
        }
        let top = scores.indices.filter { scores[$0] == best }
        let chosen = top.count == 1 && best > 0 ? top[0] : nil
        let parts = assignments[0].count
        // With no evidence at all every assignment ties; a part is certain only where they all agree.
        let certain: [UInt64?] = (0..<parts).map { p in
            let hosts = Set(top.map { assignments[$0][p] })
            return hosts.count == 1 ? hosts.first : nil
        }
        return Decision(scores: scores, chosen: chosen, certain: chosen.map { assignments[$0].map { Optional($0) } } ?? certain)
    }

    /// Chains of `rings` (found under `scannedUnder`) whose contents verify when the same bytes
    /// are read as `candidate` places them. A ring's three areas are moved by their host
    /// addresses; a ring whose areas `candidate` does not hold counts nothing.
    static func verifiedChains(_ rings: [ScannedRing], scannedUnder: SlotMap, candidate: SlotMap, reader: any MemoryReader,
                               resident: (@Sendable (UInt64, Int) -> [Bool])?) -> Int {
        let memory = GuestMemory(map: candidate, reader: reader)
        let guesser = DeviceGuesser(memory: memory, resident: resident, ram: RAMRanges(candidate))
        var total = 0
        for ring in rings {
            let areas = [ring.location.descriptors, ring.location.driverArea, ring.location.deviceArea].map { gpa in
                scannedUnder.hostAddress(of: gpa).flatMap { candidate.guestAddress(ofHost: $0) }
            }
            guard let desc = areas[0], let avail = areas[1], let used = areas[2] else { continue }
            var moved = ring
            moved.location = VirtqueueLocation(layout: ring.location.layout, size: ring.location.size, descriptors: GuestPhysicalAddress(desc),
                                               driverArea: GuestPhysicalAddress(avail), deviceArea: GuestPhysicalAddress(used))
            total += guesser.guess(moved).verified
        }
        return total
    }

    /// A slot map for RAM made of `backends` laid out by `layout`, the mapping of each part decided
    /// by the guest's rings when the mappings leave it open (``RAMAssignment``), with one line
    /// for the user on how it was decided. When the evidence cannot decide, the parts it leaves
    /// open are left out of the map (holes that say why) and the rest is returned; when nothing is
    /// certain, throws listing the candidates.
    /// - Parameters:
    ///   - reader: the process's memory (host addresses).
    ///   - resident: which pages are resident (``RingScanner/residentPages(pid:)``); nil reads all.
    public static func slotMap(backends: RAMBackends, layout: MachineLayout, reader: any MemoryReader & Sendable,
                               resident: (@Sendable (UInt64, Int) -> [Bool])?,
                               limits: RingScanLimits = RingScanLimits()) throws(TargetError) -> (map: SlotMap, note: String?) {
        guard backends.isAmbiguous else {
            return (try backends.slotMap(backends.backends.map { $0.candidates[0] }, layout: layout), nil)
        }
        let openIDs = backends.backends.filter { $0.candidates.count > 1 }.map(\.id)
        let hint = "give QMP (--qmp), or --slots kvm on a KVM guest"
        guard let assignments = backends.assignments(limit: maximumAssignments) else {
            throw .noSlotMap("\(backends.ambiguityDescription(of: openIDs)); more than \(maximumAssignments) ways to assign them, not tried (\(hint))")
        }
        guard !assignments.isEmpty else {
            throw .noSlotMap("\(backends.ambiguityDescription(of: openIDs)), but there are too few such mappings for one each")
        }
        var maps: [SlotMap] = []
        for assignment in assignments { maps.append(try backends.slotMap(assignment, layout: layout)) }

        var limits = limits
        limits.livenessWindow = 0
        let rings: [ScannedRing]
        do {
            rings = Array(try RingScanner.scan(memory: GuestMemory(map: maps[0], reader: reader), residentPages: resident, limits: limits).rings
                .sorted { $0.score > $1.score }.prefix(maximumRings))
        } catch {
            throw .noSlotMap("\(backends.ambiguityDescription(of: openIDs)); the RAM scan that would decide failed: \(error)")
        }
        let scores = maps.map { verifiedChains(rings, scannedUnder: maps[0], candidate: $0, reader: reader, resident: resident) }
        let decision = decide(assignments: assignments, scores: scores)
        let others = scores.enumerated().filter { $0.offset != decision.chosen }.map(\.element)
        if let chosen = decision.chosen {
            let picks = zip(backends.backends, assignments[chosen]).filter { openIDs.contains($0.0.id) }
                .map { "'\($0.0.id)' at \(Hex.string($0.1))" }.joined(separator: ", ")
            return (maps[chosen], "\(backends.ambiguityDescription(of: openIDs)): the guest's rings decide \(picks) "
                    + "(\(scores[chosen]) chains verified under it, at most \(others.max() ?? 0) under any other)")
        }
        // Undecided: keep what every best-scoring assignment agrees on.
        let uncertain = zip(backends.backends, decision.certain).filter { $0.1 == nil }.map(\.0.id)
        let why = "\(backends.ambiguityDescription(of: openIDs)); the guest's rings cannot decide which "
            + "(\(scores.max() ?? 0) chains verified under \(scores.filter { $0 == scores.max() }.count) of \(scores.count) assignments)"
        let base = maps[scores.firstIndex(of: scores.max() ?? 0) ?? 0]
        let kept = base.slots.filter { !uncertain.contains($0.name) }
        guard !kept.isEmpty else { throw .noSlotMap("\(why) (\(hint))") }
        let holes = base.holes + base.slots.filter { uncertain.contains($0.name) }.map {
            MemoryHole(guest: $0.guest, size: $0.size, name: "memory backend '\($0.name)', whose mapping is undecided without QMP")
        }
        let map: SlotMap
        do { map = try SlotMap(slots: kept, holes: holes) } catch { throw .noSlotMap(error.description) }
        return (map, "\(why): \(uncertain.map { "'\($0)'" }.joined(separator: ", ")) left out of the slot map")
    }
}
