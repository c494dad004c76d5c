/// Network frames from QEMU's own events (the eBPF probes), put together by the same
/// ``NetFrameAssembler`` the polling path uses: a tx frame from the bytes the pop probe copied of
/// the chain the driver gave (its virtio-net header stripped, the header's size as the device's
/// negotiated features say), an rx frame from the bytes QEMU wrote into a receive buffer, taken
/// when QEMU fills it, with the `len` QEMU reports (merged buffers joined, MRG_RXBUF). A frame the
/// probe copied only the start of (its bound, ``ProbeEventBytes``) is written cut short, with its
/// whole length, as pcapng allows; nothing is made up. Nothing QEMU carried is missed unless the
/// probes' ring buffer overflowed (``ProbeEventSource/dropped``). Pure: fed named events, unit-tested.
public struct ProbeFrameTracer: Sendable {
    /// The frames put together so far (missed counts, merged frames waiting for buffers).
    public private(set) var assembler: NetFrameAssembler
    /// Frames written shorter than they are because the probe copied only their start.
    public private(set) var truncated = 0
    /// The session's queues (``ProbeSession/Named/queue``) this device's frames go through, each
    /// with its queue number in the device (even: receive, odd: transmit).
    public let queues: [Int: Int]

    public init(assembler: NetFrameAssembler, queues: [Int: Int]) {
        self.assembler = assembler
        self.queues = queues
    }

    /// The frames these events complete, in order. `wall` turns an event's ns timestamp
    /// (CLOCK_MONOTONIC) into the time written (seconds).
    public mutating func frames(from events: [ProbeSession.Named], wall: (UInt64) -> Double) -> [CapturedFrame] {
        var frames: [CapturedFrame] = []
        for n in events {
            guard let q = n.queue, let number = queues[q], let head = n.event.head else { continue }
            let transmit = number % 2 == 1
            switch n.event.kind {
            case .pop where transmit:
                guard let copied = ProbeEventBytes(n.event) else { continue }
                guard let frame = assembler.sent(copied.bytes, chainBytes: copied.length, missed: "unreadable", queueIndex: number,
                                                 id: head, time: wall(n.event.nanoseconds)) else { continue }
                if frame.bytes.count < frame.length && frame.bytes.count < assembler.snapLength { truncated += 1 }
                frames.append(frame)
            case .fill where !transmit:
                guard let copied = ProbeEventBytes(n.event) else { continue }
                guard let frame = assembler.received(copied.bytes, length: n.event.count ?? 0, queueIndex: number, id: head,
                                                     time: wall(n.event.nanoseconds)) else { continue }
                if frame.bytes.count < frame.length && frame.bytes.count < assembler.snapLength { truncated += 1 }
                frames.append(frame)
            default:
                continue
            }
        }
        return frames
    }

    /// Ends the assembly: a merged frame still waiting for buffers is counted missed.
    public mutating func finish() { assembler.finish() }
}
