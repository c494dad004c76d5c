/// Where every field of a split virtqueue of `size` entries sits (virtio 1.2, 2.7): the descriptor
/// table, the available ring (driver area) and the used ring (device area), each from its own start.
///
///     descriptor table: size × 16 bytes (``Descriptor/byteCount``)
///     available ring:   flags u16, idx u16, ring[size] u16, used_event u16   (6 + 2 × size)
///     used ring:        flags u16, idx u16, ring[size] {id u32, len u32}, avail_event u16   (6 + 8 × size)
///
/// The legacy layout (virtio 0.9.5, the spec's 2.7.2) fixes where the two rings go: the available
/// ring right after the table, the used ring on the next 4096-byte boundary after it.
public struct SplitRingLayout: Sendable, Hashable {
    /// Entries in the table and in each ring.
    public var size: Int

    /// The layout of a ring of `size` entries.
    public init(size: Int) { self.size = size }

    /// The layout of the ring at `location`.
    public init(_ location: VirtqueueLocation) { size = Int(location.size) }

    /// Offset of `idx` in either ring (after `flags`).
    public static let indexOffset = 2
    /// The legacy layout's alignment of the used ring (VIRTIO_PCI_VRING_ALIGN): a spec constant,
    /// not a page size of the guest or the host.
    public static let legacyAlignment = 4096

    /// Bytes of one available-ring entry (a head index).
    public static let availEntryBytes = 2
    /// Bytes of one used-ring entry (`id`, `len`).
    public static let usedEntryBytes = 8

    /// Bytes of the descriptor table.
    public var descriptorTableBytes: Int { Descriptor.byteCount * size }

    /// Offset of available-ring entry `slot` from the ring's start.
    public func availEntryOffset(_ slot: Int) -> Int { 4 + Self.availEntryBytes * slot }
    /// Offset of `used_event` (after the last entry).
    public var usedEventOffset: Int { availEntryOffset(size) }
    /// Bytes of the available ring with its entries, without `used_event`.
    public var availEntriesBytes: Int { availEntryOffset(size) }
    /// Bytes of the whole available ring, `used_event` included.
    public var availBytes: Int { usedEventOffset + 2 }

    /// Offset of used-ring entry `slot`'s `id` from the ring's start (its `len` follows at + 4).
    public func usedEntryOffset(_ slot: Int) -> Int { 4 + Self.usedEntryBytes * slot }
    /// Offset of `avail_event` (after the last entry).
    public var availEventOffset: Int { usedEntryOffset(size) }
    /// Bytes of the used ring with its entries, without `avail_event`.
    public var usedEntriesBytes: Int { usedEntryOffset(size) }
    /// Bytes of the whole used ring, `avail_event` included.
    public var usedBytes: Int { availEventOffset + 2 }

    /// The legacy layout: the available ring's offset from the table's start.
    public var legacyAvailOffset: Int { descriptorTableBytes }
    /// The legacy layout: the used ring's offset from the table's start (the next 4096-byte boundary
    /// after the available ring, `used_event` included).
    public var legacyUsedOffset: Int { Self.alignedUp(legacyAvailOffset + availBytes) }
    /// The legacy layout: bytes from the table's start to the end of the used ring.
    public var legacyTotalBytes: Int { legacyUsedOffset + usedBytes }

    /// `offset` rounded up to ``legacyAlignment``.
    public static func alignedUp(_ offset: Int) -> Int { (offset + legacyAlignment - 1) & ~(legacyAlignment - 1) }
    /// `address` rounded up to ``legacyAlignment``.
    public static func alignedUp(_ address: UInt64) -> UInt64 {
        (address &+ UInt64(legacyAlignment - 1)) & ~UInt64(legacyAlignment - 1)
    }
}
