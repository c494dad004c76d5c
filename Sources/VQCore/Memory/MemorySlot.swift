/// One range of guest-physical memory and where its bytes live in the backing address space
/// (host-virtual addresses of the QEMU process, or file offsets of an image).
public struct MemorySlot: Hashable, Sendable {
    /// What kind of memory QEMU says the range is.
    public enum Kind: String, Hashable, Sendable {
        case ram, rom, romd
    }

    /// First guest-physical address of the slot.
    public var guest: GuestPhysicalAddress
    /// Length in bytes; never zero.
    public var size: UInt64
    /// Backing address of `guest`: a host-virtual address, or an offset into an image file.
    public var host: UInt64
    /// QEMU's name for the memory region (`pc.ram`, `pc.bios`, `vga.vram`...).
    public var name: String
    public var kind: Kind

    public init(guest: GuestPhysicalAddress, size: UInt64, host: UInt64, name: String, kind: Kind = .ram) {
        self.guest = guest
        self.size = size
        self.host = host
        self.name = name
        self.kind = kind
    }

    /// One past the last guest-physical address (saturating at 2^64 - 1).
    @inlinable public var guestEnd: UInt64 {
        let (end, overflow) = guest.rawValue.addingReportingOverflow(size)
        return overflow ? .max : end
    }

    @inlinable public func contains(_ gpa: GuestPhysicalAddress) -> Bool {
        gpa.rawValue >= guest.rawValue && gpa.rawValue - guest.rawValue < size
    }
}

/// A guest-physical range that is known not to be RAM (device MMIO, a legacy window), with its name,
/// so that a failed translation can say what is there instead.
public struct MemoryHole: Hashable, Sendable {
    public var guest: GuestPhysicalAddress
    public var size: UInt64
    public var name: String

    public init(guest: GuestPhysicalAddress, size: UInt64, name: String) {
        self.guest = guest
        self.size = size
        self.name = name
    }

    public func contains(_ gpa: GuestPhysicalAddress) -> Bool {
        gpa.rawValue >= guest.rawValue && gpa.rawValue - guest.rawValue < size
    }
}
