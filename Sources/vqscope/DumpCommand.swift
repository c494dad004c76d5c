import ArgumentParser
import VQCore

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Decode one virtqueue: descriptor table, avail and used rings (or packed ring), in-flight chains, payloads.",
        discussion: """
            The snapshot is read consistently while the guest runs: indexes before and after the \
            rings, retried until they agree (else it is marked torn). In-flight chains (between the \
            device's used index and the driver's avail index) are live; older entries are history.

            Name the queue with --queue DEVICE:INDEX: among QMP's queues, or, without QMP (an image, \
            --no-qmp), among the split rings a RAM scan finds (`vqscope queues` lists them). Or give \
            its location on any target: a split ring with --desc GPA --num N --avail GPA --used GPA \
            (--legacy instead of --avail and --used: the legacy layout, which the spec fixes), a \
            packed ring with --packed --desc GPA --num N, optionally --driver GPA --device GPA (its \
            event suppression areas; not read when not given).
            """)

    @OptionGroup var target: TargetOptions
    @Option(name: .long, help: ArgumentHelp("The queue: DEVICE:INDEX (DEVICE: name, id, PCI address or QOM path; without QMP, a scan's guess).", valueName: "queue"))
    var queue: String?
    @Option(name: .long, help: ArgumentHelp("The descriptor table (split) or ring (packed), instead of --queue.", valueName: "gpa"), transform: address("--desc"))
    var desc: UInt64?
    @Option(name: .long, help: ArgumentHelp("The queue size, with --desc.", valueName: "n")) var num: Int?
    @Option(name: .long, help: ArgumentHelp("Split ring: the available ring.", valueName: "gpa"), transform: address("--avail"))
    var avail: UInt64?
    @Option(name: .long, help: ArgumentHelp("Split ring: the used ring.", valueName: "gpa"), transform: address("--used"))
    var used: UInt64?
    @Flag(help: "Split ring: the legacy layout (avail after the table, used on the next 4 KiB boundary) instead of --avail and --used.")
    var legacy = false
    @Flag(help: "The ring at --desc is packed.") var packed = false
    @Option(name: .long, help: ArgumentHelp("Packed ring: the driver event suppression area.", valueName: "gpa"), transform: address("--driver"))
    var driver: UInt64?
    @Option(name: .long, help: ArgumentHelp("Packed ring: the device event suppression area.", valueName: "gpa"), transform: address("--device"))
    var device: UInt64?
    @Flag(help: "Print JSON.") var json = false

    static func address(_ name: String) -> @Sendable (String) throws -> UInt64 {
        { text in
            guard let value = Hex.parseAddress(text) else { throw ValidationError("\(name): '\(text)' is not an address") }
            return value
        }
    }

    func validate() throws {
        if let queue {
            if QueueSelector(queue) == nil { throw ValidationError("--queue: '\(queue)' is not DEVICE:INDEX") }
            if desc != nil { throw ValidationError("--queue and --desc both name the queue: give one") }
        }
        guard desc != nil else {
            if queue == nil { throw ValidationError("name the queue: --queue DEVICE:INDEX, or its location with --desc GPA --num N") }
            let stray = [("--num", num != nil), ("--avail", avail != nil), ("--used", used != nil), ("--legacy", legacy),
                         ("--packed", packed), ("--driver", driver != nil), ("--device", device != nil)].filter(\.1).map(\.0)
            if let first = stray.first { throw ValidationError("\(first) goes with --desc (a location), not with --queue") }
            return
        }
        guard let num else { throw ValidationError("--desc needs --num N, the queue size") }
        guard (1...32768).contains(num) else { throw ValidationError("--num must be 1 to 32768") }
        if packed {
            if avail != nil || used != nil || legacy {
                throw ValidationError("a packed ring has no avail and used rings: give its event areas with --driver and --device")
            }
        } else {
            if driver != nil || device != nil {
                throw ValidationError("--driver and --device are a packed ring's event areas: add --packed, or give a split ring's --avail and --used")
            }
            if legacy && (avail != nil || used != nil) { throw ValidationError("--legacy derives --avail and --used: give one or the other") }
            if !legacy && (avail == nil || used == nil) {
                throw ValidationError("a split ring needs --avail GPA and --used GPA (a modern driver puts them anywhere; `vqscope scan` finds them), or --legacy for the layout the spec fixes")
            }
        }
        _ = try explicitLocation()
    }

    /// The location --desc and its companions give (after ``validate()``).
    func explicitLocation() throws -> DumpedQueue {
        guard let desc, let num else { throw ValidationError("--desc needs --num N, the queue size") }
        let n = Int(num)
        func at(_ base: UInt64, plus offset: Int, _ what: String) throws -> GuestPhysicalAddress {
            guard let a = GuestPhysicalAddress(base).advanced(by: UInt64(offset)) else { throw ValidationError("\(what) passes the end of the address space") }
            return a
        }
        if packed {
            // An event area not given is not read: point it at the ring and leave it out of the output.
            let location = VirtqueueLocation(layout: .packed, size: UInt16(num), descriptors: GuestPhysicalAddress(desc),
                                             driverArea: GuestPhysicalAddress(driver ?? desc), deviceArea: GuestPhysicalAddress(device ?? desc),
                                             features: [.packedRing])
            _ = try at(desc, plus: PackedRingLayout(size: n).descriptorRingBytes - 1, "the descriptor ring")
            return DumpedQueue(location: location, hasDriverArea: driver != nil, hasDeviceArea: device != nil)
        }
        if legacy {
            // Virtio 1.2, 2.7.2: the table on a page, avail right after it, used on the next page boundary.
            let layout = SplitRingLayout(size: n)
            guard desc % UInt64(SplitRingLayout.legacyAlignment) == 0 else {
                throw ValidationError("--legacy: a legacy ring's descriptor table starts on a 4 KiB page; \(Hex.string(desc)) does not")
            }
            let availAddress = try at(desc, plus: layout.legacyAvailOffset, "the available ring")
            let usedAddress = try at(desc, plus: layout.legacyUsedOffset, "the used ring")
            _ = try at(desc, plus: layout.legacyTotalBytes - 1, "the used ring")
            return DumpedQueue(location: VirtqueueLocation(layout: .split, size: UInt16(num), descriptors: GuestPhysicalAddress(desc),
                                                           driverArea: availAddress, deviceArea: usedAddress))
        }
        return DumpedQueue(location: VirtqueueLocation(layout: .split, size: UInt16(num), descriptors: GuestPhysicalAddress(desc),
                                                       driverArea: GuestPhysicalAddress(avail ?? 0), deviceArea: GuestPhysicalAddress(used ?? 0)))
    }

    func run() throws {
        let t = try target.open()
        var dumped: DumpedQueue
        if let queue {
            let list = try QueueList.load(t)
            let q = try Failure.reporting { () throws(TargetError) in
                do throws(TargetError) { return try QueueSelector(queue)!.select(from: list.devices) } catch {
                    guard list.source == .scan, case TargetError.usage(let message) = error else { throw error }
                    throw .usage(message + " (found by a RAM scan without QMP; see `vqscope queues`)")
                }
            }
            dumped = DumpedQueue(queue: q, list: list)
        } else {
            dumped = try explicitLocation()
            // On a target with QMP, a location that is one of its queues borrows the queue's name and features.
            if t.qmp != nil, let devices = try? t.virtioDevices(),
               let q = devices.flatMap(\.queues).first(where: { $0.location.layout == dumped.location.layout && $0.location.descriptors == dumped.location.descriptors }) {
                var named = DumpedQueue(queue: q, list: QueueList(source: .qmp, devices: devices))
                named.queue = VQCore.Virtqueue(device: q.device, path: q.path, index: q.index, location: dumped.location,
                                               deviceState: q.deviceState, backend: q.backend, vhostMapping: q.vhostMapping)
                named.location = VirtqueueLocation(layout: q.location.layout, size: dumped.location.size, descriptors: dumped.location.descriptors,
                                                   driverArea: dumped.location.driverArea, deviceArea: dumped.location.deviceArea,
                                                   features: q.location.features)
                named.hasDriverArea = dumped.hasDriverArea
                named.hasDeviceArea = dumped.hasDeviceArea
                if named.location.size != q.location.size { named.deviceState = nil }
                named.located = true
                dumped = named
            }
        }
        // A named queue's rings through the memory its device reaches them by: through the IOMMU
        // when its addresses are IOVAs; none is decoded from IOVAs vqscope cannot translate.
        let dump: RingDump
        let image = t.imagePath != nil, iommu = t.iommu?.kind
        do throws(MemoryError) {
            if let q = dumped.queue, let list = dumped.list {
                dump = try t.readRing(q, in: list, unmapped: \.namesUnmappedIOVA) { ring throws(MemoryError) in
                    try RingDump(dumped, ring: ring, iommu: iommu, image: image)
                }
            } else {
                dump = try RingDump(dumped, ring: RingMemory(guest: t.memory), iommu: iommu, image: image)
            }
        } catch {
            if case .untranslated = error {
                Failure.printError("\(dumped.label): not decoded: \(error)")
                throw ExitCode(Failure.partial)
            }
            Failure.printError("\(error)")
            throw ExitCode(Failure.partial)
        }
        if json { printJSON(dump.json) } else { Output.standardOutput.write(dump.text); Output.standardOutput.flush() }
    }
}

/// The queue a dump shows: its location, and its name and device state when known (QMP, a scan).
struct DumpedQueue {
    var location: VirtqueueLocation
    /// Device name (QMP's, or a scan's guess), `nil` for a bare location.
    var device: String?
    /// The device as shown when another device has its name (``Virtqueue/deviceLabel``).
    var deviceLabel: String?
    /// QOM path (QMP only).
    var path: String?
    var index: Int?
    /// Whether the queue was found by a RAM scan.
    var scanned = false
    /// Whether the queue was given by its location (`--desc`).
    var located = false
    var deviceState: DeviceQueueState?
    var payloadRole: PayloadRole?
    /// The queue and its list, when it was named (or its location is one of QMP's queues).
    var queue: Virtqueue?
    var list: QueueList?
    /// Packed rings: whether the event suppression areas are known (and read).
    var hasDriverArea = true
    var hasDeviceArea = true

    init(location: VirtqueueLocation, hasDriverArea: Bool = true, hasDeviceArea: Bool = true) {
        self.location = location
        located = true
        self.hasDriverArea = hasDriverArea
        self.hasDeviceArea = hasDeviceArea
    }

    init(queue q: Virtqueue, list: QueueList) {
        location = q.location
        device = q.device
        deviceLabel = list.queues.first(q.id)?.deviceLabel ?? q.deviceLabel
        path = list.path(of: q)
        index = q.index
        scanned = list.source == .scan
        deviceState = q.deviceState
        payloadRole = list.payloadRole(of: q)
        queue = q
        self.list = list
    }

    /// `virtio-blk:0`, or `queue at 0x1000` for a bare location.
    var label: String {
        guard let device else { return "queue at \(location.descriptors)" }
        return "\(deviceLabel ?? device):\(index ?? 0)"
    }
}

/// A decoded queue, as `dump` prints it.
struct RingDump {
    let queue: DumpedQueue
    /// The memory the rings are read through, and what their addresses are.
    let ring: RingMemory
    var memory: GuestMemory { ring.memory }
    /// The machine's IOMMU, if any.
    let iommu: VirtualIOMMU?
    /// Whether the target is an image: element addresses are file offsets, not host-virtual ones.
    let image: Bool
    var split: SplitRing.Snapshot?
    var packed: PackedRing.Snapshot?
    var payloads: [UInt16: DevicePayload] = [:]

    init(_ queue: DumpedQueue, ring: RingMemory, iommu: VirtualIOMMU?, image: Bool) throws(MemoryError) {
        self.queue = queue
        self.ring = ring
        self.iommu = iommu
        self.image = image
        switch try RingSnapshot.read(memory: memory, location: queue.location, hints: queue.deviceState) {
        case .split(let s):
            split = s
            for f in s.inFlight { if let c = f.chain { payloads[f.head] = decode(c) } }
        case .packed(let p):
            packed = p
            for a in p.available { payloads[a.slot] = decode(a.chain) }
        }
    }

    /// Whether a chain names an IOVA the device's IOMMU view did not map.
    var namesUnmappedIOVA: Bool {
        (split?.allProblems ?? packed?.allProblems ?? []).contains { $0.code == "iova_unmapped" }
    }

    private func decode(_ chain: Chain) -> DevicePayload? {
        queue.payloadRole?.decode(chain, memory: memory)
    }

    func chainJSON(_ chain: Chain) -> JSON {
        .array(chain.elements.map { e in
            .object([("addr", .uint(e.address.rawValue)), ("len", .uint(UInt64(e.length))), ("write", .bool(e.isWritable)),
                     ("iova", .uint(ring.isIOVA ? e.address.rawValue : nil)), ("gpa", .uint(ring.guestPhysical(of: e.address)?.rawValue)),
                     (image ? "offset" : "hva", .uint(memory.map.hostAddress(of: e.address))), ("descriptor", .uint(UInt64(e.index))),
                     ("indirect_table", .uint(e.indirectTable?.rawValue))])
        })
    }

    func problemsJSON(_ problems: [RingProblem]) -> JSON {
        .array(problems.map { .object([("code", .string($0.code)), ("message", .string($0.message))]) })
    }

    var json: JSON {
        let loc = queue.location
        let packedAreas = loc.layout == .packed
        var fields: [(String, JSON)] = [("device", .string(queue.device)), ("label", .string(queue.device == nil ? nil : queue.label)),
                                        ("path", .string(queue.path)),
                                        ("index", queue.index.map { .int(Int64($0)) } ?? .null),
                                        ("source", .string(queue.located ? "location" : queue.scanned ? "scan" : "qmp")),
                                        ("layout", .string(loc.layout.rawValue)), ("num", .uint(UInt64(loc.size))),
                                        ("desc_addr", .uint(loc.descriptors.rawValue)),
                                        ("avail_addr", .uint(!packedAreas || queue.hasDriverArea ? loc.driverArea.rawValue : nil)),
                                        ("used_addr", .uint(!packedAreas || queue.hasDeviceArea ? loc.deviceArea.rawValue : nil)),
                                        ("addressing", .string(ring.addressing.name)), ("iommu", .string(iommu?.qemuName))]
        if ring.isIOVA {
            fields += [("desc_gpa", .uint(ring.guestPhysical(of: loc.descriptors)?.rawValue)),
                       ("avail_gpa", .uint(!packedAreas || queue.hasDriverArea ? ring.guestPhysical(of: loc.driverArea)?.rawValue : nil)),
                       ("used_gpa", .uint(!packedAreas || queue.hasDeviceArea ? ring.guestPhysical(of: loc.deviceArea)?.rawValue : nil))]
        }
        /// Behind an IOMMU, a descriptor's IOVA and the guest-physical address it maps to.
        func translated(_ address: GuestPhysicalAddress) -> [(String, JSON)] {
            ring.isIOVA ? [("iova", .uint(address.rawValue)), ("gpa", .uint(ring.guestPhysical(of: address)?.rawValue))] : []
        }
        if let s = split {
            fields += [
                ("consistent", .bool(s.consistent)), ("attempts", .int(Int64(s.attempts))),
                ("desc", .array(s.descriptors.enumerated().map { i, d in
                    .object([("index", .int(Int64(i))), ("addr", .uint(d.address.rawValue))] + translated(d.address)
                            + [("len", .uint(UInt64(d.length))), ("flags", .uint(UInt64(d.flags.rawValue))), ("next", .uint(UInt64(d.next)))])
                })),
                ("avail", .object([("flags", .uint(UInt64(s.avail.flags))), ("idx", .uint(UInt64(s.avail.index))),
                                   ("ring", .array(s.avail.ring.map { .uint(UInt64($0)) })), ("used_event", .uint(s.avail.usedEvent.map(UInt64.init)))])),
                ("used", .object([("flags", .uint(UInt64(s.used.flags))), ("idx", .uint(UInt64(s.used.index))),
                                  ("ring", .array(s.used.ring.map { .object([("id", .uint(UInt64($0.id))), ("len", .uint(UInt64($0.length)))]) })),
                                  ("avail_event", .uint(s.used.availEvent.map(UInt64.init)))])),
                ("inflight", .array(s.inFlight.map { f in
                    .object([("position", .uint(UInt64(f.position))), ("head", .uint(UInt64(f.head))),
                             ("chain", f.chain.map(chainJSON) ?? .null), ("payload", .string(payloads[f.head]?.summary)),
                             ("problems", problemsJSON(f.chain?.problems ?? []))])
                })),
                ("problems", problemsJSON(s.problems)),
            ]
        }
        if let p = packed {
            func event(_ e: PackedRing.EventSuppression, known: Bool) -> JSON {
                known ? .object([("desc", .uint(UInt64(e.rawDescriptor))), ("flags", .uint(UInt64(e.rawFlags)))]) : .null
            }
            fields += [
                ("consistent", .bool(p.consistent)), ("attempts", .int(Int64(p.attempts))),
                ("desc", .array(p.descriptors.enumerated().map { i, d in
                    .object([("index", .int(Int64(i))), ("addr", .uint(d.address.rawValue))] + translated(d.address) + [("len", .uint(UInt64(d.length))),
                             ("id", .uint(UInt64(d.id))), ("flags", .uint(UInt64(d.flags.rawValue))),
                             ("available", .bool(p.states[i].isAvailable))])
                })),
                ("driver_event", event(p.driverEvent, known: queue.hasDriverArea)),
                ("device_event", event(p.deviceEvent, known: queue.hasDeviceArea)),
                ("driver_position", .object([("index", .uint(UInt64(p.driver.index))), ("wrap", .bool(p.driver.wrap))])),
                ("device_used_position", .object([("index", .uint(UInt64(p.deviceUsed.index))), ("wrap", .bool(p.deviceUsed.wrap)),
                                                  ("source", .string(p.deviceUsedSource.rawValue))])),
                ("stale_hints", .int(Int64(p.staleHints))),
                ("inflight", .array(p.available.map { a in
                    .object([("head", .uint(UInt64(a.slot))), ("id", .uint(UInt64(a.bufferID))), ("chain", chainJSON(a.chain)),
                             ("payload", .string(payloads[a.slot]?.summary)), ("problems", problemsJSON(a.chain.problems))])
                })),
                ("problems", problemsJSON(p.problems)),
            ]
        }
        return .object(fields)
    }

    var text: String {
        let loc = queue.location
        let origin = queue.path ?? (queue.scanned ? "found by a RAM scan; device guessed" : queue.device == nil ? "given location" : "-")
        var out = "\(queue.label) (\(origin)) \(loc.layout.rawValue) ring, \(loc.size) entries\n"
        let driverArea = loc.layout == .split || queue.hasDriverArea ? Hex.string(loc.driverArea.rawValue) : "-"
        let deviceArea = loc.layout == .split || queue.hasDeviceArea ? Hex.string(loc.deviceArea.rawValue) : "-"
        out += "  desc \(Hex.string(loc.descriptors.rawValue))  driver \(driverArea)  device \(deviceArea)  features \(queue.device == nil || queue.scanned ? "unknown" : loc.features.names.joined(separator: ","))\n"
        if ring.isIOVA, let iommu {
            let gpa = { (a: GuestPhysicalAddress) in ring.guestPhysical(of: a).map { Hex.string($0.rawValue) } ?? "unmapped" }
            out += "  addresses are I/O virtual addresses of the \(iommu.displayName), guest-physical after \"gpa\": desc gpa \(gpa(loc.descriptors))"
                + (loc.layout == .split || queue.hasDriverArea ? "  driver gpa \(gpa(loc.driverArea))" : "")
                + (loc.layout == .split || queue.hasDeviceArea ? "  device gpa \(gpa(loc.deviceArea))" : "") + "\n"
        }
        func address(_ a: GuestPhysicalAddress) -> String {
            guard ring.isIOVA else { return Hex.string(a.rawValue) }
            return Hex.string(a.rawValue) + " (gpa " + (ring.guestPhysical(of: a).map { Hex.string($0.rawValue) } ?? "unmapped") + ")"
        }
        func chainLine(_ c: Chain) -> String {
            c.elements.map { "\($0.isWritable ? "W" : "R") \(address($0.address))+\($0.length)\($0.isFromIndirectTable ? "(i)" : "")" }.joined(separator: " -> ")
        }
        if let s = split {
            out += "  snapshot: \(s.consistent ? "consistent" : "TORN") after \(s.attempts) read\(s.attempts == 1 ? "" : "s")\n"
            out += "  avail: idx \(s.avail.index) flags \(s.avail.flags)\(s.avail.usedEvent.map { " used_event \($0)" } ?? "")\n"
            out += "  used:  idx \(s.used.index) flags \(s.used.flags)\(s.used.availEvent.map { " avail_event \($0)" } ?? "")\n"
            out += "  in flight: \(s.inFlight.count)\n"
            for f in s.inFlight {
                out += "    #\(f.position) head \(f.head): " + (f.chain.map(chainLine) ?? "-") + "\n"
                if let p = payloads[f.head] { out += "      \(p.summary)\n" }
                for problem in f.chain?.problems ?? [] { out += "      PROBLEM \(problem.message)\n" }
            }
            out += "  descriptors in use:\n"
            for (i, d) in s.descriptors.enumerated() where d.address.rawValue != 0 || d.length != 0 {
                out += "    [\(i)] \(address(d.address)) len \(d.length) flags \(d.flags.rawValue) next \(d.next)\n"
            }
            for problem in s.problems { out += "  PROBLEM \(problem.message)\n" }
        }
        if let p = packed {
            out += "  snapshot: \(p.consistent ? "consistent" : "TORN") after \(p.attempts) read\(p.attempts == 1 ? "" : "s")\n"
            out += "  driver at \(p.driver), device used at \(p.deviceUsed) (\(p.deviceUsedSource.rawValue))"
                + (p.staleHints > 0 ? "; QEMU's older \(p.staleHints == 1 ? "index" : "indexes") ignored: the ring is newer" : "") + "\n"
            let driverEvent = queue.hasDriverArea ? "\(p.driverEvent.mode.rawValue) \(p.driverEvent.offset)" : "not read"
            let deviceEvent = queue.hasDeviceArea ? "\(p.deviceEvent.mode.rawValue) \(p.deviceEvent.offset)" : "not read"
            out += "  driver event: \(driverEvent)  device event: \(deviceEvent)\n"
            out += "  available: \(p.available.count)\n"
            for a in p.available {
                out += "    slot \(a.slot) id \(a.bufferID): " + chainLine(a.chain) + "\n"
                if let pl = payloads[a.slot] { out += "      \(pl.summary)\n" }
                for problem in a.chain.problems { out += "      PROBLEM \(problem.message)\n" }
            }
            for problem in p.problems { out += "  PROBLEM \(problem.message)\n" }
        }
        return out
    }
}
