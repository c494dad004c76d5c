import ArgumentParser
import Glibc
import VQCore
import VQProbes
import VQTUI

/// `--events auto|bpf|poll`: where a command's events come from. Says which in one stderr line.
struct EventOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Where events come from: bpf (eBPF uprobes in QEMU: every kick, pop, completion and interrupt), poll (the rings in guest memory), auto (bpf when possible, else poll, saying why).", valueName: "auto|bpf|poll"))
    var events: EventMode = .auto

    /// Starts the eBPF probes on `t` for `queues` when the mode and the target allow, after one
    /// stderr line naming the mode in use (and why not bpf, when not). `--events bpf` that cannot
    /// be had is one error line and a non-zero exit.
    func start(_ t: Target, queues: [Virtqueue], groups: ProbeGroups = .all) throws -> ProbeSession? {
        switch open(t, queues: queues, groups: groups) {
        case .success(let started):
            Failure.printError("events: " + started.mode)
            return started.session
        case .failure(let refusal):
            Failure.printError(refusal.line)
            throw ExitCode(Failure.unusable)
        }
    }

    /// `--events bpf` that cannot be had: the line saying why.
    struct Refusal: Error { var line: String }

    /// The eBPF probes on `t` for `queues` when the mode and the target allow, and the mode in use
    /// (`bpf (N eBPF probes on QEMU pid P)`, `poll`, `poll (why)`); a refusal for `--events bpf`
    /// that cannot be had. Prints nothing.
    /// Without `segments`, events come without their buffers (the inspector shows none).
    func open(_ t: Target, queues: [Virtqueue], groups: ProbeGroups = .all, segments: Bool = true) -> Result<(session: ProbeSession?, mode: String), Refusal> {
        let forbidden = getenv(EventModeChoice.forbidVariable).map { String(cString: $0) }
            .flatMap { $0.isEmpty || $0 == "0" ? nil : "\(EventModeChoice.forbidVariable)=\($0)" }
        let live = t.process.map { $0.accelerator != .simulated && t.imagePath == nil && t.backend == nil } ?? false
        let facts = EventModeChoice.Facts(isRoot: geteuid() == 0, isLiveQEMU: live, forbidden: forbidden,
                                          vhostQueues: queues.filter { $0.backend.isVhost }.map(\.label),
                                          translatingIOMMU: live ? t.iommu.flatMap { $0.translatesDMA && !$0.defaultBusBypassesIOMMU ? $0.kind.displayName : nil } : nil)
        var choice = EventModeChoice.decide(requested: events, facts: facts)
        if choice == .bpf, let pid = t.process?.pid {
            do throws(ProbeSourceError) {
                let source = try BPFProbeSource(pid: pid, groups: groups, segments: segments)
                let memory = ProcessMemory(pid: pid)
                let rings = queues.map { q in
                    VirtQueueMap.Ring(descriptors: q.location.descriptors.rawValue, driverArea: q.location.driverArea.rawValue,
                                      deviceArea: q.location.deviceArea.rawValue, size: q.location.size, queueNumber: q.index)
                }
                let session = ProbeSession(source: source, rings: rings) { address, count in try? memory.bytes(at: address, count: count) }
                return .success((session, "bpf (\(source.attached) eBPF probes on QEMU pid \(pid))"))
            } catch {
                choice = events == .bpf ? .refused("--events bpf: \(error)") : .poll(reason: "\(error)")
            }
        }
        switch choice {
        case .bpf, .poll(nil): return .success((nil, "poll"))
        case .poll(let reason?): return .success((nil, "poll (\(reason))"))
        case .refused(let line): return .failure(Refusal(line: line))
        }
    }

    /// The inspector's starter of QEMU's events: run for the queues it discovers; a refusal is
    /// shown as the mode (the inspector polls on). Its log shows no buffers: events come without.
    func starter(_ t: Target) -> LiveSource.ProbeStarter {
        { queues in
            switch open(t, queues: queues, segments: false) {
            case .success(let started): return started
            case .failure(let refusal): return (nil, "poll (\(refusal.line))")
            }
        }
    }
}

extension EventMode: ExpressibleByArgument {}
