import ArgumentParser
import Glibc
import Synchronization
import VQCore

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow split rings live: one line per new available chain, completion, or lapped ring.",
        discussion: """
            Polls every watched queue's indexes in one batched read per interval. No entry is \
            missed unless a ring moves by more than its size between two polls, which is reported \
            as a "lapped" event with the number of entries missed. Stops after --count events, \
            --seconds, Ctrl-C, or when the target exits.
            """)

    @OptionGroup var target: TargetOptions
    @Option(name: .long, help: ArgumentHelp("Watch one queue (DEVICE:INDEX; DEVICE: name, id, PCI address or QOM path). Default: every split queue.", valueName: "queue"))
    var queue: String?
    @Option(name: .long, help: ArgumentHelp("Milliseconds between polls.", valueName: "ms")) var interval: Double = 1
    @Option(name: .long, help: "Stop after this many events.") var count: Int?
    @Option(name: .long, help: "Stop after this many seconds.") var seconds: Double?
    @Flag(help: "Print one JSON object a line.") var json = false

    func validate() throws {
        if let queue, QueueSelector(queue) == nil { throw ValidationError("--queue: '\(queue)' is not DEVICE:INDEX") }
        guard interval >= 0.05, interval <= 60_000 else { throw ValidationError("--interval must be 0.05 to 60000 ms") }
    }

    static let stopRequested = Atomic<Bool>(false)

    func run() throws {
        let t = try target.open()
        let devices = try Failure.reporting { () throws(TargetError) in try t.virtioDevices() }
        var queues: [Virtqueue]
        if let queue {
            queues = [try Failure.reporting { () throws(TargetError) in try QueueSelector(queue)!.select(from: devices) }]
        } else {
            queues = devices.flatMap(\.queues).filter { $0.location.layout == .split }
        }
        let watcher = try Failure.reporting { () throws(TargetError) in try RingWatcher(memory: t.memory, queues: queues.map(\.location)) }
        signal(SIGINT) { _ in WatchCommand.stopRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in WatchCommand.stopRequested.store(true, ordering: .relaxed) }

        let out = Output.standardOutput
        let start = Clock.monotonic()
        var emitted = 0
        if !json { out.write("watching \(queues.count) queue\(queues.count == 1 ? "" : "s") of \(t.title); Ctrl-C stops\n"); out.flush() }
        loop: while !Self.stopRequested.load(ordering: .relaxed) {
            let events: [RingEvent]
            do { events = try watcher.poll() } catch {
                out.flush()
                Failure.printError("\(error)")
                throw ExitCode(Failure.partial)
            }
            let wall = Clock.realtime()
            for event in events {
                let q = queues[event.queue]
                if json {
                    var fields: [(String, JSON)] = [("time", .double((wall * 1e6).rounded() / 1e6)), ("queue", .string(q.label)),
                                                    ("device", .string(q.device)), ("index", .int(Int64(q.index)))]
                    switch event.kind {
                    case .available(let head):
                        fields += [("event", .string("avail")), ("idx", .uint(UInt64(event.index))), ("head", .uint(UInt64(head)))]
                    case .used(let id, let length):
                        fields += [("event", .string("used")), ("idx", .uint(UInt64(event.index))), ("id", .uint(UInt64(id))), ("len", .uint(UInt64(length)))]
                    case .lapped(let ring, let missed):
                        fields += [("event", .string("lapped")), ("ring", .string(ring)), ("idx", .uint(UInt64(event.index))), ("missed", .int(Int64(missed)))]
                    }
                    out.write(JSON.object(fields).text + "\n")
                } else {
                    let time = String(format6: Clock.monotonic() - start)
                    switch event.kind {
                    case .available(let head): out.write("\(time) \(q.label) avail #\(event.index) head \(head)\n")
                    case .used(let id, let length): out.write("\(time) \(q.label) used  #\(event.index) id \(id) len \(length)\n")
                    case .lapped(let ring, let missed): out.write("\(time) \(q.label) LAPPED \(ring) ring at #\(event.index): \(missed) entries missed\n")
                    }
                }
                emitted += 1
                if let count, emitted >= count { break loop }
            }
            if !events.isEmpty { out.flush() }
            if let seconds, Clock.monotonic() - start >= seconds { break }
            Clock.sleep(milliseconds: interval)
        }
        out.flush()
    }
}

/// Monotonic and wall-clock time, and sleeping, without Foundation.
enum Clock {
    static func monotonic() -> Double { read(CLOCK_MONOTONIC) }
    static func realtime() -> Double { read(CLOCK_REALTIME) }
    private static func read(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
    static func sleep(milliseconds: Double) {
        var request = timespec(tv_sec: Int(milliseconds / 1000), tv_nsec: Int(milliseconds.truncatingRemainder(dividingBy: 1000) * 1e6))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR && !WatchCommand.stopRequested.load(ordering: .relaxed) {
            request = remaining
        }
    }
}

extension String {
    /// Six decimal places without Foundation.
    init(format6 value: Double) {
        let micros = Int((value * 1e6).rounded())
        let frac = String(micros % 1_000_000)
        self = "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }
}
