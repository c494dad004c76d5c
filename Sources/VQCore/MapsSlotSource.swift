/// Builds a ``SlotMap`` with no help from QEMU: finds guest RAM among the process's mappings
/// (`/proc/PID/maps`) from what the command line says (RAM size, memory backends) and lays it out
/// as the machine type does (``MachineLayout``).
public enum MapsSlotSource {
    /// The slot map when the mappings say where every part of RAM is; throws when several mappings
    /// could hold one part (see ``slotMap(commandLine:mappings:reader:resident:)``, which decides).
    public static func slotMap(commandLine: QEMUCommandLine, mappings: [ProcessMapping]) throws(TargetError) -> SlotMap {
        let layout = try MachineLayout.forMachine(commandLine)
        let found = try backends(commandLine: commandLine, mappings: mappings)
        if let open = found.backends.first(where: { $0.candidates.count > 1 }) {
            throw .noSlotMap("\(open.candidates.count) mappings of exactly \(Hex.humanSize(open.size)) could be \(open.id == "pc.ram" ? "guest RAM" : "memory backend '\(open.id)'"): "
                             + "\(open.candidates.map(Hex.string).joined(separator: ", ")) (use --slots qmp or kvm)")
        }
        return try layout.slotMap(chunks: found.chunks(found.backends.map { $0.candidates[0] }))
    }

    /// The slot map, where several mappings could hold a part of RAM (NUMA nodes of one size)
    /// decided by the guest's rings (``RAMAssignment``), and how it was decided (nil when the
    /// mappings left nothing open).
    public static func slotMap(commandLine: QEMUCommandLine, mappings: [ProcessMapping], reader: any MemoryReader & Sendable,
                               resident: (@Sendable (UInt64, Int) -> [Bool])?) throws(TargetError) -> (map: SlotMap, note: String?) {
        let layout = try MachineLayout.forMachine(commandLine)
        return try RAMAssignment.slotMap(backends: try backends(commandLine: commandLine, mappings: mappings), layout: layout,
                                         reader: reader, resident: resident)
    }

    /// The parts of RAM in RAM-offset order, each with the mappings that could hold it. Throws
    /// when a part has none.
    public static func backends(commandLine: QEMUCommandLine, mappings: [ProcessMapping]) throws(TargetError) -> RAMBackends {
        // RAM from memory backends: `-machine memory-backend=ID`, or NUMA nodes' memdev= in order.
        var backendIDs: [String] = []
        if let id = commandLine.memoryBackendID { backendIDs = [id] }
        else { backendIDs = commandLine.numaMemoryDevices }
        if !backendIDs.isEmpty {
            return RAMBackends(backends: try backendIDs.map { (id) throws(TargetError) in
                guard let backend = commandLine.memoryBackends.first(where: { $0.id == id }), let size = backend.size else {
                    throw .noSlotMap("memory backend '\(id)' has no size on the command line")
                }
                let found = try candidates(size: size, in: mappings, what: "memory backend '\(id)'") { m in
                    switch backend.type {
                    case "memory-backend-file":
                        guard let path = backend.path else { return m.isAnonymous == false }
                        return m.path == path || m.path.hasPrefix(path + "/") || m.path.hasPrefix(path + " (deleted)")
                    case "memory-backend-memfd": return m.path.hasPrefix("/memfd:")
                    default: return m.isAnonymous
                    }
                }
                return RAMBackends.Backend(id: id, size: size, candidates: found.map(\.start))
            })
        }
        let found = try candidates(size: commandLine.ramSize, in: mappings, what: "guest RAM") { $0.isAnonymous && !$0.shared }
        return RAMBackends(backends: [RAMBackends.Backend(id: "pc.ram", size: commandLine.ramSize, candidates: found.map(\.start))])
    }

    private static func candidates(size: UInt64, in mappings: [ProcessMapping], what: String,
                                   _ matches: (ProcessMapping) -> Bool) throws(TargetError) -> [ProcessMapping] {
        // Guest RAM is readable and writable, never executable: under TCG the largest mapping is
        // the rwx code buffer, not RAM.
        let candidates = mappings.filter { $0.readable && $0.writable && !$0.executable && $0.size == size && matches($0) }
        guard !candidates.isEmpty else {
            throw .noSlotMap("no mapping of exactly \(Hex.humanSize(size)) (\(what)) in the process (use --slots qmp or kvm)")
        }
        return candidates
    }
}
