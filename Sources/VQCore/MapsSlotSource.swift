/// Builds a ``SlotMap`` with no help from QEMU: finds guest RAM among the process's mappings
/// (`/proc/PID/maps`) from what the command line says (RAM size, memory backends) and lays it out
/// as the machine type does (``MachineLayout``).
public enum MapsSlotSource {
    public static func slotMap(commandLine: QEMUCommandLine, mappings: [ProcessMapping]) throws(TargetError) -> SlotMap {
        let layout = try MachineLayout.forMachine(commandLine)
        let chunks = try ramChunks(commandLine: commandLine, mappings: mappings)
        return try layout.slotMap(chunks: chunks)
    }

    /// The mappings that hold the RAM block, in RAM-offset order.
    public static func ramChunks(commandLine: QEMUCommandLine, mappings: [ProcessMapping]) throws(TargetError) -> [(host: UInt64, size: UInt64, name: String)] {
        // RAM from memory backends: `-machine memory-backend=ID`, or NUMA nodes' memdev= in order.
        var backendIDs: [String] = []
        if let id = commandLine.memoryBackendID { backendIDs = [id] }
        else { backendIDs = commandLine.numaMemoryDevices }
        if !backendIDs.isEmpty {
            return try backendIDs.map { (id) throws(TargetError) in
                guard let backend = commandLine.memoryBackends.first(where: { $0.id == id }), let size = backend.size else {
                    throw .noSlotMap("memory backend '\(id)' has no size on the command line")
                }
                let mapping = try find(size: size, in: mappings, what: "memory backend '\(id)'") { m in
                    switch backend.type {
                    case "memory-backend-file":
                        guard let path = backend.path else { return m.isAnonymous == false }
                        return m.path == path || m.path.hasPrefix(path + "/") || m.path.hasPrefix(path + " (deleted)")
                    case "memory-backend-memfd": return m.path.hasPrefix("/memfd:")
                    default: return m.isAnonymous
                    }
                }
                return (mapping.start, size, id)
            }
        }
        let mapping = try find(size: commandLine.ramSize, in: mappings, what: "guest RAM") { $0.isAnonymous && !$0.shared }
        return [(mapping.start, commandLine.ramSize, "pc.ram")]
    }

    private static func find(size: UInt64, in mappings: [ProcessMapping], what: String,
                             _ matches: (ProcessMapping) -> Bool) throws(TargetError) -> ProcessMapping {
        // Guest RAM is readable and writable, never executable: under TCG the largest mapping is
        // the rwx code buffer, not RAM.
        let candidates = mappings.filter { $0.readable && $0.writable && !$0.executable && $0.size == size && matches($0) }
        guard let first = candidates.first else {
            throw .noSlotMap("no mapping of exactly \(Hex.humanSize(size)) (\(what)) in the process (use --slots qmp or kvm)")
        }
        guard candidates.count == 1 else {
            throw .noSlotMap("\(candidates.count) mappings of exactly \(Hex.humanSize(size)) could be \(what): \(candidates.map { Hex.string($0.start) }.joined(separator: ", ")) (use --slots qmp or kvm)")
        }
        return first
    }
}
