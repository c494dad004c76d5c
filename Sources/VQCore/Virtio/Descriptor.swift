/// One virtqueue descriptor as the guest wrote it: an entry of a split ring's descriptor table
/// (virtio 1.2, 2.7) or of a packed ring's descriptor ring (2.8), or of an indirect table of either.
///
/// Both layouts are 16 little-endian bytes:
/// - split: `addr u64, len u32, flags u16, next u16`
/// - packed: `addr u64, len u32, id u16, flags u16`
///
/// One type serves both: ``next`` is meaningful only in the split layout and ``id`` only in the packed
/// one (each is 0 when decoded from the other layout).
public struct Descriptor: Sendable, Hashable {
    /// The flag bits of a descriptor (virtio 1.2, 2.7 and 2.8).
    public struct Flags: OptionSet, Sendable, Hashable {
        /// The raw flags word.
        public var rawValue: UInt16
        /// Wraps raw flag bits as the guest wrote them.
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// VIRTQ_DESC_F_NEXT (1): the buffer continues in the descriptor named by `next` (split) or in
        /// the next ring slot (packed).
        public static let next = Flags(rawValue: 1)
        /// VIRTQ_DESC_F_WRITE (2): the buffer is device-writable (otherwise device-readable).
        public static let write = Flags(rawValue: 2)
        /// VIRTQ_DESC_F_INDIRECT (4): `addr`/`len` name a table of descriptors, not a buffer.
        public static let indirect = Flags(rawValue: 4)
        /// VIRTQ_DESC_F_AVAIL (1 << 7), packed rings only.
        public static let avail = Flags(rawValue: 1 << 7)
        /// VIRTQ_DESC_F_USED (1 << 15), packed rings only.
        public static let used = Flags(rawValue: 1 << 15)
    }

    /// Bytes per descriptor in either layout.
    public static let byteCount = 16

    /// Guest-physical address of the buffer (or of the indirect table).
    public var address: GuestPhysicalAddress
    /// Length in bytes of the buffer (or of the indirect table).
    public var length: UInt32
    /// The flag bits.
    public var flags: Flags
    /// Split layout: index of the next descriptor when ``Flags/next`` is set. 0 in the packed layout.
    public var next: UInt16
    /// Packed layout: the buffer ID. 0 in the split layout.
    public var id: UInt16

    /// A descriptor from its fields.
    public init(address: GuestPhysicalAddress, length: UInt32, flags: Flags = [], next: UInt16 = 0, id: UInt16 = 0) {
        self.address = address
        self.length = length
        self.flags = flags
        self.next = next
        self.id = id
    }

    /// Whether NEXT is set.
    @inlinable public var hasNext: Bool { flags.contains(.next) }
    /// Whether WRITE is set: the buffer is device-writable.
    @inlinable public var isWriteOnly: Bool { flags.contains(.write) }
    /// Whether INDIRECT is set: the descriptor names an indirect table.
    @inlinable public var isIndirect: Bool { flags.contains(.indirect) }
    /// Packed rings: the AVAIL bit.
    @inlinable public var availBit: Bool { flags.contains(.avail) }
    /// Packed rings: the USED bit.
    @inlinable public var usedBit: Bool { flags.contains(.used) }

    /// Packed rings: AVAIL differs from USED, as in a descriptor the driver made available and the
    /// device has not used yet (whatever the wrap counter).
    @inlinable public var looksAvailable: Bool { availBit != usedBit }

    /// Packed rings: available in the lap whose wrap counter is `wrap` (AVAIL == wrap, USED != wrap).
    @inlinable public func isAvailable(wrap: Bool) -> Bool { availBit == wrap && usedBit != wrap }

    /// Packed rings: used in the lap whose wrap counter is `wrap` (AVAIL == USED == wrap).
    @inlinable public func isUsed(wrap: Bool) -> Bool { availBit == wrap && usedBit == wrap }

    /// The 16 bytes of this descriptor in the split layout.
    public var splitBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        Self.append(address.rawValue, to: &bytes)
        Self.append(length, to: &bytes)
        Self.append(flags.rawValue, to: &bytes)
        Self.append(next, to: &bytes)
        return bytes
    }

    /// The 16 bytes of this descriptor in the packed layout.
    public var packedBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        Self.append(address.rawValue, to: &bytes)
        Self.append(length, to: &bytes)
        Self.append(id, to: &bytes)
        Self.append(flags.rawValue, to: &bytes)
        return bytes
    }

    /// Decodes `bytes.count / 16` descriptors of the given layout; a trailing partial entry is ignored.
    public static func decode(_ bytes: [UInt8], layout: RingLayout) -> [Descriptor] {
        bytes.withUnsafeBytes { decode($0, layout: layout) }
    }

    /// Decodes `raw.count / 16` descriptors of the given layout from raw bytes.
    static func decode(_ raw: UnsafeRawBufferPointer, layout: RingLayout) -> [Descriptor] {
        let count = raw.count / byteCount
        var result: [Descriptor] = []
        result.reserveCapacity(count)
        for i in 0..<count {
            result.append(decodeOne(raw, at: i &* byteCount, layout: layout))
        }
        return result
    }

    /// Decodes the descriptor at byte `offset` of `raw`; the caller guarantees 16 bytes are there.
    @inline(__always)
    static func decodeOne(_ raw: UnsafeRawBufferPointer, at offset: Int, layout: RingLayout) -> Descriptor {
        let address = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        let length = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt32.self))
        let a = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset &+ 12, as: UInt16.self))
        let b = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset &+ 14, as: UInt16.self))
        switch layout {
        case .split: return Descriptor(address: GuestPhysicalAddress(address), length: length, flags: Flags(rawValue: a), next: b)
        case .packed: return Descriptor(address: GuestPhysicalAddress(address), length: length, flags: Flags(rawValue: b), id: a)
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Where a descriptor sits: an entry of the virtqueue's own descriptor table (split) or descriptor
/// ring (packed), or an entry of an indirect table at ``table``.
public struct DescriptorPosition: Sendable, Hashable, CustomStringConvertible {
    /// Index within its table (for the packed ring itself: the ring slot).
    public var index: UInt16
    /// The indirect table's guest-physical address, or `nil` for the ring's own table.
    public var table: GuestPhysicalAddress?

    /// A position from its parts.
    public init(index: UInt16, table: GuestPhysicalAddress? = nil) {
        self.index = index
        self.table = table
    }

    /// `descriptor 5` or `entry 2 of the indirect table at 0x1000`.
    public var description: String {
        if let table { return "entry \(index) of the indirect table at \(table)" }
        return "descriptor \(index)"
    }
}
