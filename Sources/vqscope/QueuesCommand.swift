import ArgumentParser
import VQCore

struct QueuesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues", abstract: "List the virtqueues of a guest: device, layout, size, ring addresses and indexes.",
        discussion: """
            Through QMP when the target has it. Without QMP (an image, --no-qmp, or no QMP socket), \
            the split rings a RAM scan finds are listed instead: the device is the scan's guess from \
            the ring contents, the index counts that guess's rings in address order, and packed rings \
            are not found.
            """)

    @OptionGroup var target: TargetOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let t = try target.open()
        let list = try QueueList.load(t)
        let queues = list.queues
        let indexes = queues.map { q in (try? RingIndexes.read(q.location, from: t.memory)) ?? RingIndexes(available: nil, used: nil) }
        if json {
            printJSON(.object([("source", .string(list.source.rawValue)), ("queues", .array(zip(queues, indexes).map { q, i in
                var fields: [(String, JSON)] = [
                    ("device", .string(q.device)), ("path", .string(list.path(of: q))), ("pci", .string(list.device(of: q)?.pciAddress)),
                    ("index", .int(Int64(q.index))), ("layout", .string(q.location.layout.rawValue)),
                    ("num", .uint(UInt64(q.location.size))),
                    ("desc", .uint(q.location.descriptors.rawValue)), ("avail", .uint(q.location.driverArea.rawValue)),
                    ("used", .uint(q.location.deviceArea.rawValue)),
                    ("avail_idx", .uint(i.available.map(UInt64.init))), ("used_idx", .uint(i.used.map(UInt64.init))),
                    ("features", .array(q.location.features.names.map { .string($0) })),
                ]
                if let ring = list.scanned[q.location.descriptors] { fields.append(("score", .int(Int64(ring.score)))) }
                return .object(fields)
            }))]))
            return
        }
        let out = Output.standardOutput
        if list.source == .scan {
            out.write("found by a RAM scan of \(t.title) (\(list.note ?? "no QMP")): devices are guesses from the ring contents, "
                      + "indexes count each guess's rings in address order; split rings only\n")
        }
        if queues.isEmpty {
            out.write(list.source == .scan ? "no split ring found\n" : "no active virtqueues in \(t.title)\n")
            out.flush()
            return
        }
        out.flush()
        let scan = list.source == .scan
        printTable(["DEVICE", scan ? "SCORE" : "PCI", "Q", "LAYOUT", "NUM", "DESC", "AVAIL/DRIVER", "USED/DEVICE", "AVAIL-IDX", "USED-IDX", "FEATURES"],
                   zip(queues, indexes).map { q, i in
            let second = scan ? list.scanned[q.location.descriptors].map { String($0.score) } : list.device(of: q)?.pciAddress
            return [q.device, second ?? "-", String(q.index), q.location.layout.rawValue, String(q.location.size),
                    Hex.string(q.location.descriptors.rawValue), Hex.string(q.location.driverArea.rawValue),
                    Hex.string(q.location.deviceArea.rawValue), i.available.map(String.init) ?? "-",
                    i.used.map(String.init) ?? "-", scan ? "?" : q.location.features.names.joined(separator: ",")]
        })
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
