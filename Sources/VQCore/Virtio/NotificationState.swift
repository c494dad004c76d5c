/// Whether the next notification each way will be sent, from a ring's suppression settings
/// against its current positions (virtio 1.2, 2.7.7-2.7.10 and 2.8.10):
///
/// - the **kick** (available buffer notification, driver to device) is suppressed by the device:
///   split rings through `used.flags` NO_NOTIFY, or `avail_event` with VIRTIO_F_EVENT_IDX; packed
///   rings through the device event suppression area;
/// - the **interrupt** (used buffer notification, device to driver) is suppressed by the driver:
///   split rings through `avail.flags` NO_INTERRUPT, or `used_event` with VIRTIO_F_EVENT_IDX; packed
///   rings through the driver event suppression area.
///
/// Event indexes follow `vring_need_event(event, new, old)`: a notification fires when the index
/// moves past `event` (when the entry at `event` is made available, or used). An event index at the
/// current index fires on the next buffer; ahead by `d`, after `d + 1`; behind (up to half the
/// 16-bit space), not before the index wraps around, i.e. not until the other side moves it.
/// Packed rings compare `offset`/`wrap` with the position the same way (QEMU's and Linux's
/// `vring_packed_need_event`), in ring slots.
///
/// VIRTIO_F_NOTIFY_ON_EMPTY (a legacy feature Linux does not negotiate for modern devices) and a
/// device polling its rings (vhost busy-polling) are not visible here.
public struct NotificationState: Sendable, Hashable {
    /// One direction's outlook.
    public struct Outlook: Sendable, Hashable {
        /// What the setting is made of.
        public enum Mechanism: String, Sendable, Hashable {
            /// Split rings without VIRTIO_F_EVENT_IDX: NO_NOTIFY / NO_INTERRUPT.
            case flags
            /// Split rings with VIRTIO_F_EVENT_IDX: `avail_event` / `used_event`.
            case eventIndex = "event_idx"
            /// Packed rings: an event suppression area (enable, disable or a descriptor position).
            case eventSuppression = "event_suppression"
        }

        /// When the notification fires.
        public enum Firing: Sendable, Hashable {
            /// On the very next buffer (made available, or used).
            case next
            /// Once this many more buffers (split) or ring slots (packed) went by; at least 2.
            case after(Int)
            /// Not before the other side changes its setting.
            case never

            /// `next`, `later` or `never`.
            public var word: String {
                switch self {
                case .next: return "next"
                case .after: return "later"
                case .never: return "never"
                }
            }
        }

        /// When the notification fires.
        public var firing: Firing
        /// What the setting is made of.
        public var mechanism: Mechanism
        /// The setting against the position, in words.
        public var reason: String

        /// An outlook from its parts.
        public init(firing: Firing, mechanism: Mechanism, reason: String) {
            self.firing = firing
            self.mechanism = mechanism
            self.reason = reason
        }

        /// Whether the very next buffer fires it.
        public var firesNext: Bool { firing == .next }

        /// Buffers (packed: slots) until one fires, 1 for the next; `nil` for ``Firing/never``.
        public var after: Int? {
            switch firing {
            case .next: return 1
            case .after(let n): return n
            case .never: return nil
            }
        }

        /// The outlook of an event index `event` against the index `current` that must pass it.
        static func eventIndex(_ event: UInt16, current: UInt16, name: String, indexName: String, action: String) -> Outlook {
            let ahead = event &- current
            if ahead == 0 {
                return Outlook(firing: .next, mechanism: .eventIndex, reason: "\(name) \(event) = \(indexName) \(current): the next buffer \(action)")
            }
            if ahead < 0x8000 {
                return Outlook(firing: .after(Int(ahead) + 1), mechanism: .eventIndex,
                               reason: "\(name) \(event) is \(ahead) past \(indexName) \(current): \(Int(ahead) + 1) more buffers before one \(action)")
            }
            return Outlook(firing: .never, mechanism: .eventIndex,
                           reason: "\(name) \(event) is \(current &- event) behind \(indexName) \(current): no buffer \(action) until it moves")
        }

        /// The outlook of a packed event suppression area against the position `current` (n slots).
        static func suppression(_ area: PackedRing.EventSuppression, current: PackedRing.Position, size: Int,
                                eventIndex: Bool, name: String, positionName: String, action: String) -> Outlook {
            switch area.mode {
            case .enable:
                return Outlook(firing: .next, mechanism: .eventSuppression, reason: "\(name) enabled: every buffer \(action)")
            case .disable:
                return Outlook(firing: .never, mechanism: .eventSuppression, reason: "\(name) disabled: no buffer \(action)")
            case .reserved:
                return Outlook(firing: .next, mechanism: .eventSuppression,
                               reason: "\(name) has the reserved flags value 3, taken as enabled: every buffer \(action)")
            case .descriptor:
                let event = PackedRing.Position(index: area.offset, wrap: area.wrap)
                let note = eventIndex ? "" : " (descriptor mode without VIRTIO_F_EVENT_IDX)"
                let offset = Int(area.offset), index = Int(current.index)
                let distance: Int?
                if area.wrap != current.wrap {
                    distance = size - index + offset  // in the next lap
                } else {
                    distance = offset >= index ? offset - index : nil
                }
                guard let distance, offset < size else {
                    return Outlook(firing: .never, mechanism: .eventSuppression,
                                   reason: "\(name) at \(event) is behind \(positionName) \(current): no buffer \(action) until it moves\(note)")
                }
                if distance == 0 {
                    return Outlook(firing: .next, mechanism: .eventSuppression,
                                   reason: "\(name) at \(event) = \(positionName): the next buffer \(action)\(note)")
                }
                return Outlook(firing: .after(distance + 1), mechanism: .eventSuppression,
                               reason: "\(name) at \(event) is \(distance) slots past \(positionName) \(current): \(distance + 1) more slots before one \(action)\(note)")
            }
        }
    }

    /// The driver's next kick (available buffer notification).
    public var kick: Outlook
    /// The device's next interrupt (used buffer notification).
    public var interrupt: Outlook
    /// Buffers (split) or ring slots (packed) in flight.
    public var inFlight: Int

    /// A state from its parts.
    public init(kick: Outlook, interrupt: Outlook, inFlight: Int) {
        self.kick = kick
        self.interrupt = interrupt
        self.inFlight = inFlight
    }

    /// Whether chains are in flight and neither side will be woken: the driver will not kick the
    /// device for the next buffer it makes available, and the device will not interrupt the driver
    /// even once every chain in flight is used. Unless one side polls, such a queue sleeps for good.
    public var neitherSideWakes: Bool {
        guard inFlight > 0, !kick.firesNext else { return false }
        guard let after = interrupt.after else { return true }
        return after > inFlight
    }

    /// The notification settings of a split ring.
    public init(split s: SplitRing.Snapshot) {
        if let availEvent = s.used.availEvent {
            kick = .eventIndex(availEvent, current: s.avail.index, name: "avail_event", indexName: "avail idx", action: "kicks the device")
        } else if s.used.noNotify {
            kick = Outlook(firing: .never, mechanism: .flags, reason: "the device set NO_NOTIFY: the driver does not kick it")
        } else {
            kick = Outlook(firing: .next, mechanism: .flags, reason: "no NO_NOTIFY: every buffer made available kicks the device")
        }
        if let usedEvent = s.avail.usedEvent {
            interrupt = .eventIndex(usedEvent, current: s.used.index, name: "used_event", indexName: "used idx", action: "used interrupts the driver")
        } else if s.avail.noInterrupt {
            interrupt = Outlook(firing: .never, mechanism: .flags, reason: "the driver set NO_INTERRUPT: the device does not interrupt it")
        } else {
            interrupt = Outlook(firing: .next, mechanism: .flags, reason: "no NO_INTERRUPT: every buffer used interrupts the driver")
        }
        inFlight = max(0, min(s.pendingCount, Int(s.location.size)))
    }

    /// The notification settings of a packed ring: the device's area against the driver's position,
    /// the driver's area against the device's used position.
    public init(packed p: PackedRing.Snapshot) {
        let n = Int(p.location.size)
        let eventIndex = p.location.features.contains(.eventIndex)
        kick = .suppression(p.deviceEvent, current: p.driver, size: n, eventIndex: eventIndex,
                            name: "the device's event suppression", positionName: "the driver's position", action: "kicks the device")
        interrupt = .suppression(p.driverEvent, current: p.deviceUsed, size: n, eventIndex: eventIndex,
                                 name: "the driver's event suppression", positionName: "the device's used position",
                                 action: "used interrupts the driver")
        inFlight = p.available.reduce(0) { $0 + max(1, $1.chain.ringDescriptors) }
    }

    /// The notification settings of either layout.
    public init(_ snapshot: RingSnapshot) {
        switch snapshot {
        case .split(let s): self.init(split: s)
        case .packed(let p): self.init(packed: p)
        }
    }

    /// One sentence: what happens next each way.
    public var summary: String {
        func word(_ o: Outlook, _ what: String) -> String {
            switch o.firing {
            case .next: return "next \(what) fires"
            case .after(let n): return "\(what) after \(n) more"
            case .never: return "\(what) suppressed"
            }
        }
        return word(kick, "kick") + ", " + word(interrupt, "interrupt")
    }
}
