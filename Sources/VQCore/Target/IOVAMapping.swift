/// One page of a device's DMA domain: the leaf of an IOMMU page walk. `size` bytes of I/O
/// virtual addresses from `iova` reach guest-physical `gpa` onwards, with `access`.
public struct IOVAMapping: Hashable, Sendable {
    /// The page's first I/O virtual address (aligned to `size`).
    public var iova: UInt64
    /// 4 KiB, 2 MiB or 1 GiB.
    public var size: UInt64
    /// The page's first guest-physical address.
    public var gpa: GuestPhysicalAddress
    /// The permissions of every entry of the walk, stacked.
    public var access: IOMMUAccess
    /// The level of the entry that mapped it: 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB).
    public var level: Int

    public init(iova: UInt64, size: UInt64, gpa: GuestPhysicalAddress, access: IOMMUAccess, level: Int) {
        self.iova = iova
        self.size = size
        self.gpa = gpa
        self.access = access
        self.level = level
    }

    /// Whether `address` is one of the page's I/O virtual addresses.
    public func contains(_ address: UInt64) -> Bool { address >= iova && address &- iova < size }

    /// The guest-physical address of `address`, one of the page's.
    public func guestPhysical(of address: UInt64) -> GuestPhysicalAddress {
        GuestPhysicalAddress(gpa.rawValue &+ (address &- iova))
    }
}

/// A run of I/O virtual addresses that maps to one run of guest RAM: a piece of a translated range.
public struct IOVAPiece: Hashable, Sendable {
    /// The first I/O virtual address of the piece.
    public var iova: UInt64
    /// Where it lands in guest RAM.
    public var gpa: GuestPhysicalAddress
    /// Bytes in the piece.
    public var count: UInt64
    /// What the mappings let the device do (the least of the pages merged into the piece).
    public var access: IOMMUAccess

    public init(iova: UInt64, gpa: GuestPhysicalAddress, count: UInt64, access: IOMMUAccess) {
        self.iova = iova
        self.gpa = gpa
        self.count = count
        self.access = access
    }
}
