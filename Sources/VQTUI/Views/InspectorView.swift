import VQCore

/// The views of the selected queue that Tab and BackTab cycle through, in that order.
enum InspectorView: Int, CaseIterable, Hashable, Sendable {
    /// The descriptor table (split) or descriptor ring (packed); or an indirect table followed into.
    case descriptors
    /// The available ring (split) or the driver's position and event suppression area (packed).
    case driverArea
    /// The used ring (split) or the device's positions and event suppression area (packed).
    case deviceArea
    /// In-flight chains (split) or available chains (packed), and recently completed ones.
    case chains
    /// The log of ring activity.
    case events
    /// The slot map: guest ranges and where they live in the QEMU process.
    case slots

    /// The tab's name for a queue of `layout`.
    func title(for layout: RingLayout?) -> String {
        switch (self, layout) {
        case (.descriptors, .packed): return "Desc ring"
        case (.descriptors, _): return "Descriptors"
        case (.driverArea, .packed): return "Driver"
        case (.driverArea, _): return "Avail ring"
        case (.deviceArea, .packed): return "Device"
        case (.deviceArea, _): return "Used ring"
        case (.chains, _): return "Chains"
        case (.events, _): return "Events"
        case (.slots, _): return "Slot map"
        }
    }

    /// A shorter name for narrow screens.
    func shortTitle(for layout: RingLayout?) -> String {
        switch (self, layout) {
        case (.descriptors, .packed): return "Ring"
        case (.descriptors, _): return "Desc"
        case (.driverArea, .packed): return "Driver"
        case (.driverArea, _): return "Avail"
        case (.deviceArea, .packed): return "Device"
        case (.deviceArea, _): return "Used"
        case (.chains, _): return "Chains"
        case (.events, _): return "Events"
        case (.slots, _): return "Slots"
        }
    }

    /// The next view (Tab), wrapping around.
    var next: InspectorView { Self(rawValue: (rawValue + 1) % Self.allCases.count)! }

    /// The previous view (BackTab), wrapping around.
    var previous: InspectorView { Self(rawValue: (rawValue + Self.allCases.count - 1) % Self.allCases.count)! }
}

/// Which pane the arrow keys move in.
enum Focus: Hashable, Sendable {
    case queues, view, hexdump
}
