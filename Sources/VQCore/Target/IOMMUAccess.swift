/// What an IOMMU mapping lets a device do with the memory behind an I/O virtual address: the read
/// and write permission bits of VT-d's page-table entries, stacked over every level of the walk.
public struct IOMMUAccess: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The device may read (DMA to the device: descriptor tables, the avail ring, outgoing buffers).
    public static let read = IOMMUAccess(rawValue: 1)
    /// The device may write (DMA from the device: the used ring, buffers it fills).
    public static let write = IOMMUAccess(rawValue: 2)

    /// `rw`, `r-`, `-w` or `--`.
    public var description: String { (contains(.read) ? "r" : "-") + (contains(.write) ? "w" : "-") }
}
