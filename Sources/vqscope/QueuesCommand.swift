import ArgumentParser
import VQCore

struct QueuesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues", abstract: "List the virtqueues of a guest: device, layout, size, ring addresses and indexes.")

    @OptionGroup var target: TargetOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let t = try target.open()
        let devices = try Failure.reporting { () throws(TargetError) in try t.virtioDevices() }
        let queues = devices.flatMap(\.queues)
        let indexes = queues.map { q in (try? RingIndexes.read(q.location, from: t.memory)) ?? RingIndexes(available: nil, used: nil) }
        if json {
            printJSON(.object([("queues", .array(zip(queues, indexes).map { q, i in
                let d = devices.first { $0.path == q.path }
                return .object([
                    ("device", .string(q.device)), ("path", .string(q.path)), ("pci", .string(d?.pciAddress)),
                    ("index", .int(Int64(q.index))), ("layout", .string(q.location.layout.rawValue)),
                    ("num", .uint(UInt64(q.location.size))),
                    ("desc", .uint(q.location.descriptors.rawValue)), ("avail", .uint(q.location.driverArea.rawValue)),
                    ("used", .uint(q.location.deviceArea.rawValue)),
                    ("avail_idx", .uint(i.available.map(UInt64.init))), ("used_idx", .uint(i.used.map(UInt64.init))),
                    ("features", .array(q.location.features.names.map { .string($0) })),
                ])
            }))]))
            return
        }
        if queues.isEmpty {
            Output.standardOutput.write("no active virtqueues in \(t.title)\n")
            Output.standardOutput.flush()
            return
        }
        printTable(["DEVICE", "PCI", "Q", "LAYOUT", "NUM", "DESC", "AVAIL/DRIVER", "USED/DEVICE", "AVAIL-IDX", "USED-IDX", "FEATURES"],
                   zip(queues, indexes).map { q, i in
            let d = devices.first { $0.path == q.path }
            return [q.device, d?.pciAddress ?? "-", String(q.index), q.location.layout.rawValue, String(q.location.size),
                    Hex.string(q.location.descriptors.rawValue), Hex.string(q.location.driverArea.rawValue),
                    Hex.string(q.location.deviceArea.rawValue), i.available.map(String.init) ?? "-",
                    i.used.map(String.init) ?? "-", q.location.features.names.joined(separator: ",")]
        })
    }
}
