/// What the events QEMU itself reported (``QueueEventHistory``) say about a queue that hangs:
/// the device holding requests, a lost kick, a lost interrupt. Pure rules on recorded event
/// sequences and a few facts about the ring, unit-tested.
public enum EventDiagnosis {
    /// One finding.
    public enum Finding: Sendable, Hashable {
        /// QEMU popped these chains and has not completed them for at least the threshold: the
        /// device (its back-end) holds them. Heads oldest first, with their age in seconds.
        case deviceHolding([HeldChain])
        /// Buffers the device has not fetched sat available for at least the threshold while the
        /// device asked to be kicked for them, and no kick came.
        case lostKick(available: Int, waited: Double)
        /// QEMU completed chains and, for at least the threshold, never decided about the
        /// interrupt (no virtio_notify), though the guest does not refuse interrupts.
        case lostInterrupt(completions: Int, waited: Double)

        /// `device_holding`, `lost_kick`, `lost_interrupt`.
        public var code: String {
            switch self {
            case .deviceHolding: return "device_holding"
            case .lostKick: return "lost_kick"
            case .lostInterrupt: return "lost_interrupt"
            }
        }

        /// One line for people.
        public var message: String {
            switch self {
            case .deviceHolding(let chains):
                let heads = chains.prefix(8).map { "head \($0.head) (\(Self.milliseconds($0.age)) ms)" }.joined(separator: ", ")
                return "QEMU popped \(chains.count) chain\(chains.count == 1 ? "" : "s") and has not completed \(chains.count == 1 ? "it" : "them"): the device holds \(heads)\(chains.count > 8 ? ", ..." : "")"
            case .lostKick(let n, let waited):
                return "lost kick: \(n) buffer\(n == 1 ? "" : "s") available for \(Self.milliseconds(waited)) ms, the device asked to be kicked, and no kick came"
            case .lostInterrupt(let n, let waited):
                return "lost interrupt: QEMU completed \(n) chain\(n == 1 ? "" : "s") \(Self.milliseconds(waited)) ms ago and never raised or suppressed an interrupt for \(n == 1 ? "it" : "them")"
            }
        }

        static func milliseconds(_ s: Double) -> Int { Int((s * 1000).rounded()) }
    }

    /// A chain QEMU popped and holds.
    public struct HeldChain: Sendable, Hashable {
        public var head: UInt32
        /// When it was popped (ns, CLOCK_MONOTONIC).
        public var since: UInt64
        /// Seconds since then.
        public var age: Double
        public init(head: UInt32, since: UInt64, age: Double) {
            self.head = head
            self.since = since
            self.age = age
        }
    }

    /// What the ring and QEMU say at the end of the observation.
    public struct RingFacts: Sendable, Hashable {
        /// Chains available that the device has not fetched (QEMU's last_avail_idx behind the
        /// avail index); nil when unknown (no QMP).
        public var unfetched: Int?
        /// The device asked to be kicked for those (no NO_NOTIFY; with EVENT_IDX, the avail index
        /// went past its avail_event: ``kickOwed(availEvent:availIndex:lastAvail:)``).
        public var kickRequested: Bool
        /// The guest refuses interrupts (NO_INTERRUPT without EVENT_IDX).
        public var interruptsRefused: Bool

        public init(unfetched: Int?, kickRequested: Bool, interruptsRefused: Bool = false) {
            self.unfetched = unfetched
            self.kickRequested = kickRequested
            self.interruptsRefused = interruptsRefused
        }
    }

    /// The findings for a queue at `now` (ns): `threshold` seconds without progress makes one;
    /// `observedSince` (ns) is when the probes began, so nothing older is claimed.
    public static func judge(_ h: QueueEventHistory, facts: RingFacts, now: UInt64, observedSince: UInt64, threshold: Double) -> [Finding] {
        func age(_ t: UInt64) -> Double { now > t ? Double(now - t) / 1e9 : 0 }
        var findings: [Finding] = []
        let held = h.held.map { HeldChain(head: $0.key, since: $0.value, age: age($0.value)) }
            .filter { $0.age >= threshold }.sorted { ($0.since, $0.head) < ($1.since, $1.head) }
        if !held.isEmpty { findings.append(.deviceHolding(held)) }
        // Lost kick: available, unfetched, asked for, and neither a kick nor a pop for the threshold.
        if let n = facts.unfetched, n > 0, facts.kickRequested {
            let lastActivity = max(h.lastKick ?? 0, h.lastPop ?? 0, observedSince)
            if age(lastActivity) >= threshold { findings.append(.lostKick(available: n, waited: age(lastActivity))) }
        }
        if h.unsignalled > 0, let since = h.unsignalledSince, !facts.interruptsRefused, age(since) >= threshold {
            findings.append(.lostInterrupt(completions: Int(h.unsignalled), waited: age(since)))
        }
        return findings
    }

    /// Whether a driver that moved the avail index from `lastAvail` (where the device stopped)
    /// to `availIndex` owed a kick with EVENT_IDX: the device's avail_event lies in that step
    /// (the spec's vring_need_event).
    public static func kickOwed(availEvent: UInt16, availIndex: UInt16, lastAvail: UInt16) -> Bool {
        (availIndex &- availEvent &- 1) < (availIndex &- lastAvail)
    }
}

extension EventDiagnosis.RingFacts {
    /// The facts of a ring snapshot and QEMU's view of the queue (QMP): split rings only; a packed
    /// ring, or no QEMU view, gives no unfetched count (so no lost-kick claim).
    public init(snapshot: RingSnapshot, deviceState: DeviceQueueState?) {
        guard case .split(let s) = snapshot else {
            self.init(unfetched: nil, kickRequested: false)
            return
        }
        let eventIndex = s.location.features.contains(.eventIndex)
        let unfetched = deviceState.map { Int(s.avail.index &- $0.lastAvailIndex) }
        let requested: Bool
        if eventIndex, let event = s.used.availEvent, let state = deviceState {
            requested = EventDiagnosis.kickOwed(availEvent: event, availIndex: s.avail.index, lastAvail: state.lastAvailIndex)
        } else {
            requested = !eventIndex && !s.used.noNotify
        }
        self.init(unfetched: unfetched, kickRequested: requested, interruptsRefused: !eventIndex && s.avail.noInterrupt)
    }
}
