/// A packed ring's event suppression areas as the device holds them, found in QEMU's own memory
/// without QMP: where a RAM scan cannot see them.
///
/// Linux allocates a packed ring's two event suppression areas apart from the ring (one page each,
/// usually the two pages below it, but not always), and a 4-byte area that reads all zero looks like
/// any zeroed page: the guest's memory alone cannot say where they are. The device knows. QEMU keeps
/// each queue's three ring addresses side by side (`VRing.desc`, `.avail`, `.used`: for a packed
/// ring the descriptor ring, the driver area and the device area), so where a found ring's
/// descriptor address is followed in QEMU's memory by two more guest-physical addresses of RAM,
/// those are its areas. Only QEMU's own anonymous writable memory is searched (its heap, never guest
/// RAM nor the TCG code buffer), resident pages only, a bounded number of bytes; a descriptor
/// address followed by more than one different pair is left undecided.
public enum DeviceRingAreas {
    /// A driver and a device area.
    public struct Areas: Hashable, Sendable {
        public var driver: UInt64
        public var device: UInt64

        public init(driver: UInt64, device: UInt64) {
            self.driver = driver
            self.device = device
        }
    }

    /// Bytes of QEMU's memory searched at most.
    public static let maximumBytes: UInt64 = 512 << 20

    /// Every 8-byte-aligned occurrence in `bytes` of a `wanted` descriptor address followed by two
    /// words `accept` takes, added to `found`. Pure.
    public static func search(_ bytes: UnsafeRawBufferPointer, wanted: Set<UInt64>, accept: (UInt64, UInt64, UInt64) -> Bool,
                              into found: inout [UInt64: Set<Areas>]) {
        guard bytes.count >= 24, let low = wanted.min(), let high = wanted.max() else { return }
        // Most words are no ring address: a range test first, the set only for those in range.
        let words = bytes.count / 8
        var i = 0
        while i + 2 < words {
            let value = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
            if value >= low && value <= high && wanted.contains(value) {
                let driver = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i + 8, as: UInt64.self))
                let device = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i + 16, as: UInt64.self))
                if accept(value, driver, device) { found[value, default: []].insert(Areas(driver: driver, device: device)) }
            }
            i += 1
        }
    }

    /// Whether a pair can be the event areas of the packed ring at `descriptors` (`size` slots):
    /// two distinct, non-zero, 4-byte-aligned guest-physical addresses outside the ring, each
    /// holding what the spec allows an event suppression structure (virtio 1.2, 2.8.10): flags 0
    /// (enable), 1 (disable) or 2 (desc), and an offset below the ring size. Other words that
    /// happen to follow a ring address in QEMU's memory (sizes, small counters) fail it.
    static func plausible(descriptors: UInt64, driver: UInt64, device: UInt64, size: Int, guest: GuestMemory) -> Bool {
        let ringBytes = 16 * UInt64(size)
        func outsideRing(_ a: UInt64) -> Bool { a < descriptors || a - descriptors >= ringBytes }
        func eventStructure(_ a: UInt64) -> Bool {
            guard let b = try? guest.bytes(at: GuestPhysicalAddress(a), count: 4) else { return false }
            let offWrap = UInt16(b[0]) | UInt16(b[1]) << 8, flags = UInt16(b[2]) | UInt16(b[3]) << 8
            return flags <= 2 && Int(offWrap & 0x7FFF) < size
        }
        return driver != device && driver != 0 && device != 0 && driver & 3 == 0 && device & 3 == 0
            && outsideRing(driver) && outsideRing(device) && eventStructure(driver) && eventStructure(device)
    }

    /// For each packed ring of `rings`, the one pair of areas that follows its descriptor address in
    /// QEMU's memory (read through `reader`, its `mappings`, guest RAM at `ram`'s host ranges left
    /// out; `resident` says which of its pages may be read) and holds event suppression structures
    /// in guest RAM (read through `ram` from the same process). Rings no pair or several pairs
    /// follow are not in the result.
    public static func find(for rings: [ScannedRing], reader: any MemoryReader, mappings: [ProcessMapping], ram: SlotMap,
                            resident: (@Sendable (UInt64, Int) -> [Bool])?, maximumBytes: UInt64 = maximumBytes) -> [UInt64: Areas] {
        let guest = GuestMemory(map: ram, reader: reader)
        let packed = rings.filter { $0.location.layout == .packed }
        guard !packed.isEmpty else { return [:] }
        let sizes = Dictionary(packed.map { ($0.location.descriptors.rawValue, Int($0.location.size)) }, uniquingKeysWith: max)
        let wanted = Set(sizes.keys)
        let guestRAM = ram.slots.map { ($0.host, $0.host &+ $0.size) }
        let regions = mappings.filter { m in
            m.readable && m.writable && !m.executable && !m.shared && (m.path.isEmpty || m.path == "[heap]")
                && !guestRAM.contains { m.start < $0.1 && $0.0 < m.end }
        }
        var found: [UInt64: Set<Areas>] = [:]
        var budget = maximumBytes
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        for region in regions where budget > 0 {
            var at = region.start
            while at < region.end && budget > 0 {
                let count = Int(min(UInt64(chunk), region.end - at, budget))
                budget -= UInt64(count)
                defer { at += UInt64(count) }
                // Resident runs only: reading the rest would make the kernel map pages into QEMU.
                // The page map's unit: the host's page.
                let pageSize = Int(Sys.pageSize)
                let pages = resident?(at, (count + pageSize - 1) / pageSize) ?? [Bool](repeating: true, count: (count + pageSize - 1) / pageSize)
                var page = 0
                while page < pages.count {
                    guard pages[page] else { page += 1; continue }
                    var end = page
                    while end < pages.count && pages[end] { end += 1 }
                    let runStart = at + UInt64(page * pageSize), runCount = min(count, end * pageSize) - page * pageSize
                    buffer.withUnsafeMutableBytes { raw in
                        let view = UnsafeMutableRawBufferPointer(rebasing: raw[0..<runCount])
                        guard (try? reader.read(at: runStart, into: view)) != nil else { return }
                        search(UnsafeRawBufferPointer(view), wanted: wanted, accept: { d, a, u in
                            plausible(descriptors: d, driver: a, device: u, size: sizes[d] ?? 1, guest: guest)
                        }, into: &found)
                    }
                    page = end
                }
            }
        }
        return found.compactMapValues { $0.count == 1 ? $0.first : nil }
    }
}
