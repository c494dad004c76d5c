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
        let begun = MonotonicClock.now()
        let progress = ProgressLine()
        var captured = 0
        var failure: String?
        // A probe's ns timestamp (CLOCK_MONOTONIC) as wall-clock seconds.
        let offset = control.wallNow() - MonotonicClock.now()
        func wall(_ ns: UInt64) -> Double { Double(ns) / 1e9 + offset }
        loop: while true {
            let stopping = control.shouldStop() || seconds.map { MonotonicClock.now() - begun >= $0 } ?? false
            let named: [ProbeSession.Named]
            do throws(ProbeSourceError) { named = try session.poll(timeoutMilliseconds: stopping ? 0 : 50) } catch {
                failure = "\(error)"
                break loop
            }
            for r in tracer.requests(from: named, queues: wanted, wall: wall) {
                let q = queues[r.queueIndex]
                var shown = r
                shown.queueIndex = q.queue.index
                out.write(Self.json(shown, device: devices[q.device], queue: q.queue).text + "\n")
                captured += 1
                if let count, captured >= count { break loop }
            }
            out.flush()
            if stopping { break }
            progress.update("\(captured) requests, \(session.source.dropped) lost, \(String(format1: MonotonicClock.now() - begun)) s")
        }
        progress.finish()
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
