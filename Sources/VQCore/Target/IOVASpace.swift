/// One PCI device's DMA address space behind the Intel IOMMU: turns the I/O virtual addresses the
/// device uses (ring addresses, descriptors, indirect tables) into guest-physical ranges.
///
/// Pages walked are cached until ``refresh()`` (one refresh of the rings: a snapshot, a poll);
/// ``changes()`` walks the cached pages again and says which mappings moved since. For a device
/// whose DMA is not translated (translation off, pass-through) every address maps to itself.
///
/// Everything is read through ``GuestMemory``, read-only; each walk reads at most one entry per
/// page-table level.
public struct IOVASpace {
    /// The device.
    public let device: PCIAddress
    /// How its DMA is translated.
    public let translation: VTdDeviceTranslation
    /// Guest-physical memory the tables and pages are read from.
    public let memory: GuestMemory
    /// Walked pages by first IOVA.
    private var cache: [UInt64: IOVAMapping] = [:]

    /// The space of `device`, finding its translation from the DMAR registers and the tables in `memory`.
    public init(device: PCIAddress, registers: VTdRegisters, memory: GuestMemory) throws(IOMMUTranslationError) {
        self.init(device: device, translation: try VTdDeviceTranslation(device: device, registers: registers, memory: memory), memory: memory)
    }

    /// The space of `device` with a translation already found.
    public init(device: PCIAddress, translation: VTdDeviceTranslation, memory: GuestMemory) {
        self.device = device
        self.translation = translation
        self.memory = memory
    }

    /// Whether every address maps to itself (the device's DMA is not translated).
    public var isIdentity: Bool {
        if case .untranslated = translation { return true }
        return false
    }

    /// The pages walked since the last ``refresh()``, in IOVA order.
    public var cachedMappings: [IOVAMapping] { cache.values.sorted { $0.iova < $1.iova } }

    /// Forgets the walked pages: the next translations walk the tables again.
    public mutating func refresh() { cache.removeAll(keepingCapacity: true) }

    /// The page that maps `iova`, from the cache or walked (and cached).
    public mutating func mapping(containing iova: UInt64) throws(IOMMUTranslationError) -> IOVAMapping {
        guard case let .pageTables(tables) = translation else {
            return IOVAMapping(iova: iova & ~0xFFF, size: 0x1000, gpa: GuestPhysicalAddress(iova & ~0xFFF), access: [.read, .write], level: 0)
        }
        for size: UInt64 in [0x1000, 0x20_0000, 0x4000_0000] {
            if let hit = cache[iova & ~(size - 1)], hit.size == size { return hit }
        }
        let walked = try tables.translate(iova, memory: memory)
        cache[walked.iova] = walked
        return walked
    }

    /// Where `count` bytes from `iova` are in guest RAM: one piece per run of pages that follow on
    /// in guest-physical memory too, in IOVA order. Throws at the first byte that is not mapped, not
    /// RAM, or not mapped with `needs` (the access the device needs there: read for what it reads,
    /// write for what it fills; empty to accept any mapping).
    public mutating func translate(_ iova: UInt64, count: UInt64, needs: IOMMUAccess = []) throws(IOMMUTranslationError) -> [IOVAPiece] {
        guard count > 0 else { return [] }
        guard iova <= UInt64.max - (count - 1) else { throw .beyondAddressWidth(iova: iova, bits: 64) }
        if isIdentity {
            if let bad = memory.map.firstUnmapped(from: GuestPhysicalAddress(iova), count: count) {
                throw .mappedOutsideRAM(iova: bad.rawValue, gpa: bad)
            }
            return [IOVAPiece(iova: iova, gpa: GuestPhysicalAddress(iova), count: count, access: [.read, .write])]
        }
        var pieces: [IOVAPiece] = []
        var at = iova
        var remaining = count
        while remaining > 0 {
            let page = try mapping(containing: at)
            guard page.access.isSuperset(of: needs) else { throw .permission(iova: at, has: page.access, needs: needs) }
            let n = min(remaining, page.size - (at - page.iova))
            let gpa = page.guestPhysical(of: at)
            if let bad = memory.map.firstUnmapped(from: gpa, count: n) {
                throw .mappedOutsideRAM(iova: at &+ (bad.rawValue &- gpa.rawValue), gpa: bad)
            }
            if var last = pieces.last, last.access == page.access, last.gpa.rawValue &+ last.count == gpa.rawValue {
                last.count += n
                pieces[pieces.count - 1] = last
            } else {
                pieces.append(IOVAPiece(iova: at, gpa: gpa, count: n, access: page.access))
            }
            remaining -= n
            at &+= n
        }
        return pieces
    }

    /// The cached pages whose mapping is not what it was when walked: the guest remapped or unmapped
    /// them since. Walks each cached page again; the cache is left as it was.
    public func changes() -> [IOVAMappingChange] {
        guard case let .pageTables(tables) = translation else { return [] }
        var changes: [IOVAMappingChange] = []
        for before in cachedMappings {
            let now: Result<IOVAMapping, IOMMUTranslationError>
            do {
                now = .success(try tables.translate(before.iova, memory: memory))
            } catch {
                now = .failure(error)
            }
            if now != .success(before) { changes.append(IOVAMappingChange(before: before, now: now)) }
        }
        return changes
    }

    /// Every page of the device's domain (empty for an untranslated device), reading at most
    /// `maxTables` tables.
    public func allMappings(maxTables: Int = 4096) -> IOVAMappingList {
        guard case let .pageTables(tables) = translation else { return IOVAMappingList() }
        return tables.allMappings(memory: memory, maxTables: maxTables)
    }

    /// Guest memory as the device sees it: a ``GuestMemory`` whose slot map is keyed by I/O virtual
    /// address, one slot per run of `mappings` in RAM, over the same reader. The ring decoders read
    /// a device's rings through it unchanged, and name an address the device cannot reach as
    /// unmapped. An untranslated device sees guest memory itself.
    public func deviceMemory(_ mappings: IOVAMappingList) -> GuestMemory {
        guard case let .pageTables(tables) = translation else { return memory }
        let map = memory.map
        var slots: [MemorySlot] = []
        let reach: UInt64 = tables.addressBits >= 64 ? .max : 1 << UInt64(tables.addressBits)
        var holes = [MemoryHole(guest: GuestPhysicalAddress(0), size: reach, name: "I/O virtual addresses the IOMMU does not map for \(device)")]
        for run in mappings.runs {
            var offset: UInt64 = 0
            while offset < run.count {
                let gpa = GuestPhysicalAddress(run.gpa.rawValue &+ offset)
                let left = run.count - offset
                if let i = map.slotIndex(containing: gpa) {
                    let slot = map.slots[i]
                    let within = gpa.rawValue &- slot.guest.rawValue
                    let n = min(left, slot.size - within)
                    slots.append(MemorySlot(guest: GuestPhysicalAddress(run.iova &+ offset), size: n, host: slot.host &+ within,
                                            name: "\(slot.name) via IOMMU", kind: slot.kind))
                    offset += n
                } else {
                    let next = map.slots.first(where: { $0.guest > gpa }).map { $0.guest.rawValue &- gpa.rawValue } ?? left
                    let n = min(left, next)
                    holes.append(MemoryHole(guest: GuestPhysicalAddress(run.iova &+ offset), size: n,
                                            name: "an IOMMU mapping to guest-physical \(gpa), which is not RAM"))
                    offset += n
                }
            }
        }
        // Runs never overlap (each page is one IOVA range), so the map always builds.
        var view = (try? SlotMap(slots: slots, holes: holes)) ?? SlotMap.empty
        view.isIOVA = true
        return GuestMemory(map: view, reader: memory.reader)
    }
}

/// A cached page whose mapping changed: what it was, and what walking it again gave.
public struct IOVAMappingChange: Equatable, Sendable {
    public var before: IOVAMapping
    public var now: Result<IOVAMapping, IOMMUTranslationError>

    public init(before: IOVAMapping, now: Result<IOVAMapping, IOMMUTranslationError>) {
        self.before = before
        self.now = now
    }
}
