import ArgumentParser
import VQCore

struct QueuesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues", abstract: "List the virtqueues of a guest: device, layout, size, ring addresses and indexes.",
        discussion: """
            Through QMP when the target has it. Without QMP (an image, --no-qmp, or no QMP socket), \
            the rings a RAM scan finds are listed instead: the device is the scan's guess from \
            the ring contents, the index counts that guess's rings in address order; rings nothing \
            shows in use come last as stale-GUESS.
            """)

    @OptionGroup var target: TargetOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let t = try target.open()
        let loaded = try QueueList.loadNoting(t)
        let list = loaded.list
        let queues = list.queues
        var shortfall = QueueShortfall(part: "indexes", leftOut: loaded.notes)
        // A queue whose indexes cannot be read is listed without them, and said on standard error.
        var indexes: [RingIndexes] = []
        var errors: [String?] = []
        // Each queue's rings through the memory its device reaches them by (through the IOMMU when
        // its addresses are IOVAs); a queue whose IOVAs cannot be translated is not read.
        var rings: [RingMemory?] = []
        for q in queues {
            do throws(IOMMUTranslationError) {
                rings.append(try t.ringMemory(for: q, in: list))
            } catch {
                rings.append(nil)
                indexes.append(RingIndexes(available: nil, used: nil))
                errors.append("\(error)")
                shortfall.unreadable.append((queue: q.label, error: "\(error)"))
                continue
            }
            do throws(MemoryError) {
                indexes.append(try RingIndexes.read(q.location, from: rings[rings.count - 1]!.memory))
                errors.append(nil)
            } catch {
                if case .processGone = error {
                    Failure.printError("\(error)")
                    throw ExitCode(Failure.unusable)
                }
                indexes.append(RingIndexes(available: nil, used: nil))
                errors.append("\(error)")
                shortfall.unreadable.append((queue: q.label, error: "\(error)"))
            }
        }
        let iommu = t.iommu
        // `gpa` or `iova`; for a scan's rings on a machine whose IOMMU translates DMA, `unknown`
        // (the rings are where the scan found them, their buffers' addresses may be IOVAs).
        func addressing(_ i: Int) -> String {
            if let ring = rings[i] { return ring.addressing.name }
            guard t.addressing(of: queues[i], in: list).isIOVA else { return "gpa" }
            return list.source == .scan ? "unknown" : "iova"
        }
        if json {
            printJSON(.object([("source", .string(list.source.rawValue)), ("queues", .array(queues.indices.map { n in
                let q = queues[n], i = indexes[n], error = errors[n], ring = rings[n]
                let hostMap = (ring?.memory ?? t.memory).map
                var fields: [(String, JSON)] = [
                    ("device", .string(q.device)), ("label", .string(q.label)), ("path", .string(list.path(of: q))), ("pci", .string(list.device(of: q)?.pciAddress)),
                    ("index", .int(Int64(q.index))), ("layout", .string(q.location.layout.rawValue)),
                    ("backend", list.source == .scan ? .null : .string(q.backend.rawValue)),
                    ("num", .uint(UInt64(q.location.size))),
                    ("desc", .uint(q.location.descriptors.rawValue)), ("avail", .uint(q.location.driverArea.rawValue)),
                    ("used", .uint(q.location.deviceArea.rawValue)),
                    ("addressing", .string(addressing(n))), ("iommu", .string(iommu?.kind.qemuName)),
                    ("desc_gpa", .uint(ring?.guestPhysical(of: q.location.descriptors)?.rawValue)),
                    ("avail_gpa", .uint(ring?.guestPhysical(of: q.location.driverArea)?.rawValue)),
                    ("used_gpa", .uint(ring?.guestPhysical(of: q.location.deviceArea)?.rawValue)),
                    ("desc_hva", .uint(ring == nil ? nil : hostMap.hostAddress(of: q.location.descriptors))),
                    ("avail_hva", .uint(ring == nil ? nil : hostMap.hostAddress(of: q.location.driverArea))),
                    ("used_hva", .uint(ring == nil ? nil : hostMap.hostAddress(of: q.location.deviceArea))),
                    ("avail_idx", .uint(i.available.map(UInt64.init))), ("used_idx", .uint(i.used.map(UInt64.init))),
                    ("features", .array(q.location.features.names.map { .string($0) })),
                ]
                if let ring = list.scanned[q.location.descriptors] {
                    fields.append(("score", .int(Int64(ring.score))))
                    fields.append(("stale", ring.stale.map { .bool($0) } ?? .null))
                }
                if let error { fields.append(("error", .string(error))) }
                return .object(fields)
            })), ("left_out", .array(loaded.notes.map(\.json))), ("slot_notes", .array(t.slotNotes.map { .string($0) }))]))
            return try shortfall.exitIfAny()
        }
        let out = Output.standardOutput
        if let iommu, list.source == .qmp, rings.indices.contains(where: { addressing($0) == "iova" }) {
            out.write("\(t.title): behind the \(iommu.kind.displayName), QEMU's \(iommu.kind.qemuName); ADDRESSES iova: the ring addresses are "
                      + "I/O virtual addresses of the device's DMA domain, read through the IOMMU's tables\n")
        }
        if let backend = t.backend {
            out.write("\(t.title): rings at guest-physical addresses; DESC@HVA is where back-end pid \(backend.pid) maps each descriptor table\n")
        }
        if list.source == .scan {
            out.write("found by a RAM scan of \(t.title) (\(list.note ?? "no QMP")): devices are guesses from the ring contents, "
                      + "indexes count each guess's rings in address order"
                      + (list.scanned.values.contains { $0.stale == true } ? "; rings nothing shows in use come last, named stale-GUESS" : "")
                      + "\n")
            for note in t.slotNotes { out.write("(\(note))\n") }
        }
        if queues.isEmpty {
            out.write(list.source == .scan ? "no ring found\n"
                      : "no active virtqueues in \(t.title)\(loaded.notes.isEmpty ? "" : ": every queue QEMU named was left out")\n")
        }
        out.flush()
        let scan = list.source == .scan
        if !queues.isEmpty {
            var header = ["DEVICE", scan ? "SCORE" : "PCI", "Q", "LAYOUT", "BACKEND", "NUM", "DESC", "AVAIL/DRIVER", "USED/DEVICE",
                          "AVAIL-IDX", "USED-IDX", "FEATURES"]
            if t.backend != nil { header.append("DESC@HVA") }
            // Only on a machine with an IOMMU: elsewhere every address is guest-physical.
            if iommu != nil { header.insert("ADDRESSES", at: 6) }
            if scan { header.append("STALE") }
            printTable(header, queues.indices.map { n in
                let q = queues[n], i = indexes[n]
                let second = scan ? list.scanned[q.location.descriptors].map { String($0.score) } : list.device(of: q)?.pciAddress
                var row: [String] = [q.shownDevice, second ?? "-", String(q.index), q.location.layout.rawValue, scan ? "?" : q.backend.rawValue,
                                     String(q.location.size)]
                if iommu != nil { row.append(addressing(n)) }
                row += [Hex.string(q.location.descriptors.rawValue), Hex.string(q.location.driverArea.rawValue),
                        Hex.string(q.location.deviceArea.rawValue)]
                row += [i.available.map(String.init) ?? "-", i.used.map(String.init) ?? "-",
                        scan ? "?" : q.location.features.names.joined(separator: ",")]
                if t.backend != nil { row.append(t.memory.map.hostAddress(of: q.location.descriptors).map { Hex.string($0) } ?? "-") }
                if scan { row.append(list.scanned[q.location.descriptors]?.staleWord ?? "unknown") }
                return row
            })
        }
        if !loaded.notes.isEmpty {
            if !queues.isEmpty { out.write("\n"); out.flush() }
            printTable(["LEFT OUT", "PATH", "WHY (QEMU'S ANSWER)"], loaded.notes.map { [$0.label, $0.path.isEmpty ? "-" : $0.path, $0.reason] })
        }
        try shortfall.exitIfAny()
    }
}

extension QueueList {
    /// The commands' queue list (``QueueList/load(_:progress:)`` of VQCore, which this shadows in
    /// the command line): QMP's list, else a RAM scan's, the scan's progress drawn on standard error
    /// when it is a terminal; exits 2 with one line when neither works.
    static func load(_ t: Target) throws -> QueueList {
        let line = ProgressLine()
        let loaded = Result { () throws(QueueList.LoadError) in try QueueList.load(t, progress: line.scanProgress) }
        line.finish()
        return try Failure.reporting { () throws(QueueList.LoadError) in try loaded.get() }
    }
}

/// The commands' queue list and, from QMP, the devices and queues QEMU's answers left out.
struct NotedQueueList {
    var list: QueueList
    /// What QEMU answered unusably for (``QMPVirtioSource/Note``); empty for a RAM scan's list.
    var notes: [QMPVirtioSource.Note]

    /// Why the queue `selector` names is not in the list, when QEMU's answer for it is the reason:
    /// `QEMU's answer left it out: x-query-virtio-queue-status gives size 0, ...`.
    func whyMissing(_ selector: QueueSelector) -> String? {
        let paths = Set(list.devices.filter { d in
            d.name == selector.device || d.path == selector.device || d.id == selector.device
                || d.pciAddress == selector.device || d.pciAddress.map { "0000:" + $0 } == selector.device
        }.map(\.path))
        let why = notes.filter { n in
            (n.device == selector.device || n.path == selector.device || paths.contains(n.path)) && (n.queue == nil || n.queue == selector.index)
        }
        guard let first = why.first else { return nil }
        return "QEMU's answer left it out: " + first.reason
    }
}

extension QueueList {
    /// ``load(_:)`` with QMP's notes on what QEMU answered unusably for (none for a RAM scan).
    static func loadNoting(_ t: Target) throws -> NotedQueueList {
        guard t.qmp != nil else { return NotedQueueList(list: try load(t), notes: []) }
        let inventory = try Failure.reporting { () throws(QueueList.LoadError) in
            do throws(TargetError) { return try t.virtioInventory() } catch { throw .target(error) }
        }
        return NotedQueueList(list: QueueList(source: .qmp, devices: inventory.devices), notes: inventory.notes)
    }
}

/// What a command could not show of a target's queues, said in one line on standard error: the
/// queues whose rings could not be read, and those QEMU's answers left out.
struct QueueShortfall {
    /// What of an unreadable queue could not be read (`rings`, `indexes`).
    var part = "rings"
    /// Queues whose rings could not be read, each with why.
    var unreadable: [(queue: String, error: String)] = []
    /// Devices and queues left out because of QEMU's answers.
    var leftOut: [QMPVirtioSource.Note] = []

    /// The most queues a line names; the rest are counted.
    static let namedAtMost = 4

    /// The line (without `vqscope: `), nil when nothing is missing:
    /// `could not read the rings of 70 queues (virtio-blk:0, ... and 66 more): virtio-blk:0: ...`.
    var line: String? {
        var parts: [String] = []
        if let first = unreadable.first {
            let which = unreadable.count == 1 ? first.queue : "\(unreadable.count) queues (\(Self.names(unreadable.map(\.queue))))"
            parts.append("could not read the \(part) of \(which): " + (unreadable.count == 1 ? "" : "\(first.queue): ") + first.error)
        }
        if let first = leftOut.first {
            let queues = leftOut.filter { $0.queue != nil }.count, devices = leftOut.count - queues
            let counted = [(devices, "device"), (queues, "queue")].filter { $0.0 > 0 }.map { "\($0.0) \($0.1)\($0.0 == 1 ? "" : "s")" }
            let which = leftOut.count == 1 ? first.label : "\(counted.joined(separator: " and ")) (\(Self.names(leftOut.map(\.label))))"
            let others = Set(leftOut.map(\.reason)).count - 1
            parts.append("left out \(which) because of QEMU's answer\(leftOut.count == 1 ? "" : "s"): "
                         + (leftOut.count == 1 ? "" : "\(first.label): ") + first.reason
                         + (others > 0 ? " (and \(others) other reason\(others == 1 ? "" : "s"))" : ""))
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// Prints ``line`` and exits 1 (``Failure/partial``) when something is missing.
    func exitIfAny() throws {
        guard let line else { return }
        Output.standardOutput.flush()
        Failure.printError(line)
        throw ExitCode(Failure.partial)
    }

    /// `a, b, c, d and 3 more`.
    static func names(_ labels: [String]) -> String {
        guard labels.count > namedAtMost else { return labels.joined(separator: ", ") }
        return labels.prefix(namedAtMost).joined(separator: ", ") + " and \(labels.count - namedAtMost) more"
    }
}

extension QMPVirtioSource.Note {
    /// The note's entry in `--json` output's `left_out`.
    var json: JSON {
        .object([("device", .string(device)), ("path", .string(path.isEmpty ? nil : path)),
                 ("index", queue.map { .int(Int64($0)) } ?? .null), ("reason", .string(reason))])
    }
}
