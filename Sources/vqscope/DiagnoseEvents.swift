import ArgumentParser
import VQCore

/// The events of QEMU itself during a `diagnose` run (`--events bpf`): each queue's history, and
/// the findings the event rules make of it at the end (``EventDiagnosis``).
final class DiagnoseEvents {
    let session: ProbeSession
    let started: UInt64
    var histories: [QueueEventHistory]
    /// The last ring facts per queue (from the final sample).
    var facts: [EventDiagnosis.RingFacts?]
    /// Why the events stopped (the probes failed), if they did.
    var failure: String?

    init(session: ProbeSession, queues: Int) {
        self.session = session
        started = MonotonicClock.nanoseconds()
        histories = Array(repeating: QueueEventHistory(), count: queues)
        facts = Array(repeating: nil, count: queues)
    }

    /// Takes the events recorded since the last call (after a failure, nothing more).
    func drain() {
        guard failure == nil else { return }
        do throws(ProbeSourceError) {
            for n in try session.poll() {
                if let k = n.queue, k < histories.count { histories[k].record(n.event) }
            }
        } catch {
            failure = "\(error)"
        }
    }

    /// Queue `k`'s findings now.
    func findings(_ k: Int, threshold: Double) -> [EventDiagnosis.Finding] {
        let facts = facts[k] ?? EventDiagnosis.RingFacts(unfetched: nil, kickRequested: false)
        return EventDiagnosis.judge(histories[k], facts: facts, now: MonotonicClock.nanoseconds(), observedSince: started, threshold: threshold)
    }

    /// Queue `k`'s `events` object of `diagnose --json`: counts per kind, the findings, and the
    /// chains QEMU holds (head, age).
    func json(_ k: Int, threshold: Double) -> JSON {
        let h = histories[k]
        let found = findings(k, threshold: threshold)
        let now = MonotonicClock.nanoseconds()
        let held = h.held.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map { head, since in
            JSON.object([("head", .uint(UInt64(head))), ("age_ms", .int(Int64(now > since ? (now - since) / 1_000_000 : 0)))])
        }
        return .object([
            ("source", .string("bpf")),
            ("counts", .object(ProbeEvent.Kind.allCases.map { ($0.rawValue, .int(Int64(h.counts[$0] ?? 0))) })),
            ("held", .array(held)),
            ("findings", .array(found.map { f in
                var fields: [(String, JSON)] = [("code", .string(f.code)), ("message", .string(f.message))]
                if case .deviceHolding(let chains) = f {
                    fields.append(("heads", .array(chains.map { .object([("head", .uint(UInt64($0.head))), ("age_ms", .int(Int64(($0.age * 1000).rounded())))]) })))
                }
                return .object(fields)
            })),
        ])
    }
}
