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
            the used index unmoved for --threshold), starved (a queue the device fills with \
            nothing posted), broken (the ring is wrong). With QMP, QEMU's indexes are read again \
            at the end: whether the device fetched what is in flight. Also says whether the next \
            kick and the next interrupt will fire. Without QMP (an image, --no-qmp) the queues \
            are the split rings a RAM scan finds, named by its guesses (see `vqscope queues`).
            Ages are lower bounds: since vqscope first saw the chain, in this run or an earlier \
            diagnose run of the same QEMU process (kept for 10 minutes in \
            $XDG_RUNTIME_DIR/vqscope-UID or /tmp/vqscope-UID; --no-history does without). An \
            image is one instant: no ages, and requests in flight are busy.
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

    /// Milliseconds between samples.
    static let sampleInterval: Double = 100

    func validate() throws {
        if let queue, QueueSelector(queue) == nil { throw ValidationError("--queue: '\(queue)' is not DEVICE:INDEX") }
        guard seconds >= 0, seconds <= 3600 else { throw ValidationError("--seconds must be 0 to 3600") }
        guard threshold > 0, threshold <= 3_600_000 else { throw ValidationError("--threshold must be 1 to 3600000 ms") }
    }

    func run() throws {
        let t = try target.open()
        var leftOut: [QMPVirtioSource.Note] = []
        let queues = try DiagnosedQueue.discover(in: t, selector: queue.flatMap(QueueSelector.init), leftOut: &leftOut)
        let limit = threshold / 1000
        var results = [QueueResult](repeating: QueueResult(), count: queues.count)
        var samples = 0
        var events: DiagnoseEvents?
        // What each queue's addresses are (`gpa`, or `iova` behind an IOMMU).
        for (i, q) in queues.enumerated() { results[i].addressing = q.addressing(in: t) }

        if t.process == nil {
            // One instant: the ring's shape only.
            for (i, q) in queues.enumerated() {
                do throws(MemoryError) {
                    let snapshot = try q.snapshot(in: t)
                    results[i].diagnosis = QueueHealthTracker.judgeInstant(snapshot, queue: q.queue, role: q.role)
                } catch {
                    results[i].error = "\(error)"
                }
            }
            samples = 1
        } else {
            events = try eventOptions.start(t, queues: queues.map(\.queue)).map { DiagnoseEvents(session: $0, queues: queues.count) }
            var history = noHistory ? nil : t.process.flatMap { DiagnoseHistory(pid: $0.pid) }
            let begin = MonotonicClock.now()
            var trackers = queues.map { q in
                QueueHealthTracker(queue: q.queue, threshold: limit, role: q.role,
                                   memory: history?.memory(for: q.queue.location, now: begin) ?? .init())
            }
            func sample(final: Bool) throws {
                var broken: [String: Bool] = [:]
                // The devices' IOMMU mappings, walked again once a sample.
                t.refreshRings()
                for (i, q) in queues.enumerated() where results[i].error == nil {
                    var state: DeviceQueueState?
                    var deviceBroken = false
                    if final, let qmp = t.qmp {
                        state = try? QMPQueueStatus.deviceState(client: qmp, queue: q.queue)
                        if broken[q.queue.path] == nil { broken[q.queue.path] = (try? QMPQueueStatus.isBroken(client: qmp, path: q.queue.path)) ?? false }
                        deviceBroken = broken[q.queue.path] ?? false
                    }
                    do throws(MemoryError) {
                        let snapshot = try q.snapshot(in: t, hints: state)
                        results[i].diagnosis = trackers[i].observe(snapshot, deviceState: state, deviceBroken: deviceBroken,
                                                                   at: MonotonicClock.now())
                        if final { events?.facts[i] = EventDiagnosis.RingFacts(snapshot: snapshot, deviceState: state) }
                    } catch {
                        if case .processGone = error {
                            Failure.printError("\(error)")
                            throw ExitCode(Failure.unusable)
                        }
                        results[i].error = "\(error)"
                    }
                }
                samples += 1
            }
            while true {
                try events?.drain()
                try sample(final: false)
                let elapsed = MonotonicClock.now() - begin
                if elapsed >= seconds { break }
                MonotonicClock.sleep(seconds: min(Self.sampleInterval, (seconds - elapsed) * 1000) / 1000)
            }
            try events?.drain()
            try sample(final: true)
            if history != nil {
                for (i, q) in queues.enumerated() where results[i].error == nil { history!.set(trackers[i].memory, for: q.queue.location) }
                history!.save(now: MonotonicClock.now())
            }
        }

        if json {
            printJSON(.object([
                ("queues", .array(zip(queues, results).enumerated().map { k, qr in
                    let entry = qr.0.json(qr.1)
                    guard let events, case .object(let fields) = entry else { return entry }
                    return .object(fields + [("events", events.json(k, threshold: limit))])
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
                for f in events?.findings(k, threshold: limit) ?? [] { Output.standardOutput.write("\(q.queue.label): \(f.message)\n") }
            }
        }
        // The table shows each unreadable queue's reason; one line on standard error says which.
        let unreadable = zip(queues, results).compactMap { q, r in r.error.map { (queue: q.queue.label, error: $0) } }
        try QueueShortfall(part: "rings", unreadable: unreadable, leftOut: leftOut).exitIfAny()
    }
}

/// A queue to diagnose: the queue and what it carries.
struct DiagnosedQueue {
    let queue: Virtqueue
    let role: QueueRole
    /// The list the queue came from (what ``Target/ringMemory(for:in:)`` needs).
    var list: QueueList?

    /// `gpa` or `iova`: what the queue's addresses are (`unknown` for a scan's ring on a machine
    /// whose IOMMU translates DMA).
    func addressing(in target: Target) -> String {
        guard let list else { return "gpa" }
        if let ring = try? target.ringMemory(for: queue, in: list) { return ring.addressing.name }
        guard target.addressing(of: queue, in: list).isIOVA else { return "gpa" }
        return list.source == .scan ? "unknown" : "iova"
    }

    /// A snapshot of the ring read through the memory its device reaches it by (its view through
    /// the IOMMU when its addresses are IOVAs, walked again when the read names an IOVA the walk had
    /// not seen mapped). Throws the one line that says why IOVAs cannot be translated
    /// (`MemoryError.untranslated`): such a queue is unreadable, never broken.
    func snapshot(in target: Target, hints: DeviceQueueState? = nil) throws(MemoryError) -> RingSnapshot {
        guard let list else { return try snapshot(memory: target.memory, hints: hints) }
        return try target.readRing(queue, in: list, unmapped: \.namesUnmappedIOVA) { ring throws(MemoryError) in
            try snapshot(memory: ring.memory, hints: hints)
        }
    }

    /// The queues of `target` (all, or the one `selector` names): QMP's, else the split rings a RAM
    /// scan finds (``QueueList``; exits 2 with one line when neither works). `leftOut` gets the
    /// devices and queues QEMU's answers left out (all of them: none when `selector` names one).
    static func discover(in target: Target, selector: QueueSelector?, leftOut: inout [QMPVirtioSource.Note]) throws -> [DiagnosedQueue] {
        let loaded = try QueueList.loadNoting(target)
        let list = loaded.list
        var queues: [DiagnosedQueue] = []
        for device in list.devices {
            for q in device.queues {
                let role = list.source == .qmp ? QueueRole(device: device, queue: q) : QueueRole(guess: device.name)
                queues.append(DiagnosedQueue(queue: q, role: role, list: list))
            }
        }
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

    /// A consistent snapshot of the queue's ring; QEMU's indexes, when given, are a packed ring's
    /// position hints.
    func snapshot(memory: GuestMemory, hints: DeviceQueueState? = nil) throws(MemoryError) -> RingSnapshot {
        try RingSnapshot.read(memory: memory, location: queue.location, hints: hints)
    }
}

/// One queue's outcome: a diagnosis, or why its ring could not be read.
struct QueueResult {
    var diagnosis: QueueDiagnosis?
    var error: String?
    /// `gpa` or `iova`.
    var addressing = "gpa"
}

extension DiagnosedQueue {
    /// The queue's entry of `diagnose --json`.
    func json(_ result: QueueResult) -> JSON {
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
