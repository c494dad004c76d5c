/// Where each guest-physical range lives in a backing address space: a sorted set of
/// non-overlapping ``MemorySlot``s, looked up by binary search.
///
/// A slot map is a value kept apart from any reader; ``GuestMemory`` pairs one with a
/// ``MemoryReader``. Addresses outside every slot are reported, never guessed.
public struct SlotMap: Sendable, Equatable {
    /// The slots in ascending guest-physical order.
    public let slots: [MemorySlot]
    /// Known ranges that are not memory (MMIO, windows), to explain failed translations.
    public let holes: [MemoryHole]
    /// Whether the map is keyed by one device's I/O virtual addresses (its view through an IOMMU,
    /// ``IOVASpace/deviceMemory(_:)``) rather than by guest-physical addresses.
    public var isIOVA = false
    @usableFromInline let starts: [UInt64]

    /// Builds a map; throws if two slots overlap or a slot is empty.
    public init(slots: [MemorySlot], holes: [MemoryHole] = []) throws(SlotMapError) {
        let sorted = slots.sorted { $0.guest < $1.guest }
        for slot in sorted where slot.size == 0 {
            throw .emptySlot(slot.name, slot.guest)
        }
        // `b` starts at or after `a`; compare offsets, since `guestEnd` saturates at the top of the space.
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.guest.rawValue - a.guest.rawValue < a.size {
            throw .overlap(a, b)
        }
        self.slots = sorted
        self.holes = holes.sorted { $0.guest < $1.guest }
        self.starts = sorted.map(\.guest.rawValue)
    }

    /// The empty map.
    public static let empty = try! SlotMap(slots: [])

    /// The index in ``slots`` of the slot holding `gpa`, if any.
    @inlinable
    public func slotIndex(containing gpa: GuestPhysicalAddress) -> Int? {
        // Last slot whose start is <= gpa.
        var low = 0
        var high = starts.count
        while low < high {
            let mid = (low &+ high) >> 1
            if starts[mid] <= gpa.rawValue { low = mid &+ 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let slot = slots[low &- 1]
        return gpa.rawValue &- slot.guest.rawValue < slot.size ? low &- 1 : nil
    }

    /// The backing address of `gpa`, or `nil` when no slot holds it.
    @inlinable
    public func hostAddress(of gpa: GuestPhysicalAddress) -> UInt64? {
        guard let i = slotIndex(containing: gpa) else { return nil }
        let slot = slots[i]
        return slot.host &+ (gpa.rawValue &- slot.guest.rawValue)
    }

    /// Why `gpa` has no backing: the named hole it falls in, or where it lies relative to RAM.
    public func reasonUnmapped(_ gpa: GuestPhysicalAddress) -> String {
        reason(unmapped(gpa))
    }

    /// Why an address has no host address, as a key: equal keys have the same
    /// ``reasonUnmapped(_:)``, so bulk callers can say each reason once.
    public enum Unmapped: Hashable, Sendable {
        /// In ``holes``[index].
        case hole(Int)
        /// Past the last slot.
        case pastEnd
        /// Between slots, in no named hole.
        case between
        /// The map has no slot.
        case empty
    }

    /// Which of the reasons an address outside every slot has: the last hole holding it (holes are
    /// sorted by start; a binary search finds the last one starting at or below it), else past the
    /// end or between slots.
    public func unmapped(_ gpa: GuestPhysicalAddress) -> Unmapped {
        var low = 0, high = holes.count
        while low < high {
            let mid = (low + high) / 2
            if holes[mid].guest.rawValue <= gpa.rawValue { low = mid + 1 } else { high = mid }
        }
        // Holes starting after gpa cannot hold it; of the rest the last that holds it names it.
        if let index = holes[..<low].lastIndex(where: { $0.contains(gpa) }) { return .hole(index) }
        guard let last = slots.last else { return .empty }
        return gpa.rawValue >= last.guestEnd ? .pastEnd : .between
    }

    /// The sentence for one ``Unmapped`` key.
    public func reason(_ key: Unmapped) -> String {
        switch key {
        case .hole(let index):
            let hole = holes[index]
            return "in \(hole.name) (\(hole.guest)-\(Hex.string(hole.guest.rawValue &+ hole.size &- 1))), not RAM"
        case .empty: return "the slot map is empty"
        case .pastEnd: return "past the end of guest memory (\(Hex.string(slots.last.map(\.guestEnd) ?? 0)))"
        case .between: return "in no memory slot (a hole between RAM ranges)"
        }
    }

    /// Splits `count` bytes from `gpa` into backing pieces, one per slot crossed.
    /// Throws `.guestUnmapped` at the first byte no slot holds.
    public func pieces(from gpa: GuestPhysicalAddress, count: Int) throws(MemoryError) -> [(host: UInt64, count: Int)] {
        var result: [(host: UInt64, count: Int)] = []
        var address = gpa.rawValue
        var remaining = UInt64(count)
        while remaining > 0 {
            guard let i = slotIndex(containing: GuestPhysicalAddress(address)) else {
                throw .guestUnmapped(GuestPhysicalAddress(address), reason: reasonUnmapped(GuestPhysicalAddress(address)))
            }
            let slot = slots[i]
            let offset = address - slot.guest.rawValue
            let n = min(remaining, slot.size - offset)
            result.append((slot.host &+ offset, Int(n)))
            remaining -= n
            let (next, overflow) = address.addingReportingOverflow(n)
            if overflow && remaining > 0 { throw .guestUnmapped(GuestPhysicalAddress(.max), reason: "past the end of the address space") }
            address = next
        }
        return result
    }

    /// Total bytes held by the slots.
    public var totalSize: UInt64 { slots.reduce(0) { $0 &+ $1.size } }

    /// The guest-physical address whose bytes are at backing address `host`, if a slot holds it.
    public func guestAddress(ofHost host: UInt64) -> UInt64? {
        for slot in slots where host >= slot.host && host - slot.host < slot.size {
            return slot.guest.rawValue &+ (host - slot.host)
        }
        return nil
    }
}

/// A slot map that cannot be built as given.
public enum SlotMapError: Error, Equatable, Sendable, CustomStringConvertible {
    case overlap(MemorySlot, MemorySlot)
    case emptySlot(String, GuestPhysicalAddress)

    public var description: String {
        switch self {
        case let .overlap(a, b):
            return "memory slots overlap: \(a.name) at \(a.guest) (+\(Hex.string(a.size))) and \(b.name) at \(b.guest)"
        case let .emptySlot(name, gpa):
            return "memory slot \(name) at \(gpa) has size 0"
        }
    }
}
