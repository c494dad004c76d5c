/// How a virtqueue's rings are laid out (virtio 1.2, 2.7 split and 2.8 packed).
public enum RingLayout: String, Sendable, Hashable {
    case split, packed
}

/// Where one virtqueue lives in guest-physical memory: what a driver wrote into the device's
/// queue registers, as QMP reports it or a RAM scan finds it.
public struct VirtqueueLocation: Sendable, Hashable {
    public var layout: RingLayout
    /// Queue size: entries in the descriptor table (split) or descriptor ring (packed).
    public var size: UInt16
    /// The descriptor table (split) or descriptor ring (packed).
    public var descriptors: GuestPhysicalAddress
    /// The driver area: the available ring (split) or the driver event suppression area (packed).
    public var driverArea: GuestPhysicalAddress
    /// The device area: the used ring (split) or the device event suppression area (packed).
    public var deviceArea: GuestPhysicalAddress
    /// Negotiated features that change how the rings read.
    public var features: VirtioFeatures

    public init(layout: RingLayout, size: UInt16, descriptors: GuestPhysicalAddress, driverArea: GuestPhysicalAddress,
                deviceArea: GuestPhysicalAddress, features: VirtioFeatures = []) {
        self.layout = layout
        self.size = size
        self.descriptors = descriptors
        self.driverArea = driverArea
        self.deviceArea = deviceArea
        self.features = features
    }
}

extension VirtqueueLocation {
    /// Why the ring cannot be followed as the spec lays it out, or nil: a size of 0, or a split ring
    /// whose size is not a power of two (virtio 1.2, 2.7: the driver wraps its indexes at a power
    /// of two, so any other size reads the wrong entries).
    public var sizeProblem: String? {
        if size == 0 { return "has size 0: there is no ring" }
        if layout == .split && size & (size &- 1) != 0 { return "has size \(size), not a power of two as a split ring's must be" }
        return nil
    }
}

/// The device-independent feature bits that shape a ring (virtio 1.2, 6).
public struct VirtioFeatures: OptionSet, Sendable, Hashable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// VIRTIO_F_INDIRECT_DESC (28): descriptors may point at indirect tables.
    public static let indirectDescriptors = VirtioFeatures(rawValue: 1 << 28)
    /// VIRTIO_F_EVENT_IDX (29): used_event / avail_event replace the NO_INTERRUPT / NO_NOTIFY flags.
    public static let eventIndex = VirtioFeatures(rawValue: 1 << 29)
    /// VIRTIO_F_VERSION_1 (32): a modern device (little-endian rings).
    public static let version1 = VirtioFeatures(rawValue: 1 << 32)
    /// VIRTIO_F_RING_PACKED (34).
    public static let packedRing = VirtioFeatures(rawValue: 1 << 34)
    /// VIRTIO_F_IN_ORDER (35).
    public static let inOrder = VirtioFeatures(rawValue: 1 << 35)

    /// Names of the ring features present, for output.
    public var names: [String] {
        var names: [String] = []
        if contains(.indirectDescriptors) { names.append("indirect_desc") }
        if contains(.eventIndex) { names.append("event_idx") }
        if contains(.version1) { names.append("version_1") }
        if contains(.packedRing) { names.append("ring_packed") }
        if contains(.inOrder) { names.append("in_order") }
        if contains(.accessPlatform) { names.append("access_platform") }
        return names
    }
}
