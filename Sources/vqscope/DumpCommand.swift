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
            """)

    @OptionGroup var target: TargetOptions
    @Option(name: .long, help: ArgumentHelp("The queue: DEVICE:INDEX (DEVICE: name, id, PCI address or QOM path).", valueName: "queue"))
    var queue: String
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if QueueSelector(queue) == nil { throw ValidationError("--queue: '\(queue)' is not DEVICE:INDEX") }
    }

    func run() throws {
        let t = try target.open()
        let devices = try Failure.reporting { () throws(TargetError) in try t.virtioDevices() }
        let q = try Failure.reporting { () throws(TargetError) in try QueueSelector(queue)!.select(from: devices) }
        let count = devices.first { $0.path == q.path }?.queues.count ?? 1
        let dump: RingDump
        do { dump = try RingDump(queue: q, queueCount: count, memory: t.memory) } catch {
            Failure.printError("\(error)")
            throw ExitCode(Failure.partial)
        }
        if json { printJSON(dump.json) } else { Output.standardOutput.write(dump.text); Output.standardOutput.flush() }
    }
}

/// A decoded queue, as `dump` prints it.
struct RingDump {
    let queue: Virtqueue
    let memory: GuestMemory
    var split: SplitRing.Snapshot?
    var packed: PackedRing.Snapshot?
    var payloads: [UInt16: DevicePayload] = [:]

    init(queue: Virtqueue, queueCount: Int, memory: GuestMemory) throws(MemoryError) {
        self.queue = queue
        self.memory = memory
        switch queue.location.layout {
        case .split:
            let s = try SplitRing.snapshot(memory: memory, location: queue.location)
            split = s
            for f in s.inFlight { if let c = f.chain { payloads[f.head] = decode(c, count: queueCount) } }
        case .packed:
            let hints = queue.deviceState
            let p = try PackedRing.snapshot(memory: memory, location: queue.location,
                                            usedIndex: hints.map { PackedRing.Hint(index: $0.usedIndex) },
                                            lastAvailIndex: hints.map { PackedRing.Hint(index: $0.lastAvailIndex) })
            packed = p
            for a in p.available { payloads[a.slot] = decode(a.chain, count: queueCount) }
        }
    }

    private func decode(_ chain: Chain, count: Int) -> DevicePayload? {
        PayloadDecoder.decode(chain, device: queue.device, queueIndex: queue.index, queueCount: count, memory: memory,
                              features: queue.location.features)
    }

    func chainJSON(_ chain: Chain) -> JSON {
        .array(chain.elements.map { e in
            .object([("addr", .uint(e.address.rawValue)), ("len", .uint(UInt64(e.length))), ("write", .bool(e.isWritable)),
                     ("hva", .uint(memory.map.hostAddress(of: e.address))), ("descriptor", .uint(UInt64(e.index))),
                     ("indirect_table", .uint(e.indirectTable?.rawValue))])
        })
    }

    func problemsJSON(_ problems: [RingProblem]) -> JSON {
        .array(problems.map { .object([("code", .string($0.code)), ("message", .string($0.message))]) })
    }

    var json: JSON {
        let loc = queue.location
        var fields: [(String, JSON)] = [("device", .string(queue.device)), ("path", .string(queue.path)), ("index", .int(Int64(queue.index))),
                                        ("layout", .string(loc.layout.rawValue)), ("num", .uint(UInt64(loc.size))),
                                        ("desc_addr", .uint(loc.descriptors.rawValue)), ("avail_addr", .uint(loc.driverArea.rawValue)),
                                        ("used_addr", .uint(loc.deviceArea.rawValue))]
        if let s = split {
            fields += [
                ("consistent", .bool(s.consistent)), ("attempts", .int(Int64(s.attempts))),
                ("desc", .array(s.descriptors.enumerated().map { i, d in
                    .object([("index", .int(Int64(i))), ("addr", .uint(d.address.rawValue)), ("len", .uint(UInt64(d.length))),
                             ("flags", .uint(UInt64(d.flags.rawValue))), ("next", .uint(UInt64(d.next)))])
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
            fields += [
                ("consistent", .bool(p.consistent)), ("attempts", .int(Int64(p.attempts))),
                ("desc", .array(p.descriptors.enumerated().map { i, d in
                    .object([("index", .int(Int64(i))), ("addr", .uint(d.address.rawValue)), ("len", .uint(UInt64(d.length))),
                             ("id", .uint(UInt64(d.id))), ("flags", .uint(UInt64(d.flags.rawValue))),
                             ("available", .bool(p.states[i].isAvailable))])
                })),
                ("driver_event", .object([("desc", .uint(UInt64(p.driverEvent.rawDescriptor))), ("flags", .uint(UInt64(p.driverEvent.rawFlags)))])),
                ("device_event", .object([("desc", .uint(UInt64(p.deviceEvent.rawDescriptor))), ("flags", .uint(UInt64(p.deviceEvent.rawFlags)))])),
                ("driver_position", .object([("index", .uint(UInt64(p.driver.index))), ("wrap", .bool(p.driver.wrap))])),
                ("device_used_position", .object([("index", .uint(UInt64(p.deviceUsed.index))), ("wrap", .bool(p.deviceUsed.wrap)),
                                                  ("source", .string(p.deviceUsedSource.rawValue))])),
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
        var out = "\(queue.label) (\(queue.path)) \(loc.layout.rawValue) ring, \(loc.size) entries\n"
        out += "  desc \(Hex.string(loc.descriptors.rawValue))  driver \(Hex.string(loc.driverArea.rawValue))  device \(Hex.string(loc.deviceArea.rawValue))  features \(loc.features.names.joined(separator: ","))\n"
        func chainLine(_ c: Chain) -> String {
            c.elements.map { "\($0.isWritable ? "W" : "R") \(Hex.string($0.address.rawValue))+\($0.length)\($0.isFromIndirectTable ? "(i)" : "")" }.joined(separator: " -> ")
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
                out += "    [\(i)] \(Hex.string(d.address.rawValue)) len \(d.length) flags \(d.flags.rawValue) next \(d.next)\n"
            }
            for problem in s.problems { out += "  PROBLEM \(problem.message)\n" }
        }
        if let p = packed {
            out += "  snapshot: \(p.consistent ? "consistent" : "TORN") after \(p.attempts) read\(p.attempts == 1 ? "" : "s")\n"
            out += "  driver at \(p.driver), device used at \(p.deviceUsed) (\(p.deviceUsedSource.rawValue))\n"
            out += "  driver event: \(p.driverEvent.mode.rawValue) \(p.driverEvent.offset)  device event: \(p.deviceEvent.mode.rawValue) \(p.deviceEvent.offset)\n"
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
