/// An address in the guest's physical address space, as the guest's devices and drivers use it.
public struct GuestPhysicalAddress: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    /// The address `offset` bytes further on, or `nil` past the end of the 64-bit space.
    @inlinable public func advanced(by offset: UInt64) -> Self? {
        let (sum, overflow) = rawValue.addingReportingOverflow(offset)
        return overflow ? nil : Self(sum)
    }
}

/// An address in the QEMU process's virtual address space (where QEMU keeps guest RAM).
public struct HostVirtualAddress: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// An address in the host machine's physical memory, from the QEMU process's page map.
public struct HostPhysicalAddress: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

extension GuestPhysicalAddress: CustomStringConvertible {
    public var description: String { Hex.string(rawValue) }
}
extension HostVirtualAddress: CustomStringConvertible {
    public var description: String { Hex.string(rawValue) }
}
extension HostPhysicalAddress: CustomStringConvertible {
    public var description: String { Hex.string(rawValue) }
}
