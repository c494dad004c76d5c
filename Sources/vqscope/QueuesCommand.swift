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

/// The virtqueues of a target and where the list came from: QEMU's own (QMP), or, without QMP, the
/// split rings a RAM scan finds, grouped into one pseudo-device per guess (`virtio-blk`,
/// `virtio-net-rx`..., `unknown` when the contents say nothing clear) with queues numbered in
/// guest-physical order, so that `--queue virtio-blk:0` names the first ring guessed virtio-blk.
struct QueueList {
    enum Source: String { case qmp, scan }

    var source: Source
    var devices: [VirtioDevice]
    /// Scanned queues' evidence, by descriptor table address.
    var scanned: [GuestPhysicalAddress: ScannedRing] = [:]
    /// Why there was no QMP (for a scan).
    var note: String?

    /// Every queue, device by device.
    var queues: [Virtqueue] { devices.flatMap(\.queues) }

    /// QMP's list when the target has a QMP connection, else a RAM scan's (exit 2 with one line if neither works).
    static func load(_ t: Target) throws -> QueueList {
        if t.qmp != nil {
            return QueueList(source: .qmp, devices: try Failure.reporting { () throws(TargetError) in try t.virtioDevices() })
        }
        let result = try Failure.reporting { () throws in try RingScanner.scan(t) }
        let note = t.imagePath != nil ? "an image has no QMP" : t.notes.first ?? "--no-qmp"
        return scanned(result.rings, note: note)
    }

    /// The list for scanned rings: one pseudo-device per guess, in order of first appearance.
    static func scanned(_ rings: [ScannedRing], note: String?) -> QueueList {
        var devices: [VirtioDevice] = []
        var byDescriptor: [GuestPhysicalAddress: ScannedRing] = [:]
        for ring in rings {
            let name = ring.deviceGuess ?? "unknown"
            if !devices.contains(where: { $0.name == name }) {
                devices.append(VirtioDevice(name: name, path: "", deviceID: 0, features: []))
            }
            let d = devices.firstIndex { $0.name == name }!
            devices[d].queues.append(Virtqueue(device: name, path: "", index: devices[d].queues.count, location: ring.location))
            byDescriptor[ring.location.descriptors] = ring
        }
        return QueueList(source: .scan, devices: devices, scanned: byDescriptor, note: note)
    }

    /// The device a queue belongs to.
    func device(of q: Virtqueue) -> VirtioDevice? {
        source == .qmp ? devices.first { $0.path == q.path } : devices.first { $0.name == q.device }
    }

    /// The QOM path (QMP only; nil for scanned queues).
    func path(of q: Virtqueue) -> String? { q.path.isEmpty ? nil : q.path }

    /// How payloads of `q` are decoded: the decoder's device name, queue index and queue count. A
    /// scan's guess names the queue's role (`virtio-net-rx`), which maps onto the device's queue
    /// numbering; rings of no known role are not decoded.
    func payloadRole(of q: Virtqueue) -> PayloadRole? {
        guard source == .scan else {
            return PayloadRole(device: q.device, queueIndex: q.index, queueCount: device(of: q)?.queues.count ?? 1)
        }
        switch q.device {
        case "virtio-net-rx": return PayloadRole(device: "virtio-net", queueIndex: 0, queueCount: 2)
        case "virtio-net-tx": return PayloadRole(device: "virtio-net", queueIndex: 1, queueCount: 2)
        case "virtio-blk", "virtio-rng", "virtio-console":
            return PayloadRole(device: q.device, queueIndex: q.index, queueCount: device(of: q)?.queues.count ?? 1)
        default: return nil
        }
    }
}

/// What ``PayloadDecoder`` needs to know of a queue.
struct PayloadRole {
    var device: String
    var queueIndex: Int
    var queueCount: Int
}
