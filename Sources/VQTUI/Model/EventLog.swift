import VQCore

/// One line of the event log: a ring event or a queue's stall starting or ending, when it was seen,
/// and its sequence number.
struct LogEntry: Hashable, Sendable {
    /// What happened.
    enum Kind: Hashable, Sendable {
        /// A ring event the polls saw.
        case ring(RingEvent.Kind)
        /// The queue's health judgement saw a stall begin or end.
        case health(StallDetector.Change)
        /// QEMU itself did it (the eBPF probes): a kick, pop, fill, flush, interrupt or suppressed
        /// interrupt, with what it carries for people (`head 3 len 4097`).
        case qemu(ProbeEvent.Kind, detail: QEMUEventDetail)
    }

    /// Counts up from 0 over the inspector's life; a frozen display shows entries below a limit.
    var sequence: Int
    /// Inspector seconds (since start) of the poll that saw the event.
    var time: Double
    /// The queue, by its index in the discovered list.
    var queue: Int
    var kind: Kind
    /// Split rings: the free-running ring index of the entry. Packed rings: the slot. 0 for health entries.
    var index: UInt16
    /// Packed rings: the wrap counter of the slot's lap.
    var wrap: Bool?
    /// What the event's chain carried, when the source could tell (the log shows its summary).
    var payload: DevicePayload? { payloadBox?.payload }
    /// The payload, kept by reference: most entries (QEMU's events) have none, and each entry is
    /// copied into the log's ring, a few thousand a second on a busy guest.
    private let payloadBox: PayloadBox?

    init(sequence: Int, time: Double, queue: Int, kind: Kind, index: UInt16, wrap: Bool?, payload: DevicePayload? = nil) {
        self.sequence = sequence
        self.time = time
        self.queue = queue
        self.kind = kind
        self.index = index
        self.wrap = wrap
        self.payloadBox = payload.map(PayloadBox.init)
    }

    /// A payload on the heap, compared and hashed by value.
    private final class PayloadBox: Hashable, Sendable {
        let payload: DevicePayload
        init(_ payload: DevicePayload) { self.payload = payload }
        static func == (a: PayloadBox, b: PayloadBox) -> Bool { a.payload == b.payload }
        func hash(into hasher: inout Hasher) { hasher.combine(payload) }
    }
}

/// What a QEMU event carries for people (`head 3 len 4097`), put into words only when the log shows
/// it: a busy guest's probes report thousands of events a second, and most scroll out unseen.
struct QEMUEventDetail: Hashable, Sendable, CustomStringConvertible {
    // The event's fields but its buffers, which the line does not show: plain values, so that an
    // entry is copied into the log's ring without a reference to count.
    private let nanoseconds: UInt64
    private let kind: ProbeEvent.Kind
    private let thread: UInt32
    private let subject: ProbeEvent.Subject
    private let head: UInt32?, count: UInt32?, position: UInt32?
    private let outCount: UInt32, inCount: UInt32
    private let throughIrqfd: Bool

    init(_ event: ProbeEvent) {
        nanoseconds = event.nanoseconds
        kind = event.kind
        thread = event.thread
        subject = event.subject
        head = event.head
        count = event.count
        position = event.position
        outCount = event.outCount
        inCount = event.inCount
        throughIrqfd = event.throughIrqfd
    }

    /// The event without its buffers.
    var event: ProbeEvent {
        ProbeEvent(nanoseconds: nanoseconds, kind: kind, thread: thread, subject: subject, head: head, count: count,
                   position: position, outCount: outCount, inCount: inCount, throughIrqfd: throughIrqfd)
    }

    /// ``ProbeEventFormat/text(_:)`` without the event's kind, which the line shows in a column.
    var description: String {
        String(ProbeEventFormat.text(event).drop { $0 != " " }.drop { $0 == " " })
    }
}

/// The most recent ring events, oldest first, bounded so that a busy guest costs fixed memory.
struct EventLog: Sendable {
    /// Entries kept.
    let capacity: Int
    private var storage: [LogEntry] = []
    private var start = 0
    /// The sequence number the next entry gets: the number of entries ever appended.
    private(set) var nextSequence = 0

    init(capacity: Int = 5000) { self.capacity = max(1, capacity) }

    /// Appends an event seen at `time`, with its chain's payload when known.
    mutating func append(_ event: RingEvent, payload: DevicePayload? = nil, at time: Double) {
        add(LogEntry(sequence: nextSequence, time: time, queue: event.queue, kind: .ring(event.kind), index: event.index,
                     wrap: event.wrap, payload: payload))
    }

    /// Where QEMU's events come from, for the Events view: `bpf (...)` or `poll (why)`; nil when
    /// the source says nothing of it (an image, the demo).
    var eventsMode: String?
    /// Kicks and interrupts per queue from QEMU's events.
    private(set) var qemuRates = QEMUEventRates()

    /// Appends an event QEMU reported (the eBPF probes) for queue `queue`, seen at `time`.
    mutating func append(_ event: ProbeEvent, queue: Int, at time: Double) {
        qemuRates.record(event.kind, queue: queue, at: time)
        add(LogEntry(sequence: nextSequence, time: time, queue: queue, kind: .qemu(event.kind, detail: QEMUEventDetail(event)), index: 0, wrap: nil))
    }

    /// Brings the rates to `time` (a second with no event shows none).
    mutating func rollRates(to time: Double) { qemuRates.roll(to: time) }

    /// Appends a stall of queue `queue` starting or ending, seen at `time`.
    mutating func append(_ change: StallDetector.Change, queue: Int, at time: Double) {
        add(LogEntry(sequence: nextSequence, time: time, queue: queue, kind: .health(change), index: 0, wrap: nil))
    }

    private mutating func add(_ entry: LogEntry) {
        nextSequence += 1
        if storage.count < capacity {
            storage.append(entry)
        } else {
            storage[start] = entry
            start = (start + 1) % capacity
        }
    }

    /// Entries kept, oldest first.
    var entries: [LogEntry] { Array(storage[start...] + storage[..<start]) }

    /// Entries kept with a sequence below `limit` and (when given) of queue `queue`, oldest first.
    func entries(before limit: Int, queue: Int?) -> [LogEntry] {
        entries.filter { $0.sequence < limit && (queue == nil || $0.queue == queue) }
    }

    /// Entries appended since the log began that fell off its start.
    var dropped: Int { nextSequence - storage.count }
}
