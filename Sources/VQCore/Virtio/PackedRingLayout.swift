/// Where every field of a packed virtqueue of `size` descriptors sits (virtio 1.2, 2.8): the
/// descriptor ring and the two event suppression areas, each from its own start.
///
///     descriptor ring:          size × 16 bytes (``Descriptor/byteCount``)
///     driver / device event:    desc u16 (offset | wrap << 15), flags u16   (4 bytes each)
public struct PackedRingLayout: Sendable, Hashable {
    /// Descriptors in the ring.
    public var size: Int

    /// The layout of a ring of `size` descriptors.
    public init(size: Int) { self.size = size }

    /// The layout of the ring at `location`.
    public init(_ location: VirtqueueLocation) { size = Int(location.size) }

    /// Bytes of the descriptor ring.
    public var descriptorRingBytes: Int { Descriptor.byteCount * size }
    /// Offset of descriptor `slot` from the ring's start.
    public func descriptorOffset(_ slot: Int) -> Int { Descriptor.byteCount * slot }

    /// Bytes of one event suppression area.
    public static let eventAreaBytes = 4
    /// Offset of an event suppression area's `desc` field (offset and wrap counter).
    public static let eventDescriptorOffset = 0
    /// Offset of an event suppression area's `flags` field.
    public static let eventFlagsOffset = 2
}
