/// Judges one virtqueue's health from snapshots taken over time: feed it each snapshot with a
/// monotonic timestamp (seconds) and it remembers since when each chain in flight and the device's
/// used index have been seen, so ages grow across samples.
///
/// ```swift
/// var tracker = QueueHealthTracker(queue: queue, threshold: 1)
/// while running {
///     let snapshot = try SplitRing.snapshot(memory: memory, location: queue.location)
///     let diagnosis = tracker.observe(.split(snapshot), deviceState: nil, at: MonotonicClock.now())
///     show(diagnosis.health, diagnosis.summary)
/// }
/// ```
///
/// Judgement, for the latest snapshot (see ``QueueHealth``):
/// - **broken**: the ring has problems other than a torn read (on a live ring, the same kind of
///   problem in two reads in a row), or QEMU marked the device broken;
/// - **stalled**: requests in flight, the oldest seen for at least the threshold and the used index
///   unmoved for at least the threshold;
/// - **busy**: requests in flight otherwise, or buffers used within the last threshold;
/// - **waiting**: only buffers posted for the device to fill (receive queues, or chains with no
///   device-readable part);
/// - **starved**: a receive queue with nothing posted for at least the threshold (a queue never used
///   counts only when drivers keep it filled, e.g. net rx; a queue whose driver posts only when asked,
///   virtio-rng's, never: it is idle until the next ask);
/// - **idle**: none of these.
///
/// Ages are lower bounds: a chain already in flight at the first observation is as old as the
/// tracker's watch. Chains are told apart by available-ring position and head (split) or slot, wrap
/// counter and buffer ID (packed); split rings list the window `used.idx ..< avail.idx`, which is
/// exactly the chains in flight for devices that complete in order (for out-of-order devices the
/// count is exact and the window holds the most recent ones).
public struct QueueHealthTracker: Sendable {
    /// The default threshold: 1 second.
    public static let defaultThreshold: Double = 1

    /// The queue watched.
    public let queue: Virtqueue
    /// What it carries.
    public let role: QueueRole
    /// Seconds without progress after which requests in flight are stalled, and an empty receive
    /// queue starved.
    public let threshold: Double
    /// What has been seen so far.
    public private(set) var memory: Memory

    /// A tracker for `queue`. `role` defaults to the one its device name and index give (pass
    /// ``QueueRole/init(device:queue:)`` when the device's queue count is known: it tells
    /// virtio-net's control queue from a receive queue). `memory` continues an earlier watch.
    public init(queue: Virtqueue, threshold: Double = QueueHealthTracker.defaultThreshold, role: QueueRole? = nil,
                memory: Memory = Memory()) {
        self.queue = queue
        self.threshold = max(0, threshold)
        self.role = role ?? QueueRole(deviceName: queue.device, index: queue.index)
        self.memory = memory
    }

    /// Takes in a snapshot read at monotonic time `now` (seconds), with QEMU's view of the queue
    /// when there is one (read just before the snapshot: `device_fetched` is left out when the two
    /// disagree) and whether QEMU marked the device broken, and judges the queue.
    public mutating func observe(_ snapshot: RingSnapshot, deviceState: DeviceQueueState? = nil, deviceBroken: Bool = false,
                                 at now: Double) -> QueueDiagnosis {
        let chains = snapshot.inFlight
        var m = memory
        if m.firstObserved == nil { m.firstObserved = now }

        let device = snapshot.deviceProgress
        if let before = m.deviceProgress, before != device {
            m.recentUses.append(.init(time: now, count: snapshot.deviceProgressDistance(from: before, to: device)))
            m.deviceProgressSince = now
        } else if m.deviceProgress == nil || m.deviceProgressSince == nil {
            m.deviceProgressSince = now
        }
        m.deviceProgress = device
        m.recentUses.removeAll { now - $0.time > threshold }

        let driver = snapshot.driverProgress
        let driverMoved = m.driverProgress.map { $0 != driver } ?? false
        m.driverProgress = driver

        var since: [RingSnapshot.InFlightChain.Identity: Double] = [:]
        for chain in chains { since[chain.identity] = m.chainsSince[chain.identity] ?? now }
        m.chainsSince = since

        if !chains.isEmpty || snapshot.pendingCount > 0 {
            m.emptySince = nil
        } else if driverMoved {
            m.emptySince = now
        } else if m.emptySince == nil {
            m.emptySince = now
        }

        let codes = Set(snapshot.allProblems.filter(Self.makesBroken).map(\.code))
        var lasting: Set<String> = []
        if snapshot.consistent {
            lasting = m.problemCodes.map { codes.intersection($0) } ?? codes
            m.problemCodes = codes
        }
        m.lastObserved = now
        memory = m
        return judge(snapshot, chains: chains, deviceState: deviceState, deviceBroken: deviceBroken,
                     brokenCodes: lasting, now: now, instant: false)
    }

    /// Takes in a split-ring snapshot; see ``observe(_:deviceState:deviceBroken:at:)``.
    public mutating func observe(_ snapshot: SplitRing.Snapshot, deviceState: DeviceQueueState? = nil,
                                 deviceBroken: Bool = false, at now: Double) -> QueueDiagnosis {
        observe(.split(snapshot), deviceState: deviceState, deviceBroken: deviceBroken, at: now)
    }

    /// Takes in a packed-ring snapshot; see ``observe(_:deviceState:deviceBroken:at:)``. Pass the
    /// snapshot QEMU's `used-idx`/`last-avail-idx` as hints for `device_fetched`.
    public mutating func observe(_ snapshot: PackedRing.Snapshot, deviceState: DeviceQueueState? = nil,
                                 deviceBroken: Bool = false, at now: Double) -> QueueDiagnosis {
        observe(.packed(snapshot), deviceState: deviceState, deviceBroken: deviceBroken, at: now)
    }

    /// Judges a queue from one instant (a memory image): no ages, so requests in flight are busy,
    /// never stalled, and an empty receive queue is starved by its shape alone.
    public static func judgeInstant(_ snapshot: RingSnapshot, queue: Virtqueue, role: QueueRole? = nil,
                                    deviceState: DeviceQueueState? = nil, deviceBroken: Bool = false) -> QueueDiagnosis {
        let tracker = QueueHealthTracker(queue: queue, role: role)
        let codes = Set(snapshot.allProblems.filter(makesBroken).map(\.code))
        return tracker.judge(snapshot, chains: snapshot.inFlight, deviceState: deviceState, deviceBroken: deviceBroken,
                             brokenCodes: codes, now: 0, instant: true)
    }

    /// Whether a chain only carries data for the device to read (no room for it to write).
    static func isDeviceReadableOnly(_ chain: RingSnapshot.InFlightChain) -> Bool {
        guard let c = chain.chain else { return false }
        return c.readableBytes > 0 && c.writableBytes == 0
    }

    /// Whether a problem says the ring is wrong (a torn read, an ignored hint or an indirect table
    /// left unread say nothing about the ring).
    static func makesBroken(_ problem: RingProblem) -> Bool {
        switch problem {
        case .torn, .badHint, .indirectUnread: return false
        default: return true
        }
    }

    // MARK: - Judging

    private func judge(_ snapshot: RingSnapshot, chains: [RingSnapshot.InFlightChain], deviceState: DeviceQueueState?,
                       deviceBroken: Bool, brokenCodes: Set<String>, now: Double, instant: Bool) -> QueueDiagnosis {
        let m = memory
        let notifications = NotificationState(snapshot)
        func isRequest(_ chain: RingSnapshot.InFlightChain) -> Bool {
            switch role.flow {
            case .requests: return true
            case .receive: return false
            case .unknown: return !chain.isReceiveShaped
            }
        }
        func age(_ chain: RingSnapshot.InFlightChain) -> Double? {
            instant ? nil : m.chainsSince[chain.identity].map { max(0, now - $0) }
        }
        func oldest(of list: [RingSnapshot.InFlightChain]) -> RingSnapshot.InFlightChain? {
            var best: RingSnapshot.InFlightChain?
            for chain in list {
                if let b = best, (age(chain) ?? 0) <= (age(b) ?? 0) { continue }
                best = chain
            }
            return best
        }
        let requestChains = chains.filter(isRequest)
        let pending = max(snapshot.pendingCount, chains.count)
        // A split ring whose indexes jumped lists `size` chains of a larger count: count the rest as their kind.
        let requests = requestChains.count == chains.count ? pending : requestChains.count
        let receiveCount = pending - requests
        let oldestChain = oldest(of: requestChains) ?? oldest(of: chains)
        let oldestAge = oldestChain.flatMap(age)
        let usedUnmoved = instant ? nil : m.deviceProgressSince.map { max(0, now - $0) }
        let recentlyUsed = instant ? 0 : m.recentUses.reduce(0) { $0 + $1.count }
        let emptyFor = instant ? nil : m.emptySince.map { max(0, now - $0) }
        let neverUsed = snapshot.neverUsed

        // QEMU's own view.
        var fetched: Int?
        var qemuNote: String?
        if let state = deviceState {
            switch snapshot {
            case .split(let s):
                if state.usedIndex == s.used.index {
                    fetched = min(max(0, Int(state.lastAvailIndex &- s.used.index)), pending)
                } else {
                    qemuNote = "QEMU's used idx \(state.usedIndex) and the ring's \(s.used.index) differ (the queue moved between the two reads)"
                }
            case .packed:
                let known = chains.compactMap(\.fetched)
                if known.count == chains.count { fetched = known.filter { $0 }.count }
            }
        }

        let problems = snapshot.allProblems.filter { Self.makesBroken($0) && brokenCodes.contains($0.code) }
        var reasons: [String] = []
        let health: QueueHealth
        let usedName = snapshot.layout == .split ? "used idx \(snapshot.deviceProgress)"
            : "the device's used position \(PackedRing.Position(index: snapshot.deviceProgress & 0x7fff, wrap: snapshot.deviceProgress & 0x8000 != 0))"
        let window = Self.seconds(threshold)

        if deviceBroken || !problems.isEmpty {
            health = .broken
            if deviceBroken { reasons.append("QEMU marked the device broken: it no longer processes its queues") }
            for problem in problems.prefix(3) { reasons.append(problem.message) }
            if problems.count > 3 { reasons.append("\(problems.count - 3) more problems") }
        } else if requests > 0 {
            let head = oldestChain.map { " (head \($0.head))" } ?? ""
            if instant {
                health = .busy
                reasons.append("\(Self.count(requests, "request")) in flight\(head); one instant cannot tell whether \(requests == 1 ? "it completes" : "they complete")")
            } else if let oldestAge, let usedUnmoved, oldestAge >= threshold, usedUnmoved >= threshold {
                health = .stalled
                reasons.append("\(Self.count(requests, "request")) in flight, the oldest\(head) for \(Self.seconds(oldestAge)); \(usedName) unmoved for \(Self.seconds(usedUnmoved))")
                if let fetched, let state = deviceState {
                    let them = pending == 1 ? "it" : "them"
                    if fetched >= pending {
                        reasons.append("QEMU fetched \(pending == 1 ? "it" : "them all") (last_avail_idx \(state.lastAvailIndex), inuse \(state.inUse)) and has not completed \(them): the device or its backend holds \(them)")
                    } else if fetched == 0 {
                        reasons.append("QEMU has not even fetched \(them) (last_avail_idx \(state.lastAvailIndex)): the device was not told or is not processing the queue")
                    } else {
                        reasons.append("QEMU fetched \(fetched) of \(pending) (last_avail_idx \(state.lastAvailIndex), inuse \(state.inUse)); the rest wait to be fetched")
                    }
                }
                if queue.backend.isVhost {
                    reasons.append("a \(queue.backend.rawValue) back-end serves it, not QEMU: judged from the ring memory alone "
                                   + "(QEMU's indexes are stale for a vhost queue, and asking for them would stop a vhost-user ring)")
                }
                if !notifications.neitherSideWakes {
                    reasons.append(Self.describe(notifications))
                }
            } else {
                health = .busy
                var text = "\(Self.count(requests, "request")) in flight"
                if let oldestAge { text += ", the oldest\(head) for \(Self.seconds(oldestAge))" }
                reasons.append(text)
                if recentlyUsed > 0 {
                    reasons.append("\(recentlyUsed) used in the last \(window)")
                    if let oldestAge, oldestAge >= threshold {
                        reasons.append("slow: the oldest has waited \(Self.seconds(oldestAge)) while others completed")
                    }
                }
            }
        } else if receiveCount > 0 {
            health = .waiting
            // Device-readable buffers on a receive queue (balloon statistics) hold the driver's data
            // until the device asks for it: the device reads them, it does not fill them.
            let readable = min(receiveCount, chains.filter { !isRequest($0) && Self.isDeviceReadableOnly($0) }.count)
            let toFill = receiveCount - readable
            var parts: [String] = []
            if toFill > 0 { parts.append("\(Self.count(toFill, "buffer")) posted for the device to fill when data comes") }
            if readable > 0 {
                parts.append("\(toFill > 0 ? "\(readable)" : Self.count(readable, "buffer")) of the driver's data "
                             + "held for the device to read when it asks (device-readable)")
            }
            var text = parts.joined(separator: ", ")
            let verb = toFill > 0 ? "filled" : "taken"
            if recentlyUsed > 0 {
                text += "; \(recentlyUsed) \(verb) in the last \(window)"
            } else if let usedUnmoved, usedUnmoved >= 0.05 {
                text += "; none \(verb) for \(Self.seconds(usedUnmoved))"
            }
            reasons.append(text)
        } else if role.flow == .receive && !role.postsOnDemand && (role.keptFilled || !neverUsed)
                    && (instant || (emptyFor ?? 0) >= threshold) {
            health = .starved
            let span = emptyFor.map { " for \(Self.seconds($0))" } ?? ""
            if neverUsed {
                reasons.append("the driver never posted a buffer for the device to fill (drivers keep \(role.name) filled): nothing can arrive")
            } else {
                reasons.append("nothing posted for the device to fill\(span): nothing can arrive until the driver posts a buffer")
            }
        } else if recentlyUsed > 0 {
            health = .busy
            reasons.append("nothing in flight now; \(recentlyUsed) used in the last \(window)")
        } else {
            health = .idle
            if neverUsed {
                reasons.append("never used: nothing made available since the queue was set up")
            } else if role.postsOnDemand && role.flow == .receive {
                let span = emptyFor.map { " for \(Self.seconds($0))" } ?? ""
                reasons.append("nothing posted\(span): the driver posts \(role.name) buffers only when asked for data, nothing wrong")
            } else if let usedUnmoved, usedUnmoved >= 0.05 {
                reasons.append("nothing in flight; nothing used for \(Self.seconds(usedUnmoved))")
            } else {
                reasons.append("nothing in flight")
            }
        }
        if notifications.neitherSideWakes {
            reasons.append("\(Self.count(notifications.inFlight, snapshot.layout == .split ? "chain" : "slot")) in flight and neither side will be woken: \(notifications.kick.reason); \(notifications.interrupt.reason)")
        }
        if let qemuNote { reasons.append(qemuNote) }

        return QueueDiagnosis(
            health: health, role: role, inFlight: pending, requests: requests,
            oldest: oldestChain.map { .init(head: $0.head, bufferID: $0.bufferID, age: age($0), isRequest: isRequest($0)) },
            usedUnmovedFor: usedUnmoved, recentlyUsed: recentlyUsed, deviceFetched: fetched, deviceInUse: deviceState?.inUse,
            notifications: notifications, problems: problems, reasons: reasons,
            observedFor: instant ? 0 : max(0, now - (m.firstObserved ?? now)),
            driverProgress: snapshot.driverProgress, deviceProgress: snapshot.deviceProgress)
    }

    /// The notification outlook of a stalled queue, in words.
    private static func describe(_ n: NotificationState) -> String {
        switch (n.kick.firesNext, n.interrupt.firesNext) {
        case (true, true): return "notifications armed both ways (the next kick and the next interrupt fire)"
        case (false, true): return "the driver will not kick for its next buffer: \(n.kick.reason)"
        case (true, false): return "the device will not interrupt for its next used buffer: \(n.interrupt.reason)"
        case (false, false): return "\(n.kick.reason); \(n.interrupt.reason)"
        }
    }

    /// `1 request`, `3 requests`.
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    /// `0.3 s`, `12 s`.
    static func seconds(_ value: Double) -> String {
        let tenths = Int((max(0, value) * 10).rounded())
        return tenths >= 100 ? "\((tenths + 5) / 10) s" : "\(tenths / 10).\(tenths % 10) s"
    }
}
