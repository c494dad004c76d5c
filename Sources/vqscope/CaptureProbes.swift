import ArgumentParser
import Glibc
import VQCore

extension CaptureCommand {
    /// `capture --device virtio-blk` from QEMU's own events (the eBPF probes): every request QEMU
    /// pops, traced to its completion, nothing missed unless the probes' ring buffer overflowed
    /// (said at the end). `queues` are the captured queues with their device's index in `devices`.
    func captureBlocks(from session: ProbeSession, devices: [VirtioDevice], queues: [(device: Int, queue: Virtqueue)], out: Output,
                       control: SessionControl) throws {
        var tracer = ProbeBlockTracer()
        let wanted = Set(queues.indices)
        var captured = 0
        let failure = pollProbes(session, control: control, out: out, status: { "\(captured) requests" }) { named, wall in
            for r in tracer.requests(from: named, queues: wanted, wall: wall) {
                let q = queues[r.queueIndex]
                var shown = r
                shown.queueIndex = q.queue.index
                out.write(Self.json(shown, device: devices[q.device], queue: q.queue).text + "\n")
                captured += 1
                if let count, captured >= count { return false }
            }
            return true
        }
        var pending = 0
        if failure == nil, count.map({ captured < $0 }) ?? true {
            for r in tracer.pending(queueIndex: { queues[$0].queue.index }) {
                guard let q = queues.first(where: { $0.queue.index == r.queueIndex }) else { continue }
                out.write(Self.json(r, device: devices[q.device], queue: q.queue).text + "\n")
                pending += 1
            }
        }
        out.flush()
        Output.standardError.write("\(captured) request\(captured == 1 ? "" : "s") traced, \(pending) still in flight at the end\n")
        Output.standardError.write("\(session.source.dropped) missed (events QEMU's probes could not record: their ring buffer was full); \(tracer.untimed) completed that were submitted before the trace; \(tracer.unreadable) whose header could not be read\n")
        if let failure {
            Failure.printError("events: \(failure)")
            throw ExitCode(Failure.partial)
        }
    }
}

extension CaptureCommand {
    /// `capture` of virtio-net frames from QEMU's own events (the eBPF probes): every frame QEMU
    /// takes from a transmit queue (at its pop) or writes into a receive buffer (at its fill), on
    /// every queue pair of the devices, put together by the polling path's frame assembler. Nothing
    /// is missed unless the probes' ring buffer overflowed (said at the end, and counted in the
    /// interface statistics). `queues` are the captured queues with their device's index in
    /// `devices`; the pcapng section and interfaces are already written.
    func captureFrames(from session: ProbeSession, devices: [VirtioDevice], assemblers: [NetFrameAssembler],
                       queues: [(device: Int, queue: Virtqueue)], start: Double, out: Output, control: SessionControl) throws {
        var tracers = devices.indices.map { d in
            ProbeFrameTracer(assembler: assemblers[d],
                             queues: Dictionary(uniqueKeysWithValues: queues.enumerated().filter { $0.element.device == d }.map { ($0.offset, $0.element.queue.index) }))
        }
        var captured = 0, received = 0, sent = 0
        var perDevice = [Int](repeating: 0, count: devices.count)
        let failure = pollProbes(session, control: control, out: out,
                                 status: { "\(captured) frames (rx \(received), tx \(sent))" }) { named, wall in
            for d in tracers.indices {
                for frame in tracers[d].frames(from: named, wall: wall) {
                    out.write(block: Pcapng.enhancedPacket(interface: UInt32(d), microseconds: UInt64(max(frame.time, 0) * 1e6),
                                                           data: frame.bytes, originalLength: frame.length,
                                                           direction: frame.direction, comment: frame.comment))
                    perDevice[d] += 1
                    if frame.direction == .inbound { received += 1 } else { sent += 1 }
                    captured += 1
                    if let count, captured >= count { return false }
                }
            }
            return true
        }
        let end = control.wallNow()
        let lost = session.source.dropped
        for d in tracers.indices {
            tracers[d].finish()
            let a = tracers[d].assembler
            // Events the ring buffer could not hold are not told by device: each device's count has them all.
            out.write(block: Pcapng.interfaceStatistics(interface: UInt32(d), microseconds: UInt64(end * 1e6), start: UInt64(start * 1e6),
                                                        received: UInt64(perDevice[d]), dropped: UInt64(a.missedReceived + a.missedSent) + lost))
        }
        out.flush()
        let truncated = tracers.reduce(0) { $0 + $1.truncated }
        var why: [String: Int] = [:]
        for t in tracers { why.merge(t.assembler.missedBy, uniquingKeysWith: +) }
        if lost > 0 { why["probe-events-lost", default: 0] += Int(lost) }
        let missed = why.values.reduce(0, +)
        let reasons = why.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        Output.standardError.write("\(captured) frame\(captured == 1 ? "" : "s") captured (rx \(received), tx \(sent)) from QEMU's events; \(truncated) cut short where the probes copy no more\n")
        Output.standardError.write("\(missed) frame\(missed == 1 ? "" : "s") missed\(reasons.isEmpty ? "" : " (\(reasons))")\n")
        if let failure {
            Failure.printError("events: \(failure)")
            throw ExitCode(Failure.partial)
        }
    }
}

extension CaptureCommand {
    /// The one loop of a capture from QEMU's events: polls `session` until the user stops, the
    /// `--seconds` are up or `take` returns false (the `--count` reached), handing `take` each poll's
    /// events and a probe's ns timestamp (CLOCK_MONOTONIC) as wall-clock seconds; flushes `out` after
    /// each poll and keeps a progress line of `status()`. Returns why the probes failed, if they did.
    func pollProbes(_ session: ProbeSession, control: SessionControl, out: Output, status: () -> String,
                    take: ([ProbeSession.Named], (UInt64) -> Double) -> Bool) -> String? {
        let begun = MonotonicClock.now()
        let progress = ProgressLine()
        defer { progress.finish() }
        let offset = control.wallNow() - MonotonicClock.now()
        let wall = { (ns: UInt64) in Double(ns) / 1e9 + offset }
        while true {
            let stopping = control.shouldStop() || seconds.map { MonotonicClock.now() - begun >= $0 } ?? false
            let named: [ProbeSession.Named]
            do throws(ProbeSourceError) { named = try session.poll(timeoutMilliseconds: stopping ? 0 : 50) } catch {
                return "\(error)"
            }
            let more = take(named, wall)
            out.flush()
            if stopping || !more { return nil }
            progress.update("\(status()), \(session.source.dropped) lost, \(String(format1: MonotonicClock.now() - begun)) s")
        }
    }
}
