import ArgumentParser
import Glibc
import VQCore

struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Say why virtqueues are stuck: idle, busy, waiting, stalled, starved or broken, with the reason.",
        discussion: """
            Samples every queue's ring (consistent snapshots) over --seconds and judges each: \
            idle (nothing in flight), busy (requests in flight and completing), waiting (only \
            buffers posted for the device to fill, e.g. net rx), stalled (requests in flight and \
            the used index unmoved for --threshold), starved (a queue the driver keeps filled, \
            e.g. net rx, with nothing posted; virtio-rng's driver posts only when asked, so its \
            empty queue is idle), broken (the ring is wrong). With QMP, QEMU's indexes are read again \
            at the end: whether the device fetched what is in flight. Also says whether the next \
            kick and the next interrupt will fire. Without QMP (an image, --no-qmp) the queues \
            are the split rings a RAM scan finds, named by its guesses (see `vqscope queues`).
            Ages are lower bounds: since vqscope first saw the chain, in this run or an earlier \
            diagnose run of the same QEMU process (kept for 10 minutes in \
            $XDG_RUNTIME_DIR/vqscope-UID or /tmp/vqscope-UID; --no-history does without). An \
            image is one instant: no ages, and requests in flight are busy. Ctrl-C ends the \
            sampling early and judges what was seen.
            """)

    @OptionGroup var target: TargetOptions
    @Option(name: .long, help: ArgumentHelp("Diagnose one queue (DEVICE:INDEX; DEVICE: name, id, PCI address or QOM path). Default: every queue.", valueName: "queue"))
    var queue: String?
    @Option(name: .long, help: ArgumentHelp("Seconds to sample the rings (live targets); more than --threshold to see a stall in one run.", valueName: "seconds"))
    var seconds: Double = 1.5
    @Option(name: .long, help: ArgumentHelp("Milliseconds without progress after which requests in flight are stalled and an empty receive queue starved.", valueName: "ms"))
    var threshold: Double = 1000
    @Flag(name: .customLong("no-history"), help: "Neither continue nor save the watch of earlier diagnose runs.")
    var noHistory = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var eventOptions: EventOptions

    func validate() throws {
        if let queue, QueueSelector(queue) == nil { throw ValidationError("--queue: '\(queue)' is not DEVICE:INDEX") }
        guard seconds >= 0, seconds <= 3600 else { throw ValidationError("--seconds must be 0 to 3600") }
        guard threshold > 0, threshold <= 3_600_000 else { throw ValidationError("--threshold must be 1 to 3600000 ms") }
    }

    func run() throws {
        let t = try target.open()
        var leftOut: [QMPVirtioSource.Note] = []
        let queues = try DiagnosedQueue.discover(in: t, selector: queue.flatMap(QueueSelector.init), leftOut: &leftOut)
        let history = noHistory || t.process == nil ? nil : t.process.flatMap { DiagnoseHistory(pid: $0.pid) }
        let now = MonotonicClock.now()
        let session = DiagnoseSession(target: t, queues: queues, threshold: threshold / 1000,
                                      remembered: { history?.memory(for: $0.location, now: now) }, control: .signals())
        let started = t.process == nil ? nil : try eventOptions.start(t, queues: queues.map(\.queue)).map { DiagnoseEvents(session: $0, queues: queues.count) }
        session.beforeSample = { started?.drain() }
        do throws(MemoryError) { try session.run(seconds: seconds) } catch {
            Failure.printError("\(error)")
            throw ExitCode(Failure.unusable)
        }
        if var history {
            for (queue, memory) in session.memories { history.set(memory, for: queue.location) }
            history.save(now: MonotonicClock.now())
        }
        let results = session.outcomes, samples = session.samples
        started?.facts = session.finalFacts
        // Probes that failed during the run: their line, and the ring-based judgement alone.
        let failedEvents = started?.failure
        if let failedEvents { Failure.printError("events: poll from here (the eBPF probes failed: \(failedEvents))") }
        let events = failedEvents == nil ? started : nil

        if json {
            printJSON(.object([
                ("queues", .array(zip(queues, results).enumerated().map { k, qr in
                    let entry = qr.0.json(qr.1)
                    guard let events, case .object(let fields) = entry else { return entry }
                    return .object(fields + [("events", events.json(k, threshold: threshold / 1000))])
                })),
                ("events", .string(events == nil ? "poll" : "bpf")),
                ("live", .bool(t.process != nil)), ("samples", .int(Int64(samples))),
                ("seconds", .double(t.process == nil ? 0 : seconds)), ("threshold_ms", .double(threshold)),
                ("left_out", .array(leftOut.map(\.json))),
            ]))
        } else {
            let span = t.process == nil ? "at one instant" : "over \(seconds) s (\(samples) samples)"
            Output.standardOutput.write("\(queues.count) queue\(queues.count == 1 ? "" : "s") of \(t.title) \(span), threshold \(Int(threshold)) ms\n")
            printTable(["QUEUE", "ROLE", "HEALTH", "WHY"], zip(queues, results).map { q, r in
                [q.queue.label, q.role.name, r.diagnosis?.health.rawValue ?? "unreadable", r.diagnosis?.summary ?? r.error ?? ""]
            })
            // What QEMU's own events say, one line a finding.
            for (k, q) in queues.enumerated() {
                for f in events?.findings(k, threshold: threshold / 1000) ?? [] { Output.standardOutput.write("\(q.queue.label): \(f.message)\n") }
            }
        }
        // The table shows each unreadable queue's reason; one line on standard error says which.
        if failedEvents != nil, eventOptions.events == .bpf { throw ExitCode(Failure.partial) }
        let unreadable = zip(queues, results).compactMap { q, r in r.error.map { (queue: q.queue.label, error: $0) } }
        try QueueShortfall(part: "rings", unreadable: unreadable, leftOut: leftOut).exitIfAny()
    }
}

extension DiagnosedQueue {
    /// The queues of `target` (all, or the one `selector` names): QMP's, else the split rings a RAM
    /// scan finds (``QueueList``; exits 2 with one line when neither works). `leftOut` gets the
    /// devices and queues QEMU's answers left out (all of them: none when `selector` names one).
    static func discover(in target: Target, selector: QueueSelector?, leftOut: inout [QMPVirtioSource.Note]) throws -> [DiagnosedQueue] {
        let loaded = try QueueList.loadNoting(target)
        let list = loaded.list
        var queues = DiagnosedQueue.all(in: list)
        if let selector {
            let chosen = try Failure.reporting { () throws(TargetError) in
                do throws(TargetError) { return try selector.select(from: list.devices) } catch {
                    guard case .usage(let message) = error, let why = loaded.whyMissing(selector) else { throw error }
                    throw .usage("\(message): \(why)")
                }
            }
            queues = queues.filter { $0.queue.id == chosen.id }
        } else {
            leftOut = loaded.notes
        }
        return queues
    }
}

extension DiagnosedQueue {
    /// The queue's entry of `diagnose --json`.
    func json(_ result: DiagnoseSession.Outcome) -> JSON {
        var fields: [(String, JSON)] = [
            ("device", .string(queue.device)), ("label", .string(queue.label)), ("path", .string(queue.path)),
            ("index", .int(Int64(queue.index))), ("layout", .string(queue.location.layout.rawValue)), ("role", .string(role.name)), ("flow", .string(role.flow.rawValue)),
            ("backend", queue.origin == .scan ? .null : .string(queue.backend.rawValue)),
            ("addressing", .string(result.addressing)),
        ]
        guard let d = result.diagnosis else {
            return .object(fields + [("health", .null), ("error", .string(result.error ?? "not read"))])
        }
        func milliseconds(_ seconds: Double?) -> JSON { seconds.map { .int(Int64(($0 * 1000).rounded())) } ?? .null }
        func outlook(_ o: NotificationState.Outlook) -> JSON {
            .object([("fires", .string(o.firing.word)), ("after", o.after.map { .int(Int64($0)) } ?? .null),
                     ("by", .string(o.mechanism.rawValue)), ("reason", .string(o.reason))])
        }
        let split = queue.location.layout == .split
        fields += [
            ("health", .string(d.health.rawValue)), ("inflight", .int(Int64(d.inFlight))), ("requests", .int(Int64(d.requests))),
            ("oldest", d.oldest.map { o in
                .object([("head", .uint(UInt64(o.head))), ("id", .uint(o.bufferID.map(UInt64.init))),
                         ("age_ms", milliseconds(o.age)), ("request", .bool(o.isRequest))])
            } ?? .null),
            ("used_unmoved_ms", milliseconds(d.usedUnmovedFor)), ("recently_used", .int(Int64(d.recentlyUsed))),
            ("device_fetched", d.deviceFetched.map { .int(Int64($0)) } ?? .null),
            ("device_inuse", d.deviceInUse.map { .int(Int64($0)) } ?? .null),
            ("notify", .object([("kick", outlook(d.notifications.kick)), ("interrupt", outlook(d.notifications.interrupt)),
                                ("neither_wakes", .bool(d.notifications.neitherSideWakes))])),
            ("avail_idx", split ? .uint(UInt64(d.driverProgress)) : .null),
            ("used_idx", split ? .uint(UInt64(d.deviceProgress)) : .null),
            ("problems", .array(d.problems.map { .object([("code", .string($0.code)), ("message", .string($0.message))]) })),
            ("observed_ms", milliseconds(d.observedFor)),
            ("reasons", .array(d.reasons.map { .string($0) })),
        ]
        return .object(fields)
    }
}
