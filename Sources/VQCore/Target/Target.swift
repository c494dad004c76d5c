/// Where a slot map came from.
public enum SlotSource: String, Sendable, CaseIterable {
    /// QEMU's flat view and gpa2hva over QMP.
    case qmp
    /// QEMU's own KVMSlot array, found in its memory.
    case kvm
    /// `/proc/PID/maps` and the machine type's RAM layout.
    case maps
    /// An ELF image's program headers.
    case elf
    /// A raw RAM file at a given base.
    case raw
}

/// Which slot source to use for a live process.
public enum SlotSourceChoice: String, Sendable, CaseIterable {
    /// QMP when it answers, else KVM slots, else maps.
    case auto, qmp, kvm, maps
}

/// What the user asked to open: a live QEMU process or a memory image.
public struct TargetSpec: Sendable {
    public var pid: Int32?
    public var imagePath: String?
    /// Guest-physical address of a raw image's first byte (a raw file instead of an ELF dump).
    public var base: UInt64?
    public var slots: SlotSourceChoice = .auto
    /// A QMP socket to use instead of those on the command line.
    public var qmpPath: String?
    /// Forbid any QMP use.
    public var noQMP = false
    /// Forbid QMP through libvirt's monitor pass-through (a domain's own QMP sockets stay allowed).
    public var noLibvirt = false
    public var qmpTimeoutMilliseconds: Int32 = 2000

    public init(pid: Int32? = nil, imagePath: String? = nil, base: UInt64? = nil, slots: SlotSourceChoice = .auto,
                qmpPath: String? = nil, noQMP: Bool = false) {
        self.pid = pid
        self.imagePath = imagePath
        self.base = base
        self.slots = slots
        self.qmpPath = qmpPath
        self.noQMP = noQMP
    }
}

/// An opened target: guest memory through its slot map, where the map came from, and (for a live
/// process) the process and its QMP connection when one was used.
public final class Target {
    public let process: QEMUProcess?
    public let imagePath: String?
    public let memory: GuestMemory
    public let source: SlotSource
    /// How the source was chosen: the sources tried before it and why they were passed over.
    public let notes: [String]
    /// What the source said about its map: how the `maps` source decided which mapping holds which
    /// memory backend, or what it left out (``RAMAssignment``). Empty when there was nothing to say.
    public internal(set) var slotNotes: [String] = []
    /// The QMP connection, when QMP was allowed and answered.
    public let qmp: QMPClient?
    /// When the PID named a vhost-user back-end: that process, whose memory ``memory`` reads at its
    /// own addresses (``process`` is then the QEMU whose guest RAM it maps).
    public let backend: VhostUserBackend?
    /// The slot map in QEMU's own address space (``memory``'s map, but for a back-end).
    let qemuMap: SlotMap?
    /// The memory each device reaches by DMA, built on first use (``ringMemory(for:in:)``).
    var dma: DMAMemory?

    init(process: QEMUProcess?, imagePath: String?, memory: GuestMemory, source: SlotSource, notes: [String], qmp: QMPClient?,
         backend: VhostUserBackend? = nil, qemuMap: SlotMap? = nil) {
        self.qemuMap = qemuMap
        self.process = process
        self.imagePath = imagePath
        self.memory = memory
        self.source = source
        self.notes = notes
        self.qmp = qmp
        self.backend = backend
    }

    /// Opens what `spec` names. Throws a ``TargetError`` with a message a user can act on.
    public static func open(_ spec: TargetSpec) throws(TargetError) -> Target {
        switch (spec.pid, spec.imagePath) {
        case (nil, nil): throw .usage("name a target: --pid PID (see `vqscope list`) or --image FILE")
        case (.some, .some): throw .usage("--pid and --image cannot be used together")
        case (nil, let path?):
            return try openImage(path: path, base: spec.base)
        case (let pid?, nil):
            if spec.base != nil { throw .usage("--base goes with --image (a raw RAM file)") }
            return try openProcess(pid: pid, spec: spec)
        }
    }

    static func openImage(path: String, base: UInt64?) throws(TargetError) -> Target {
        if let base {
            let memory = try MemoryImage.openRaw(path: path, base: GuestPhysicalAddress(base))
            return Target(process: nil, imagePath: path, memory: memory, source: .raw, notes: [], qmp: nil)
        }
        let memory = try MemoryImage.openELF(path: path)
        return Target(process: nil, imagePath: path, memory: memory, source: .elf, notes: [], qmp: nil)
    }

    static func openProcess(pid: Int32, spec: TargetSpec) throws(TargetError) -> Target {
        let process: QEMUProcess
        do { process = try QEMUProcess(pid: pid) } catch {
            guard case .notQEMU(_, let executable) = error else { throw error }
            return try openBackend(pid: pid, executable: executable, spec: spec, notQEMU: error)
        }
        if spec.noQMP && spec.slots == .qmp { throw .usage("--slots qmp and --no-qmp contradict each other") }
        let reader = ProcessMemory(pid: pid)
        var notes: [String] = []
        var qmp: QMPClient?

        if !spec.noQMP {
            do { qmp = try connectQMP(process: process, explicit: spec.qmpPath, timeout: spec.qmpTimeoutMilliseconds, libvirt: !spec.noLibvirt) } catch {
                if spec.slots == .qmp || spec.qmpPath != nil { throw error }
                notes.append(error.description)
            }
        }

        // /proc/PID/maps, read once: the KVM and maps sources build from it, every source is checked against it.
        var readMappings: [ProcessMapping]?
        func mappings() throws(TargetError) -> [ProcessMapping] {
            if let readMappings { return readMappings }
            let read = try process.mappings()
            readMappings = read
            return read
        }

        func finish(_ map: SlotMap, _ source: SlotSource) throws(TargetError) -> Target {
            let memory = GuestMemory(map: map, reader: reader)
            try checkBacked(map, by: try mappings(), source: source)
            try checkReadable(memory, pid: pid)
            return Target(process: process, imagePath: nil, memory: memory, source: source, notes: notes, qmp: qmp)
        }

        let order: [SlotSource]
        switch spec.slots {
        case .qmp: order = [.qmp]
        case .kvm: order = [.kvm]
        case .maps: order = [.maps]
        case .auto: order = [.qmp, .kvm, .maps]
        }
        var lastError: TargetError?
        for source in order {
            do throws(TargetError) {
                switch source {
                case .qmp:
                    guard let client = qmp else { continue }
                    return try finish(try QMPSlotSource.slotMap(client: client), .qmp)
                case .kvm:
                    if spec.slots == .auto && process.accelerator != .kvm {
                        notes.append("kvm slots: not a KVM guest (accelerator \(process.accelerator))")
                        continue
                    }
                    return try finish(try KVMSlotScanner.scan(memory: reader, mappings: try mappings()).map, .kvm)
                case .maps:
                    // The page map only where the guest's rings must decide between look-alike mappings.
                    let ambiguous = try MapsSlotSource.backends(commandLine: process.commandLine, mappings: try mappings()).isAmbiguous
                    let resident = ambiguous ? try RingScanner.residentPages(pid: pid) : nil
                    let (map, note) = try MapsSlotSource.slotMap(commandLine: process.commandLine, mappings: try mappings(), reader: reader,
                                                                 resident: resident)
                    let target = try finish(map, .maps)
                    target.slotNotes = note.map { ["maps slots: \($0)"] } ?? []
                    return target
                default:
                    continue
                }
            } catch {
                if case .permissionDenied = error { throw error }
                if case .noSuchProcess = error { throw error }
                notes.append("\(source.rawValue) slots: \(error)")
                lastError = error
            }
        }
        if order.count == 1, let lastError { throw lastError }
        throw .noSlotMap(notes.joined(separator: "; "))
    }

    /// A vhost-user back-end: the QEMU whose guest RAM it maps is opened as usual, and its slot map
    /// moved into the back-end's address space; memory is read from the back-end. A process that
    /// maps no QEMU's guest RAM is not a target (`notQEMU`, said so).
    static func openBackend(pid: Int32, executable: String, spec: TargetSpec, notQEMU: TargetError) throws(TargetError) -> Target {
        let theirs = try QEMUProcess.mappings(pid: pid)
        let candidates = QEMUProcess.all().filter { $0.accelerator != .simulated }.compactMap { q in (try? q.mappings()).map { (pid: q.pid, mappings: $0) } }
        guard let qemuPID = VhostUserBackend.qemu(sharingWith: theirs, candidates: candidates),
              let qemuMappings = candidates.first(where: { $0.pid == qemuPID })?.mappings else {
            throw .usage("\(notQEMU), nor a vhost-user back-end: it maps no QEMU's guest RAM (no shared file that a QEMU on this host maps too)")
        }
        let qemu = try openProcess(pid: qemuPID, spec: spec)
        let map = try VhostUserBackend.slotMap(qemu: qemu.memory.map, qemuMappings: qemuMappings, backendMappings: theirs)
        let memory = GuestMemory(map: map, reader: ProcessMemory(pid: pid))
        try checkBacked(map, by: theirs, source: qemu.source)
        try checkReadable(memory, pid: pid)
        let backend = VhostUserBackend(pid: pid, executable: executable, qemuPID: qemuPID)
        let target = Target(process: qemu.process, imagePath: nil, memory: memory, source: qemu.source,
                            notes: qemu.notes + ["vhost-user back-end pid \(pid) (\(backend.name)) maps the guest RAM of QEMU pid \(qemuPID): addresses are the back-end's"],
                            qmp: qemu.qmp, backend: backend, qemuMap: qemu.memory.map)
        target.slotNotes = qemu.slotNotes
        return target
    }

    /// The QMP sockets of a process vqscope may connect to: every `-qmp unix:` and control `-mon`
    /// socket on its command line (relative paths resolved against the process's working
    /// directory) except the monitor libvirt holds.
    public static func qmpSockets(of process: QEMUProcess) -> [String] {
        process.qmpAccess.socketPaths
    }

    /// What vqscope says once when it reaches QEMU through libvirt.
    public static func libvirtRouteNote(_ domain: LibvirtDomain) -> String {
        "QMP through libvirt's monitor pass-through (virsh qemu-monitor-command \(domain.name)); libvirt marks the domain "
            + "tainted (custom-monitor) after the first such command; --no-libvirt does without"
    }

    static func connectQMP(process: QEMUProcess, explicit: String?, timeout: Int32, libvirt: Bool) throws(TargetError) -> QMPClient {
        let sockets: [String]
        if let explicit {
            sockets = [explicit]
        } else {
            switch process.qmpAccess {
            case .sockets(let paths): sockets = paths
            case .libvirt(let domain) where libvirt:
                do { return try QMPClient(libvirtDomain: domain.uuid ?? domain.name, timeoutMilliseconds: max(timeout, 5000)) } catch {
                    throw .noQMP("\(error)")
                }
            case .libvirt(let domain): throw .noQMP(domain.heldMonitorMessage + " (--no-libvirt forbids libvirt's pass-through)")
            case .none: throw .noQMP("process \(process.pid) has no QMP socket on its command line (give one with --qmp PATH)")
            }
        }
        var failures: [String] = []
        for path in sockets {
            do { return try QMPClient(path: path, timeoutMilliseconds: timeout) } catch {
                failures.append(error.naming(holder: holder(of: path, in: process)).description)
            }
        }
        throw .noQMP(failures.joined(separator: "; "))
    }

    /// Who holds the QMP socket at `path`, if vqscope knows: libvirt, for a domain's monitor.
    static func holder(of path: String, in process: QEMUProcess) -> QMPError.Holder? {
        guard let domain = process.libvirtDomain, domain.monitorSocketPath == path else { return nil }
        return .libvirt(domain: domain.name)
    }

    /// One small read, so that a missing permission shows at once, with its reason.
    /// Every slot's host range lies in the process's own mappings (readable ones, one or several
    /// adjacent): a slot map that says otherwise (a QMP peer that lies, a stale KVM slot) would
    /// read the process's other memory as guest RAM.
    static func checkBacked(_ map: SlotMap, by mappings: [ProcessMapping], source: SlotSource) throws(TargetError) {
        let sorted = mappings.filter(\.readable).sorted { $0.start < $1.start }
        for slot in map.slots where slot.size > 0 {
            let end = slot.host.addingReportingOverflow(slot.size)
            var at = slot.host
            var covered = !end.overflow
            while covered && at < end.partialValue {
                guard let m = sorted.last(where: { $0.start <= at }), m.end > at else { covered = false; break }
                at = m.end
            }
            guard covered else {
                throw .noSlotMap("\(source.rawValue) slots: \(slot.name) (guest \(slot.guest), \(Hex.humanSize(slot.size))) would be at host "
                                 + "\(Hex.string(slot.host))..\(Hex.string(slot.host &+ slot.size)), which the process has not mapped whole")
            }
        }
    }

    static func checkReadable(_ memory: GuestMemory, pid: Int32) throws(TargetError) {
        guard let slot = memory.map.slots.first else { throw .noSlotMap("the slot map is empty") }
        do { _ = try memory.bytes(at: slot.guest, count: 1) } catch {
            switch error {
            case .permissionDenied: throw .permissionDenied(pid: pid, what: "the memory")
            case .processGone: throw .noSuchProcess(pid: pid)
            default: throw .noSlotMap("slot \(slot.name) at \(slot.guest) cannot be read: \(error)")
            }
        }
    }

    /// The guest's virtio devices and their active queues. Through QMP when this target has a QMP
    /// connection; otherwise vqscope has no device list (use `vqscope scan` to find rings in RAM).
    public func virtioDevices() throws(TargetError) -> [VirtioDevice] {
        try virtioInventory().devices
    }

    /// ``virtioDevices()`` with QEMU's answers that gave no usable queue (a size virtio does not
    /// allow, a reply of the wrong shape): what was left out of the list, and why.
    public func virtioInventory() throws(TargetError) -> QMPVirtioSource.Inventory {
        guard let qmp else {
            throw .noQMP(imagePath != nil
                ? "an image has no device list: find rings with `vqscope scan`"
                : "listing virtio devices needs QMP (\(notes.first ?? "no QMP socket")); without it, find rings with `vqscope scan`")
        }
        var inventory: QMPVirtioSource.Inventory
        do { inventory = try QMPVirtioSource.inventory(client: qmp) } catch {
            throw .noQMP(error.description)
        }
        checkVhostAddresses(&inventory)
        return inventory
    }

    /// A vhost queue's ring addresses are read as guest-physical only where QEMU's own mapping of
    /// them (x-query-virtio-vhost-queue-status) agrees with the slot map; anywhere else (an IOVA
    /// behind a vIOMMU, a map that moved) the queue is left out with a note that says so.
    func checkVhostAddresses(_ inventory: inout QMPVirtioSource.Inventory) {
        let map = qemuMap ?? memory.map
        for d in inventory.devices.indices {
            inventory.devices[d].queues.removeAll { queue in
                guard let mapping = queue.vhostMapping else { return false }
                let areas: [(String, GuestPhysicalAddress, UInt64)] = [
                    ("descriptors", queue.location.descriptors, mapping.descriptors),
                    ("driver area", queue.location.driverArea, mapping.driverArea),
                    ("device area", queue.location.deviceArea, mapping.deviceArea),
                ]
                for (what, address, qemu) in areas where map.hostAddress(of: address) != qemu {
                    let ours = map.hostAddress(of: address).map { "at \(Hex.string($0))" } ?? "nowhere"
                    inventory.notes.append(QMPVirtioSource.Note(
                        device: queue.device, path: queue.path, queue: queue.index,
                        reason: "the \(queue.backend.rawValue) ring's \(what) address \(address) is not guest-physical: QEMU maps it at "
                            + "\(Hex.string(qemu)), the slot map puts that guest address \(ours) (an IOVA behind a vIOMMU?), so it is not read"))
                    return true
                }
                return false
            }
        }
    }

    /// How this target reaches QEMU's QMP: `qmp socket PATH`, `libvirt DOMAIN` or `none`.
    public var qmpRoute: String {
        guard let qmp else { return "none" }
        if let domain = qmp.libvirtDomain { return "libvirt \(process?.libvirtDomain?.name ?? domain)" }
        return "qmp socket \(qmp.path)"
    }

    /// A short description: `pid 1234 (vm1, kvm, 256 MiB)` or `image dump.elf`.
    public var title: String {
        if let backend, let process {
            let name = process.commandLine.name.map { "\($0), " } ?? ""
            return "back-end pid \(backend.pid) (\(backend.name)) of QEMU pid \(process.pid) (\(name)\(process.accelerator), \(Hex.humanSize(process.commandLine.ramSize)))"
        }
        if let process {
            let name = process.commandLine.name.map { "\($0), " } ?? ""
            return "pid \(process.pid) (\(name)\(process.accelerator), \(Hex.humanSize(process.commandLine.ramSize)))"
        }
        return "image \(imagePath ?? "?")"
    }
}
