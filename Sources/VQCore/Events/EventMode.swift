/// Where vqscope's events come from (`--events`): QEMU itself through eBPF uprobes, or polling
/// the rings in guest memory.
public enum EventMode: String, Sendable, Hashable, CaseIterable {
    /// eBPF when it can be had, else polling with one line saying why.
    case auto
    /// eBPF uprobes in QEMU (every kick, pop, completion and interrupt); refuse when not possible.
    case bpf
    /// Poll the rings (what changes between two reads; no kicks or interrupts).
    case poll
}

/// The decision between eBPF and polling for one target, made from what is known about it before
/// loading anything. Pure: ``decide(requested:facts:)`` is unit-tested.
public enum EventModeChoice: Sendable, Hashable {
    /// Use the eBPF probes.
    case bpf
    /// Poll; `reason` is nil when polling was asked for.
    case poll(reason: String?)
    /// `--events bpf` was asked and cannot be had: one line saying why.
    case refused(String)

    /// What vqscope knows about the target and this host.
    public struct Facts: Sendable, Hashable {
        /// vqscope runs as root (CAP_BPF and CAP_PERFMON come with it).
        public var isRoot: Bool
        /// The target is a live QEMU process (not an image, not the simulated guest).
        public var isLiveQEMU: Bool
        /// Why eBPF is forbidden (VQSCOPE_EVENTS_NO_BPF), if it is.
        public var forbidden: String?
        /// Watched queues served by a vhost back-end: QEMU does not see their data path.
        public var vhostQueues: [String]
        /// The virtual IOMMU that translates the devices' addresses (its display name), if the
        /// machine has one: the addresses QEMU's functions see are then I/O virtual addresses,
        /// which the probes' events are not checked against yet.
        public var translatingIOMMU: String?

        public init(isRoot: Bool, isLiveQEMU: Bool, forbidden: String? = nil, vhostQueues: [String] = [],
                    translatingIOMMU: String? = nil) {
            self.isRoot = isRoot
            self.isLiveQEMU = isLiveQEMU
            self.forbidden = forbidden
            self.vhostQueues = vhostQueues
            self.translatingIOMMU = translatingIOMMU
        }
    }

    public static func decide(requested: EventMode, facts: Facts) -> EventModeChoice {
        if requested == .poll { return .poll(reason: nil) }
        let obstacle: String?
        if !facts.isLiveQEMU {
            obstacle = "the target is not a live QEMU process (eBPF probes attach to QEMU's own functions)"
        } else if let forbidden = facts.forbidden {
            obstacle = "eBPF is forbidden (\(forbidden))"
        } else if !facts.isRoot {
            obstacle = "not root (eBPF uprobes need CAP_BPF and CAP_PERFMON)"
        } else if !facts.vhostQueues.isEmpty {
            let names = facts.vhostQueues.prefix(3).joined(separator: ", ") + (facts.vhostQueues.count > 3 ? ", ..." : "")
            obstacle = "a vhost back-end serves \(names): QEMU does not see its data path"
        } else if let iommu = facts.translatingIOMMU {
            obstacle = "the \(iommu) translates device addresses: QEMU's events would carry I/O virtual addresses, which the probes do not follow yet"
        } else {
            obstacle = nil
        }
        guard let obstacle else { return .bpf }
        return requested == .bpf ? .refused("--events bpf: \(obstacle)") : .poll(reason: obstacle)
    }

    /// The environment variable that forbids eBPF (any non-empty value but 0): `auto` then polls
    /// and says so, `bpf` refuses.
    public static let forbidVariable = "VQSCOPE_EVENTS_NO_BPF"
}
