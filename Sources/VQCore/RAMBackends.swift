/// Guest RAM as the command line makes it (one RAM block, one machine memory backend, or one
/// backend per NUMA node, in RAM-offset order) and, for each part, the process's mappings that
/// could hold it (``MapsSlotSource``). Several parts of one size and kind leave the mapping of
/// each open: ``assignments(limit:)`` lists the ways to give each its own.
public struct RAMBackends: Sendable, Equatable {
    /// One part of guest RAM.
    public struct Backend: Sendable, Equatable {
        /// The backend's id (`-object memory-backend-*,id=`), or `pc.ram` for plain `-m` RAM.
        public var id: String
        public var size: UInt64
        /// Start addresses of the mappings that fit it (size, permissions, kind), ascending.
        public var candidates: [UInt64]

        public init(id: String, size: UInt64, candidates: [UInt64]) {
            self.id = id
            self.size = size
            self.candidates = candidates.sorted()
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

    /// The RAM chunks of one assignment (host address, size, backend id), for
    /// ``MachineLayout/slotMap(chunks:)``.
    public func chunks(_ assignment: [UInt64]) -> [(host: UInt64, size: UInt64, name: String)] {
        zip(backends, assignment).map { ($1, $0.size, $0.id) }
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
