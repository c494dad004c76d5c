/// The guest-physical pages behind the buffers a device holds, kept from when they were made
/// available. Behind an IOMMU the guest unmaps a buffer as soon as the device has used it, often
/// before a poll can read what the device wrote; but while the buffer was in flight its I/O virtual
/// addresses could not be remapped, so the page each one reached when it was made available is the
/// page the device wrote. Pins stand in only where the latest walk of the tables no longer maps an
/// address, and are dropped once no buffer in flight uses them.
public struct IOVAPins {
    /// Pinned I/O virtual pages (4 KiB, aligned) to the guest-physical pages they reached.
    private var pages: [UInt64: GuestPhysicalAddress] = [:]
    /// Most pages pinned per buffer element (a hostile length pins no more).
    public static let pagesPerElement: UInt64 = 16

    public init() {}

    /// The pages pinned.
    public var count: Int { pages.count }

    /// Pins the pages of `buffers` (the buffers in flight) as `ring` maps them now, keeping the
    /// earlier pin where it no longer does, and drops every other pin.
    public mutating func update(_ buffers: [Chain], through ring: RingMemory) {
        guard ring.isIOVA else { return pages.removeAll() }
        var kept: [UInt64: GuestPhysicalAddress] = [:]
        for chain in buffers {
            for element in chain.elements where element.length > 0 {
                let first = element.address.rawValue & ~0xFFF
                let last = element.address.rawValue &+ UInt64(element.length - 1)
                guard last >= first else { continue }
                let count = min((last - first) / 0x1000 + 1, Self.pagesPerElement)
                for k in 0..<count {
                    let page = first &+ k * 0x1000
                    if let gpa = ring.guestPhysical(of: GuestPhysicalAddress(page)) {
                        kept[page] = gpa
                    } else if let pinned = pages[page] {
                        kept[page] = pinned
                    }
                }
            }
        }
        pages = kept
    }

    /// `ring`'s memory with the pinned pages its walk no longer maps added back, read through
    /// `guest` (guest-physical memory over the same reader).
    public func memory(_ ring: RingMemory, guest: GuestMemory) -> GuestMemory {
        let view = ring.memory.map
        guard ring.isIOVA, !pages.isEmpty else { return ring.memory }
        var slots = view.slots
        for (page, gpa) in pages where view.slotIndex(containing: GuestPhysicalAddress(page)) == nil {
            guard let i = guest.map.slotIndex(containing: gpa) else { continue }
            let slot = guest.map.slots[i]
            let within = gpa.rawValue &- slot.guest.rawValue
            guard slot.size - within >= 0x1000 else { continue }
            slots.append(MemorySlot(guest: GuestPhysicalAddress(page), size: 0x1000, host: slot.host &+ within,
                                    name: "\(slot.name) via a mapping since unmapped", kind: slot.kind))
        }
        guard var map = try? SlotMap(slots: slots, holes: view.holes) else { return ring.memory }
        map.isIOVA = true
        return GuestMemory(map: map, reader: ring.memory.reader)
    }
}
