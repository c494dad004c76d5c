import CVQProbes
import VQCore

/// vqscope's eBPF probes on one QEMU process, loaded and attached with libbpf (the C edge is
/// Sources/CVQProbes/probes.c): every kick, pop, fill, flush, interrupt and suppressed interrupt of
/// QEMU's virtio code, read-only. Detached when released.
public final class BPFProbeSource: ProbeEventSource {
    private let handle: OpaquePointer
    /// How many probes are attached (uprobes, and the raw tracepoint that sees the irqfd writes).
    public let attached: Int

    /// Whether events carry their buffers (addresses, lengths, copied bytes).
    public let segments: Bool

    /// Loads the probes of `groups` on `pid` (its executable: `/proc/PID/exe`). Throws one line
    /// saying what failed: the kernel refused the programs, a function is missing from QEMU's symbols...
    /// Without `segments`, events come without their buffers (a reader that shows none saves decoding them).
    public init(pid: Int32, layout: VirtQueueElementLayout = .qemu7, groups: ProbeGroups = .all, segments: Bool = true) throws(ProbeSourceError) {
        self.segments = segments
        var c = vqp_element_layout(index: layout.index, out_num: layout.outCount, in_num: layout.inCount,
                                   in_addr: layout.inAddresses, out_addr: layout.outAddresses,
                                   in_sg: layout.inVectors, out_sg: layout.outVectors)
        var out: OpaquePointer?
        var message = [CChar](repeating: 0, count: 512)
        let status = vqp_open(&out, pid, "/proc/\(pid)/exe", &c, groups.rawValue, &message, message.count)
        guard status == 0, let out else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw ProbeSourceError(text.isEmpty ? "the eBPF probes could not be loaded (error \(-status))" : text)
        }
        handle = out
        attached = Int(vqp_attached(out))
    }

    deinit { vqp_close(handle) }

    /// Events the last poll returned.
    private var lastCount = 0

    public func poll(timeoutMilliseconds: Int32) throws(ProbeSourceError) -> [ProbeEvent] {
        let box = RecordBox(segments: segments)
        // Room for as many events as the last poll brought and a quarter more: one allocation.
        box.events.reserveCapacity(lastCount + lastCount / 4)
        defer { lastCount = box.events.count }
        let n = withExtendedLifetime(box) {
            vqp_poll(handle, timeoutMilliseconds, { ctx, data, size in
                guard let ctx, let data else { return 0 }
                let box = Unmanaged<RecordBox>.fromOpaque(ctx).takeUnretainedValue()
                // Decoded where the ring buffer holds it. A bad record fails the poll (the records
                // after it are consumed unread; the session ends on the error).
                guard box.error == nil else { return 0 }
                do throws(ProbeRecordError) { box.events.append(try ProbeRecordDecoder.decode(UnsafeRawBufferPointer(start: data, count: size), segments: box.segments)) } catch {
                    box.error = error
                }
                return 0
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        guard n >= 0 else { throw ProbeSourceError("reading the eBPF probes' ring buffer failed (error \(-n))") }
        if let error = box.error { throw ProbeSourceError("\(error)") }
        return box.events
    }

    public var dropped: UInt64 { vqp_dropped(handle) }
}

private final class RecordBox {
    let segments: Bool
    var events: [ProbeEvent] = []
    var error: ProbeRecordError?
    init(segments: Bool) { self.segments = segments }
}
