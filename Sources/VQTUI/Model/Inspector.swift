import VQCore

/// The live inspector, without a terminal: the run loop feeds it time and keys, it reads the target
/// through an ``InspectorSource`` and draws frames into a ``ScreenGrid``.
///
/// The loop calls ``poll(now:)`` every ``pollInterval`` (cheap: indexes and ring events, so that the
/// event log and rates miss nothing), ``refresh(now:)`` then ``render(into:now:)`` every
/// ``refreshInterval`` (a snapshot of the selected queue and the bytes on screen), and
/// ``handle(_:now:)`` for each key; ``finish()`` on the way out. `now` is monotonic seconds.
/// Nothing here throws: problems with the target are shown on screen.
public final class Inspector {
    /// Seconds between polls.
    static let defaultPollInterval = 0.01
    /// Seconds between two `runState` questions (a QMP round trip).
    static let runStateInterval = 1.0
    /// Completed chains read back for the chain view.
    static let historyLength = 8
    /// Chains whose payload is decoded per frame.
    static let payloadLimit = 32
    /// Bytes of a buffer read per frame for the hexdump.
    static let hexWindow = 4096
    /// Entries read of an indirect table followed into.
    static let tableEntryLimit = 1024

    let source: any InspectorSource
    var state: InspectorState
    /// The queues shown, from the last discovery.
    var queues: [Virtqueue] = []
    /// Why the last discovery failed.
    var discoveryError: String?
    var activity: [QueueActivity] = []
    /// Each queue's health, kept from the polls and the snapshots the frames read (see ``QueueHealthMonitor``).
    var health: [HealthMonitorRef] = []
    var log = EventLog()
    var frame = FrameData() { didSet { if !frame.sameContent(as: oldValue) { frameGeneration &+= 1 } } }
    /// Counts changes of what the views show of ``frame`` (its ring and indirect table, not the
    /// queue list's rows): with the log, the navigation and the queues, what the current view's
    /// content is built from (see ``currentContent()``).
    var frameGeneration = 0
    /// The revision the next ring read gets (``RingFrame/revision``).
    var nextRingRevision = 1
    /// The current view's content and what it was built from: a frame's refresh and its render
    /// build it once.
    var contentCache: (key: ContentKey, content: ViewContent)?
    var stepper = Stepper()
    /// The VM's run state at the last question, if known.
    var runState: VMRunState?
    var lastRunStateCheck: Double?
    /// Why the target is gone, once it is.
    var exitReason: String?
    /// The last poll failure shown, so that a failing poll does not repeat its message 100 times a second.
    var pollFailure: String?
    /// When ``start(now:)`` was called; event times count from it.
    var startTime: Double?
    /// What the last render found out about sizes, for the paging and scrolling keys.
    var metrics = RenderMetrics()
    /// The key of the last frame drawn and when (see ``needsFrame(now:width:height:force:)``).
    var lastDrawn: (key: ScreenKey, time: Double)?
    /// The terminal's height at the last frame, which says which queue rows are on screen.
    var screenHeight: Int?
    /// The queues' labels, made once a discovery.
    var queueLabels: [String] = []

    /// An inspector of `source`; nothing is read until ``start(now:)``.
    public init(source: any InspectorSource, options: InspectorOptions = InspectorOptions()) {
        self.source = source
        self.state = InspectorState(rate: RefreshRate(hz: options.refreshHz))
    }

    /// Seconds between frames; `+` and `-` change it.
    public var refreshInterval: Double { state.rate.interval }

    /// Seconds between polls: short enough that a busy ring does not lap between two of them.
    public var pollInterval: Double { stepper.isStepping ? Self.fastestPollInterval : currentPollInterval }

    /// Ring entries the polls could not read because a ring lapped between two of them (0 when the
    /// event log missed nothing).
    public private(set) var lappedEntries = 0

    /// The poll interval the rings' pace calls for (see ``adaptPollInterval(to:)``).
    var currentPollInterval = defaultPollInterval
    static let fastestPollInterval = 0.005
    static let slowestPollInterval = 0.1

    /// Queues that moved by more than an eighth of their ring in the last poll (see ``adaptPollInterval(to:)``).
    var busyInLastPoll: Set<Int> = []

    /// Polls as often as the busiest ring needs and no more often. A queue *keeps up a pace* when
    /// it moved by more than an eighth of its ring in two polls in a row, and *jumps* when it moved
    /// by a quarter or more in one. Either halves the interval; when every queue moved by less than
    /// a tenth, the interval grows by a quarter (so a slower interval still sees each ring move by
    /// less than an eighth: `1.25 / 10`). The busiest ring so settles at a tenth to an eighth of
    /// itself a poll. A ring then laps between two polls only if it speeds up more than fourfold
    /// within one poll interval, or eightfold within two.
    ///
    /// One poll's move of more than an eighth alone is a batch more often than a pace: Linux's
    /// virtio-net makes 33 receive buffers of a 256-entry ring available at once each time it
    /// refills, whatever the traffic, and polling faster cannot split such a batch. One entry of a
    /// small ring (virtio-rng's 8) is an eighth of it: such a ring holds the interval while it
    /// moves by one entry a poll, and lets it grow again after each poll in which it did not move.
    func adaptPollInterval(to events: [RingEvent]) {
        lappedEntries += events.reduce(0) { total, event in
            if case .lapped(_, let missed) = event.kind { return total + missed }
            return total
        }
        var moved: [Int: (avail: Int, used: Int)] = [:]
        for event in events {
            switch event.kind {
            case .available: moved[event.queue, default: (0, 0)].avail += 1
            case .used: moved[event.queue, default: (0, 0)].used += 1
            case .lapped: moved[event.queue, default: (0, 0)].avail += 1 << 16
            }
        }
        var busiest = 0.0
        var busy: Set<Int> = []
        var halve = false
        for (queue, count) in moved where queues.indices.contains(queue) {
            let share = Double(max(count.avail, count.used)) / Double(max(1, queues[queue].location.size))
            busiest = max(busiest, share)
            guard share > 1.0 / 8 else { continue }
            busy.insert(queue)
            if share >= 1.0 / 4 || busyInLastPoll.contains(queue) { halve = true }
        }
        busyInLastPoll = busy
        if halve {
            currentPollInterval = max(Self.fastestPollInterval, currentPollInterval / 2)
        } else if busiest < 1.0 / 10 {
            currentPollInterval = min(Self.slowestPollInterval, currentPollInterval * 1.25)
        }
    }

    /// Inspector seconds: monotonic `now` counted from the start.
    func seconds(_ now: Double) -> Double { now - (startTime ?? now) }

    /// Finds the queues and asks the VM's state. A failure is shown on screen, not thrown.
    public func start(now: Double) {
        startTime = now
        discover(now: now)
        checkRunState(now: now, force: true)
    }

    /// Discovers the queues (again), forgetting what was known of the old list.
    func discover(now: Double) {
        contentCache = nil
        do {
            queues = try source.discoverQueues()
            discoveryError = nil
            if queues.isEmpty { state.say("no active virtqueues: the guest's drivers may not be loaded yet (r: look again)", .warning, at: now) }
        } catch {
            queues = []
            discoveryError = error.description
            state.say("cannot find the queues: \(error.description)", .error, at: now)
        }
        activity = Array(repeating: QueueActivity(), count: queues.count)
        busyInLastPoll = []
        queueLabels = queues.map(\.label)
        health = Self.monitors(for: queues, at: seconds(now)).map(HealthMonitorRef.init)
        frame = FrameData()
        state.history.removeAll()
        let keepPin = state.nav.pinned?.origin == .address
        let pinned = state.nav.pinned
        state.nav = NavState()
        if keepPin { state.nav.pinned = pinned }
        if stepper.isStepping { stepper.reset() }
    }

    /// Reads every queue's indexes and the ring events since the last poll; completes a step when
    /// the watched queue moved.
    public func poll(now: Double) {
        guard exitReason == nil, !queues.isEmpty else { return }
        let t = seconds(now)
        let result: PollResult
        do {
            result = try source.poll(everyQueue: stepper.isStepping)
        } catch {
            if case .processGone = error {
                targetExited("the target exited (\(error.description))", now: now)
            } else if pollFailure != error.description {
                pollFailure = error.description
                state.say("polling failed: \(error.description)", .error, at: now)
            }
            return
        }
        pollFailure = nil
        for (i, indexes) in result.indexes.enumerated() where i < activity.count {
            activity[i].update(indexes, at: t)
            if i < health.count { health[i].monitor.update(indexes, at: t) }
        }
        for (i, positions) in result.packed.enumerated() where i < activity.count && queues.indices.contains(i) {
            guard let positions else { continue }
            activity[i].packed = positions
            if i < health.count { health[i].monitor.updatePacked(inFlight: positions.inFlightSlots(size: queues[i].location.size)) }
        }
        adaptPollInterval(to: result.events)
        log.eventsMode = source.eventsMode
        log.rollRates(to: t)
        for named in result.qemuEvents {
            guard let q = named.queue, queues.indices.contains(q) else { continue }
            log.append(named.event, queue: q, at: t)
        }
        for (k, event) in result.events.enumerated() {
            log.append(event, payload: k < result.payloads.count ? result.payloads[k] : nil, at: t)
            if activity.indices.contains(event.queue) { activity[event.queue].record(event.kind, at: t) }
            if health.indices.contains(event.queue) { health[event.queue].monitor.record(event.kind, at: t) }
        }
        if case let .stepping(q, _, baseline, _) = stepper.phase {
            switch baseline {
            case .split:
                if result.indexes.indices.contains(q), let moved = stepper.movement(of: q, indexes: result.indexes[q]) {
                    completeStep(moved, now: now)
                }
            case .packed:
                if let moved = stepper.movement(of: q, events: result.events) { completeStep(moved, now: now) }
            }
        }
    }

    /// A health monitor per queue, each judged by the role its device and index give (the queue count
    /// of its device tells virtio-net's control queue from a receive queue); a ring a RAM scan found
    /// (no QOM path) by the scan's guess, as `diagnose` and `watch` judge it.
    static func monitors(for queues: [Virtqueue], at t: Double) -> [QueueHealthMonitor] {
        var counts: [String: Int] = [:]
        for q in queues { counts[q.path] = max(counts[q.path] ?? 0, q.index + 1) }
        return queues.map { q in
            let role = q.origin == .scan ? QueueRole(guess: q.device) : QueueRole(deviceName: q.device, index: q.index, queueCount: counts[q.path])
            return QueueHealthMonitor(queue: q, role: role, at: t)
        }
    }

    /// Pauses the VM after the watched queue moved.
    func completeStep(_ detail: String, now: Double) {
        guard case let .stepping(_, label, _, _) = stepper.phase else { return }
        do {
            try source.pause()
            stepper.paused(detail: detail)
            runState = .paused
            state.say("VM paused: \(label) moved (\(detail)); s steps again, c continues", .warning, at: now)
        } catch {
            stepper.reset()
            state.say("\(label) moved (\(detail)) but the VM could not be paused: \(error.description)", .error, at: now)
        }
    }

    /// Records that the target is gone; everything after shows it and reads nothing.
    func targetExited(_ reason: String, now: Double) {
        guard exitReason == nil else { return }
        exitReason = reason
        stepper.reset()
        state.say(reason + "; q quits", .error, at: now)
    }

    /// Asks the VM's run state, at most once every ``runStateInterval`` unless forced.
    func checkRunState(now: Double, force: Bool = false) {
        if !force, let last = lastRunStateCheck, now - last < Self.runStateInterval { return }
        lastRunStateCheck = now
        runState = source.runState()
        if stepper.pausedByInspector, runState == .running {
            stepper.reset()
            state.say("the VM was continued outside vqscope", .warning, at: now)
        }
    }

    /// On exit: resumes the VM if vqscope paused it, and says so.
    public func finish() -> String? {
        guard case let .paused(detail) = stepper.phase, exitReason == nil else { return nil }
        do {
            try source.resume()
            stepper.reset()
            runState = .running
            return "vqscope resumed the VM it had paused (stepped: \(detail))"
        } catch {
            return "vqscope paused the VM (stepped: \(detail)) and could not resume it: \(error.description); resume it with QMP `cont`"
        }
    }
}

/// Sizes the last render used, for keys that move by a page.
struct RenderMetrics: Hashable, Sendable {
    var queueRows = 0
    var view = ViewPane.Metrics()
    var hexdump = HexdumpPane.Metrics()
    /// How far the help overlay can scroll.
    var helpScrollLimit = 0
}

/// A queue's health monitor, held by reference: an array of monitors copied one out (its queue,
/// tracker and diagnosis, 769 bytes) for most questions the frames ask, every queue's each frame.
final class HealthMonitorRef {
    var monitor: QueueHealthMonitor
    init(_ monitor: QueueHealthMonitor) { self.monitor = monitor }
}
