/// virtio-input events (virtio 1.2, 5.8.6): `virtio_input_event` (type u16, code u16, value u32),
/// which the device writes into event queue buffers and the driver sends on the status queue
/// (LEDs, repeat). Linux posts one event a buffer; a buffer may hold several.
public struct VirtioInputEvents: Sendable, Hashable {
    /// One evdev event.
    public struct Event: Sendable, Hashable, CustomStringConvertible {
        public var type: UInt16
        public var code: UInt16
        public var value: UInt32

        public init(type: UInt16, code: UInt16, value: UInt32) {
            self.type = type
            self.code = code
            self.value = value
        }

        /// `EV_KEY KEY_A 1`, `EV_REL REL_X -3` (relative and absolute values signed),
        /// `EV_SYN SYN_REPORT`.
        public var description: String {
            var s = InputEventCode.typeName(type) + " " + InputEventCode.codeName(type: type, code: code)
            if type != 0 || value != 0 { s += type == 2 || type == 3 ? " \(Int32(bitPattern: value))" : " \(value)" }
            return s
        }
    }

    /// Each event's size: 8 bytes.
    public static let eventSize = 8
    /// Most events decoded from one buffer.
    public static let maxEvents = 16

    /// Which way the events went: `true` from the device (event queue), `false` from the driver
    /// (status queue).
    public var fromDevice: Bool
    /// The first events (at most ``maxEvents``).
    public var events: [Event]
    /// Whole events in the buffer (its length / 8).
    public var count: Int
    /// A buffer length that is not a whole number of events, or no event at all.
    public var defect: PayloadDefect?
    /// An event-queue buffer still posted: room for ``count`` events the device has not written
    /// (its bytes mean nothing yet, so ``events`` is empty).
    public var isPosted = false

    /// An event-queue buffer of `length` bytes the driver posted and the device has not filled yet.
    public init(postedLength length: UInt64) {
        self.init([], length: length, fromDevice: true)
        isPosted = true
    }

    /// Decodes events from the first bytes of a buffer of `length` bytes in all.
    public init(_ bytes: [UInt8], length: UInt64, fromDevice: Bool) {
        self.fromDevice = fromDevice
        var r = PayloadReader(bytes)
        var events: [Event] = []
        while events.count < Self.maxEvents, let type = r.u16(), let code = r.u16(), let value = r.u32() {
            events.append(Event(type: type, code: code, value: value))
        }
        self.events = events
        count = Int(min(length, UInt64(Int.max))) / Self.eventSize
        if length < UInt64(Self.eventSize) {
            defect = .truncated(needed: Self.eventSize, present: Int(length))
        } else if length % UInt64(Self.eventSize) != 0 {
            defect = .malformed("\(length) bytes is not a whole number of 8-byte events")
        }
    }

    /// `input EV_KEY KEY_A 1, EV_SYN SYN_REPORT` (`input status` for the driver's; `input: room for
    /// 1 event, posted for the device to fill` for a buffer posted on the event queue).
    public var summary: String {
        if isPosted {
            return "input: room for \(count) event\(count == 1 ? "" : "s"), posted for the device to fill"
                + (defect.map { " (\($0))" } ?? "")
        }
        var s = fromDevice ? "input" : "input status"
        let shown = events.prefix(6)
        if !shown.isEmpty { s += " " + shown.map(\.description).joined(separator: ", ") }
        if count > shown.count { s += " (+\(count - shown.count) more)" }
        if let defect { s += " (\(defect))" }
        return s
    }
}
