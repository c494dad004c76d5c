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
        return try found.slotMap(found.backends.map { $0.candidates[0] }, layout: layout)
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

    /// Memory devices placed one after the other from the machine's device-memory base, in
    /// command-line order (QEMU's first fit), each at its `addr=` when given. Without `addr=` a
    /// size that is not a multiple of 2 MiB (the alignment of QEMU's anonymous RAM) is refused
    /// rather than placed by a guess.
    public static func dimmAddresses(_ commandLine: QEMUCommandLine, layout: MachineLayout) throws(TargetError) -> [UInt64] {
        guard !commandLine.dimms.isEmpty else { return [] }
        guard let base = layout.deviceMemoryBase else {
            throw .noSlotMap("vqscope does not know where this machine puts pc-dimm memory (use --slots qmp or kvm)")
        }
        let alignment: UInt64 = 2 << 20
        var next = base
        var placed: [(start: UInt64, end: UInt64)] = []
        return try commandLine.dimms.map { (dimm) throws(TargetError) in
            let name = dimm.id.map { "pc-dimm '\($0)'" } ?? "the pc-dimm of memory backend '\(dimm.memoryBackendID)'"
            guard let size = commandLine.memoryBackends.first(where: { $0.id == dimm.memoryBackendID })?.size else {
                throw .noSlotMap("\(name): memory backend '\(dimm.memoryBackendID)' has no size on the command line")
            }
            if let address = dimm.address {
                placed.append((address, address + size))
                return address
            }
            guard size % alignment == 0 else {
                throw .noSlotMap("\(name): \(Hex.humanSize(size)) is not a multiple of 2 MiB and has no addr=; where QEMU put it is not certain (use --slots qmp or kvm)")
            }
            // First fit after the devices placed so far, past any fixed one it would overlap.
            var start = (next + alignment - 1) / alignment * alignment
            while let clash = placed.first(where: { start < $0.end && $0.start < start + size }) {
                start = (clash.end + alignment - 1) / alignment * alignment
            }
            placed.append((start, start + size))
            next = start + size
            return start
        }
    }

    /// The parts of RAM in RAM-offset order, each with the mappings that could hold it. Throws
    /// when a part has none.
    public static func backends(commandLine: QEMUCommandLine, mappings: [ProcessMapping]) throws(TargetError) -> RAMBackends {
        // RAM from memory backends: `-machine memory-backend=ID`, or NUMA nodes' memdev= in order.
        var backendIDs: [String] = []
        if let id = commandLine.memoryBackendID { backendIDs = [id] }
        else { backendIDs = commandLine.numaMemoryDevices }
        func part(_ id: String, guest: UInt64?) throws(TargetError) -> RAMBackends.Backend {
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
            return RAMBackends.Backend(id: id, size: size, candidates: found.map(\.start), guest: guest)
        }
        var parts: [RAMBackends.Backend]
        if !backendIDs.isEmpty {
            parts = try backendIDs.map { (id) throws(TargetError) in try part(id, guest: nil) }
        } else {
            let found = try candidates(size: commandLine.ramSize, in: mappings, what: "guest RAM") { $0.isAnonymous && !$0.shared }
            parts = [RAMBackends.Backend(id: "pc.ram", size: commandLine.ramSize, candidates: found.map(\.start))]
        }
        let addresses = try dimmAddresses(commandLine, layout: try MachineLayout.forMachine(commandLine))
        for (dimm, address) in zip(commandLine.dimms, addresses) { parts.append(try part(dimm.memoryBackendID, guest: address)) }
        return RAMBackends(backends: parts)
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
