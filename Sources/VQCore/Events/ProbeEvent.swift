/// One thing QEMU's virtio code did, as vqscope's eBPF probes saw it in QEMU itself
/// (Sources/CVQProbes/bpf/vqprobes.bpf.c): a kick, a chain popped, a completion filled or flushed,
/// an interrupt raised or suppressed. Decoded from the probes' records by ``ProbeRecordDecoder``.
public struct ProbeEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The guest notified the device (`virtio_queue_notify`, or an ioeventfd read by
        /// `virtio_queue_host_notifier_read`).
        case kick
        /// The device took a chain (`virtqueue_pop` returned an element).
        case pop
        /// The device completed a chain (`virtqueue_fill`: head, bytes written).
        case fill
        /// The device published completions to the used ring (`virtqueue_flush`: how many).
        case flush
        /// QEMU raised the queue's interrupt (within `virtio_notify`/`virtio_notify_irqfd`).
        case interrupt
        /// `virtio_notify` returned without raising one: the guest asked not to be interrupted
        /// (its event index or NO_INTERRUPT flag), or the queue had no interrupt to raise.
        case suppressed
    }

    /// How QEMU identified the queue in the probed call.
    public enum Subject: Sendable, Hashable {
        /// A `VirtQueue *` (pop, fill, flush, interrupt, suppressed).
        case virtQueue(UInt64)
        /// `virtio_queue_notify(vdev, n)`: the device's `VirtIODevice *` and the queue number.
        case device(UInt64, queue: UInt32)
        /// `virtio_queue_host_notifier_read(EventNotifier *)`: the queue's host notifier, inside its VirtQueue.
        case hostNotifier(UInt64)
    }

    /// A buffer of the chain: its guest address, length, and the bytes of it the probe copied.
    public struct Segment: Sendable, Hashable {
        public var address: UInt64
        public var length: UInt32
        /// Device-writable (the chain's "in" buffers).
        public var writable: Bool
        /// Its first bytes, as many as the probe copied (see ``ProbeRecordDecoder``'s bounds).
        public var bytes: [UInt8]

        public init(address: UInt64, length: UInt32, writable: Bool, bytes: [UInt8]) {
            self.address = address
            self.length = length
            self.writable = writable
            self.bytes = bytes
        }
    }

    /// CLOCK_MONOTONIC, nanoseconds (the kernel's `bpf_ktime_get_ns`).
    public var nanoseconds: UInt64
    public var kind: Kind
    /// QEMU's thread that did it.
    public var thread: UInt32
    public var subject: Subject
    /// pop/fill: the chain's head (QEMU's element index).
    public var head: UInt32?
    /// fill: bytes the device wrote; flush: completions published.
    public var count: UInt32?
    /// fill: the position in the batch (virtqueue_fill's idx).
    public var position: UInt32?
    /// pop/fill: device-readable and device-writable buffers in the chain.
    public var outCount: UInt32
    public var inCount: UInt32
    /// pop: every segment (the readable ones with their bytes); fill: the writable ones with
    /// the bytes the device wrote. At most ``ProbeRecordDecoder/maxSegments``: of a longer chain,
    /// its first seven and its last (``outCount`` and ``inCount`` say how many it has).
    public var segments: [Segment]
    /// interrupt/suppressed: through an irqfd (`virtio_notify_irqfd`).
    public var throughIrqfd: Bool

    public init(nanoseconds: UInt64, kind: Kind, thread: UInt32, subject: Subject, head: UInt32? = nil, count: UInt32? = nil,
                position: UInt32? = nil, outCount: UInt32 = 0, inCount: UInt32 = 0, segments: [Segment] = [], throughIrqfd: Bool = false) {
        self.nanoseconds = nanoseconds
        self.kind = kind
        self.thread = thread
        self.subject = subject
        self.head = head
        self.count = count
        self.position = position
        self.outCount = outCount
        self.inCount = inCount
        self.segments = segments
        self.throughIrqfd = throughIrqfd
    }

    /// The `VirtQueue *` the event names, when it names one directly.
    public var virtQueue: UInt64? {
        if case .virtQueue(let p) = subject { return p }
        return nil
    }
}
