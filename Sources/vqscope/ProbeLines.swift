import VQCore

/// Lines for the events of QEMU itself (the eBPF probes) beside the ring events of `watch`.
enum ProbeLines {
    /// The session's new events of the watched queues, as `watch` prints them (JSON lines with the
    /// wall-clock time the event happened, or text after the seconds since `start`); events of
    /// queues not watched are left out. Throws the session's error (probes gone, layout refused).
    static func drain(_ session: ProbeSession, queues: [Virtqueue], json: Bool, monotonicStart: Double) throws(ProbeSourceError) -> [String] {
        let named = try session.poll()
        guard !named.isEmpty else { return [] }
        let nowMono = MonotonicClock.now(), nowWall = WallClock.now()
        var lines: [String] = []
        for n in named {
            guard let k = n.queue, k < queues.count else { continue }
            let q = queues[k]
            let at = Double(n.event.nanoseconds) / 1e9
            if json {
                let wall = nowWall - (nowMono - at)
                var fields: [(String, JSON)] = [("time", .double((wall * 1e6).rounded() / 1e6)), ("queue", .string(q.label)),
                                                ("device", .string(q.device)), ("index", .int(Int64(q.index)))]
                fields += ProbeEventFormat.fields(n.event)
                lines.append(JSON.object(fields).text)
            } else {
                lines.append("\(String(format6: at - monotonicStart)) \(q.label) \(ProbeEventFormat.text(n.event))")
            }
        }
        return lines
    }

}
