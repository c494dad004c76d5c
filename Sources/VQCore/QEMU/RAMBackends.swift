/// Guest RAM as the command line makes it (one RAM block, one machine memory backend, or one
/// backend per NUMA node, in RAM-offset order; then each `pc-dimm`'s backend at its own address)
/// and, for each part, the process's mappings that could hold it (``MapsSlotSource``). Several parts of one size and kind leave the mapping of
/// each open: ``assignments(limit:)`` lists the ways to give each its own.
public struct RAMBackends: Sendable, Equatable {
    /// One part of guest RAM.
    public struct Backend: Sendable, Equatable {
        /// The backend's id (`-object memory-backend-*,id=`), or `pc.ram` for plain `-m` RAM.
        public var id: String
        public var size: UInt64
        /// Start addresses of the mappings that fit it (size, permissions, kind), ascending.
        public var candidates: [UInt64]
        /// A memory device's (DIMM's) guest-physical address; nil for a part of the RAM block,
        /// which the machine's layout places.
        public var guest: UInt64?

        public init(id: String, size: UInt64, candidates: [UInt64], guest: UInt64? = nil) {
            self.id = id
            self.size = size
            self.candidates = candidates.sorted()
            self.guest = guest
        }
    }

    /// The parts in RAM-offset order.
    public var backends: [Backend]

    public init(backends: [Backend]) {
        self.backends = backends
    }

    /// Whether some part has more than one mapping that could hold it.
    public var isAmbiguous: Bool { backends.contains { $0.candidates.count > 1 } }

    /// Every way to give each part one of its candidates, no mapping to two parts, in a fixed order
    /// (the first candidate of the first part first); nil when there are more than `limit`. Empty
    /// when no such way exists (fewer mappings than parts).
    public func assignments(limit: Int) -> [[UInt64]]? {
        var result: [[UInt64]] = []
        var current: [UInt64] = []
        var steps = 0
        // Depth-first; `steps` bounds the work where dead ends abound.
        func extend(_ i: Int) -> Bool {
            steps += 1
            guard steps <= 64 * max(1, limit) else { return false }
            if i == backends.count {
                result.append(current)
                return result.count <= limit
            }
            for host in backends[i].candidates where !current.contains(host) {
                current.append(host)
                defer { current.removeLast() }
                guard extend(i + 1) else { return false }
            }
            return true
        }
        return extend(0) ? result : nil
    }

    /// The slot map of one assignment (a mapping per part, in ``backends`` order): the RAM block's
    /// parts laid out by `layout`, each memory device at its address.
    public func slotMap(_ assignment: [UInt64], layout: MachineLayout) throws(TargetError) -> SlotMap {
        let parts = Array(zip(backends, assignment))
        let block = try layout.slotMap(chunks: parts.filter { $0.0.guest == nil }.map { ($1, $0.size, $0.id) })
        let devices = parts.compactMap { b, host in b.guest.map { MemorySlot(guest: GuestPhysicalAddress($0), size: b.size, host: host, name: b.id) } }
        guard !devices.isEmpty else { return block }
        do { return try SlotMap(slots: block.slots + devices, holes: block.holes) } catch { throw .noSlotMap(error.description) }
    }

    /// One line naming the parts whose mapping is open and their candidates:
    /// `memory backends 'm0', 'm1' (128 MiB each) could each be any of the mappings at 0x…, 0x…`.
    public func ambiguityDescription(of ids: [String]) -> String {
        let parts = backends.filter { ids.contains($0.id) }
        let sizes = Set(parts.map(\.size))
        let size = sizes.count == 1 ? "\(Hex.humanSize(sizes.first!)) each" : parts.map { Hex.humanSize($0.size) }.joined(separator: ", ")
        let hosts = Array(Set(parts.flatMap(\.candidates))).sorted()
        return "memory backends \(parts.map { "'\($0.id)'" }.joined(separator: ", ")) (\(size)) could each be any of the mappings at "
            + hosts.map(Hex.string).joined(separator: ", ")
    }
}
