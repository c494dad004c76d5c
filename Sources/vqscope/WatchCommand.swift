import ArgumentParser
import Glibc
import VQCore

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow virtqueues live: one line per new available chain, completion, lapped ring, stall or recovery.",
        discussion: """
            Polls every watched queue in one batched read per interval: split rings' indexes, packed \
            rings' whole descriptor rings (a packed ring keeps no indexes; vqscope follows both sides' \
            positions and wrap counters). No entry is missed unless a ring moves by more than its size \
            between two polls, which is reported as a "lapped" event with the number of entries (packed: \
            slots) missed. A poll's events come in ring order as far as it can tell: a used entry after \
            the avail entry at its position when both are new, before it otherwise (a head completed and \
            made available again in one poll prints used, then avail). A queue whose requests wait longer than --threshold with its used index unmoved \
            gets a "stall" event (with the oldest request and why, as `diagnose` says it), and a "recover" \
            event when it moves again; a ring is read whole for this only while something is pending \
            and its used index has not moved for half the threshold. \
            Each avail and used event shows what its chain carries (the payload `dump` shows: \
            a 9P message, an input event...) where the bytes read are its own, nothing otherwise. \
            Stops after --count events, --seconds, Ctrl-C, or when the target exits. \
            Without QMP the queues are the split rings a RAM scan finds (see `vqscope queues`). An image \
            does not change: watch prints the chains in flight when it was written ("inflight" events, \
            with the payload summary dump shows), once, and ends.
            """)

    @OptionGroup var target: TargetOptions
    @Option(name: .long, help: ArgumentHelp("Watch one queue (DEVICE:INDEX; DEVICE: name, id, PCI address or QOM path). Default: every queue.", valueName: "queue"))
    var queue: String?
    @Option(name: .long, help: ArgumentHelp("Milliseconds between polls.", valueName: "ms")) var interval: Double = 1
    @Option(name: .long, help: "Stop after this many events.") var count: Int?
    @Option(name: .long, help: "Stop after this many seconds.") var seconds: Double?
    @Option(name: .long, help: ArgumentHelp("Milliseconds without progress after which requests in flight are stalled (stall and recover events).", valueName: "ms"))
    var threshold: Double = 1000
    @Flag(help: "Print one JSON object a line.") var json = false
    @OptionGroup var eventOptions: EventOptions

    func validate() throws {
        if let queue, QueueSelector(queue) == nil { throw ValidationError("--queue: '\(queue)' is not DEVICE:INDEX") }
        guard interval >= 0.05, interval <= 60_000 else { throw ValidationError("--interval must be 0.05 to 60000 ms") }
        guard threshold > 0, threshold <= 3_600_000 else { throw ValidationError("--threshold must be 1 to 3600000 ms") }
    }

    func run() throws {
        let t = try target.open()
        let loaded = try QueueList.loadNoting(t)
        let list = loaded.list
        var queues: [Virtqueue]
        if let queue {
            queues = [try Failure.reporting { () throws(TargetError) in try QueueSelector(queue)!.select(from: list.devices) }]
        } else {
            queues = list.queues
        }
        // A ring that cannot be followed is named and left out; the rest are watched.
        for q in queues { if let problem = q.location.sizeProblem { Failure.printError("\(q.label) \(problem): not watched") } }
        queues.removeAll { $0.location.sizeProblem != nil }
        // Each ring through the memory its device reaches it by; a queue behind an IOMMU vqscope
        // cannot translate is named in one line and not watched (its IOVAs are never read as guest-physical).
        var memories: [GuestMemory] = []
        var untranslated: [(queue: String, error: String)] = []
        queues.removeAll { q in
            do throws(IOMMUTranslationError) {
                memories.append(try t.ringMemory(for: q, in: list).memory)
                return false
            } catch {
                untranslated.append((q.label, "\(error)"))
                return true
            }
        }
        if !untranslated.isEmpty {
            let which = untranslated.count == 1 ? untranslated[0].queue
                : "\(untranslated.count) queues (\(QueueShortfall.names(untranslated.map(\.queue))))"
            Failure.printError("not watched: \(which): \(untranslated[0].error)")
        }
        guard !queues.isEmpty else {
            // Every queue named already: the line above said why none is watched.
            if !untranslated.isEmpty { throw ExitCode(Failure.partial) }
            // When QEMU's answers are why there is none, the line says so.
            let why = queue == nil ? QueueShortfall(leftOut: loaded.notes).line.map { "; " + $0 } ?? "" : ""
            Failure.printError(list.source == .scan ? "no split ring found by a RAM scan of \(t.title): nothing to watch"
                                                    : "\(t.title) has no active virtqueue: nothing to watch\(why)")
            throw ExitCode(Failure.unusable)
        }
        if t.imagePath != nil {
            try printInFlight(queues, list: list, memory: t.memory, title: t.title)
            return
        }
        let probes = try eventOptions.start(t, queues: queues)
        let control = SessionControl.signals()
        let session = try Failure.reporting { () throws(TargetError) in
            try WatchSession(target: t, list: list, queues: queues, memories: memories, threshold: threshold / 1000, control: control)
        }

        let out = Output.standardOutput
        var emitted = 0
        var probeFailure: String?
        let start = MonotonicClock.now()
        if !json {
            let found = list.source == .scan ? " (found by a RAM scan: split rings only)" : ""
            out.write("watching \(queues.count) queue\(queues.count == 1 ? "" : "s")\(found) of \(t.title); Ctrl-C stops\n")
            out.flush()
        }
        do {
            try session.run(interval: interval / 1000, seconds: seconds) { reports in
                for r in reports {
                    if json {
                        out.write(Self.json(r).text + "\n")
                    } else {
                        out.write("\(String(format6: r.elapsed)) \(r.queue.label) \(Self.text(r.happening))\(r.payload.map { "  " + $0.summary } ?? "")\n")
                    }
                    emitted += 1
                    if let count, emitted >= count { return false }
                }
                // QEMU's own events (the eBPF probes), beside the ring's.
                var lines: [String] = []
                if let probes {
                    do throws(ProbeSourceError) { lines = try ProbeLines.drain(probes, queues: queues, json: json, monotonicStart: start) } catch {
                        probeFailure = "\(error)"
                        return false
                    }
                }
                for line in lines {
                    out.write(line + "\n")
                    emitted += 1
                    if let count, emitted >= count { return false }
                }
                if !reports.isEmpty || !lines.isEmpty { out.flush() }
                return true
            }
        } catch {
            out.flush()
            Failure.printError("\(error)")
            throw ExitCode(Failure.partial)
        }
        out.flush()
        if let probeFailure {
            Failure.printError("events: \(probeFailure)")
            throw ExitCode(Failure.partial)
        }
    }

    /// One report as a JSON line's object.
    static func json(_ r: WatchSession.Report) -> JSON {
        let time = JSON.double((r.wall * 1e6).rounded() / 1e6)
        switch r.happening {
        case .ring(let event): return json(event, queue: r.queue, time: time, payload: r.payload)
        case .health(let change): return json(change, queue: r.queue, time: time)
        }
    }

    /// One report for people, after the time and the queue.
    static func text(_ happening: WatchSession.Happening) -> String {
        switch happening {
        case .ring(let event): return text(event)
        case .health(let change): return text(change)
        }
    }

    /// A stall starting or ending as a JSON line's object.
    static func json(_ change: StallDetector.Change, queue q: Virtqueue, time: JSON) -> JSON {
        var fields: [(String, JSON)] = [("time", time), ("queue", .string(q.label)), ("device", .string(q.device)), ("index", .int(Int64(q.index)))]
        func milliseconds(_ seconds: Double?) -> JSON { seconds.map { .int(Int64(($0 * 1000).rounded())) } ?? .null }
        switch change {
        case .stalled(let d):
            fields += [
                ("event", .string("stall")), ("inflight", .int(Int64(d.inFlight))), ("requests", .int(Int64(d.requests))),
                ("oldest", d.oldest.map { o in
                    .object([("head", .uint(UInt64(o.head))), ("id", .uint(o.bufferID.map(UInt64.init))), ("age_ms", milliseconds(o.age))])
                } ?? .null),
                ("used_unmoved_ms", milliseconds(d.usedUnmovedFor)),
                ("device_fetched", d.deviceFetched.map { .int(Int64($0)) } ?? .null),
                ("reasons", .array(d.reasons.map { .string($0) })),
            ]
        case .recovered(let after):
            fields += [("event", .string("recover")), ("after_ms", milliseconds(after))]
        }
        return .object(fields)
    }

    /// A stall starting or ending for people, after the time and the queue.
    static func text(_ change: StallDetector.Change) -> String {
        switch change {
        case .stalled(let d): return "STALL \(change.description)" + (d.reasons.count > 1 ? ": \(d.reasons.dropFirst().joined(separator: "; "))" : "")
        case .recovered: return change.description
        }
    }

    /// One event as a JSON line's object.
    static func json(_ event: RingEvent, queue q: Virtqueue, time: JSON, payload: DevicePayload? = nil) -> JSON {
        var fields: [(String, JSON)] = [("time", time), ("queue", .string(q.label)), ("device", .string(q.device)), ("index", .int(Int64(q.index)))]
        switch event.kind {
        case .available(let head):
            fields += [("event", .string("avail")), ("idx", .uint(UInt64(event.index))), ("head", .uint(UInt64(head)))]
        case .used(let id, let length):
            fields += [("event", .string("used")), ("idx", .uint(UInt64(event.index))), ("id", .uint(UInt64(id))), ("len", .uint(UInt64(length)))]
        case .lapped(let ring, let missed):
            fields += [("event", .string("lapped")), ("ring", .string(ring.rawValue)), ("idx", .uint(UInt64(event.index))), ("missed", .int(Int64(missed)))]
        }
        if let wrap = event.wrap { fields.append(("wrap", .bool(wrap))) }
        if case .lapped = event.kind {} else { fields.append(("payload", .string(payload?.summary))) }
        return .object(fields)
    }

    /// One event for people, after the time and the queue.
    static func text(_ event: RingEvent) -> String {
        guard let wrap = event.wrap else {
            switch event.kind {
            case .available(let head): return "avail #\(event.index) head \(head)"
            case .used(let id, let length): return "used  #\(event.index) id \(id) len \(length)"
            case .lapped(let ring, let missed): return "LAPPED \(ring) ring at #\(event.index): \(missed) entries missed"
            }
        }
        let slot = "slot \(event.index) (wrap \(wrap ? 1 : 0))"
        switch event.kind {
        case .available(let id): return "avail \(slot) id \(id)"
        case .used(let id, let length): return "used  \(slot) id \(id) len \(length)"
        case .lapped(let ring, let missed): return "LAPPED \(ring) side at \(slot): at least \(missed) slots missed"
        }
    }

    /// An image: the chains in flight when it was written, once, as "inflight" events.
    func printInFlight(_ queues: [Virtqueue], list: QueueList, memory: GuestMemory, title: String) throws {
        let out = Output.standardOutput
        if !json {
            let found = list.source == .scan ? " found by a RAM scan" : ""
            out.write("\(title) does not change: in flight when it was written, in \(queues.count) queue\(queues.count == 1 ? "" : "s")\(found)\n")
        }
        var emitted = 0
        var failed = false
        for q in queues {
            var entries: [(index: UInt16, head: UInt16, wrap: Bool?, chain: Chain?)] = []
            do {
                switch try RingSnapshot.read(memory: memory, location: q.location) {
                case .split(let s):
                    entries = s.inFlight.map { ($0.position, $0.head, nil, $0.chain) }
                case .packed(let p):
                    entries = p.available.map { ($0.slot, $0.bufferID, $0.wrap, $0.chain) }
                }
            } catch {
                out.flush()
                Failure.printError("\(q.label): \(error)")
                failed = true
                continue
            }
            let role = list.payloadRole(of: q)
            for e in entries {
                if let count, emitted >= count { break }
                // The payload summary `dump` shows for the chain.
                let payload = e.chain.flatMap { role?.decode($0, memory: memory) }?.summary
                if json {
                    var fields: [(String, JSON)] = [("time", .null), ("queue", .string(q.label)), ("device", .string(q.device)),
                                                    ("index", .int(Int64(q.index))), ("event", .string("inflight")),
                                                    ("idx", .uint(UInt64(e.index))), ("head", .uint(UInt64(e.head)))]
                    if let wrap = e.wrap { fields.append(("wrap", .bool(wrap))) }
                    fields.append(("payload", .string(payload)))
                    out.write(JSON.object(fields).text + "\n")
                } else if let wrap = e.wrap {
                    out.write("\(q.label) in flight slot \(e.index) (wrap \(wrap ? 1 : 0)) id \(e.head)\(payload.map { "  " + $0 } ?? "")\n")
                } else {
                    out.write("\(q.label) in flight #\(e.index) head \(e.head)\(payload.map { "  " + $0 } ?? "")\n")
                }
                emitted += 1
            }
        }
        out.flush()
        if failed { throw ExitCode(Failure.partial) }
    }
}

extension String {
    /// Six decimal places without Foundation; a negative value (a probe event recorded between the
    /// probes' start and the watch's) keeps its sign: `-0.000042`.
    init(format6 value: Double) {
        let scaled = (value * 1e6).rounded()
        guard scaled.isFinite, abs(scaled) < 1e18 else { self = "\(value)"; return }
        let micros = Int(scaled), magnitude = micros.magnitude
        let frac = String(magnitude % 1_000_000)
        self = (micros < 0 ? "-" : "") + "\(magnitude / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }
}
