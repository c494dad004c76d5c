/// Walking a device's second-level page tables (Intel VT-d 4.x, 3.7 and 9.8; QEMU's
/// vtd_iova_to_slpte and vtd_page_walk_level), read-only, bounded by the levels.
///
/// Per level the walk takes 9 bits of the IOVA (bits 12 + 9 × (level − 1) upwards) as the index of
/// an 8-byte entry in a 4 KiB table. An entry's read (bit 0) and write (bit 1) permissions stack
/// with those above it; an entry left with neither is not present. Bit 7 at level 2 or 3 ends the
/// walk with a 2 MiB or 1 GiB page; level 1 always does. The next table or the page is bits 51:12
/// below the host address width.
///
/// Reserved bits QEMU faults on are checked: address bits at or above the host address width
/// (below 52), bit 7 at level 4 or 5, and the address bits below a large page's size. Bits 11
/// (snoop) and 62 (transient mapping), which QEMU allows or refuses by its options, are ignored.
extension VTdPageTables {
    /// The page that maps `iova`, after at most ``levels`` reads of 8 bytes.
    public func translate(_ iova: UInt64, memory: GuestMemory) throws(IOMMUTranslationError) -> IOVAMapping {
        guard iova >> UInt64(addressBits) == 0 else { throw .beyondAddressWidth(iova: iova, bits: addressBits) }
        var table = root
        var access: IOMMUAccess = [.read, .write]
        var tables: [UInt64] = []
        tables.reserveCapacity(levels)
        for level in stride(from: levels, through: 1, by: -1) {
            if tables.contains(table.rawValue) { throw .tableLoop(iova: iova, level: level, table: table) }
            tables.append(table.rawValue)
            let shift = Self.shift(level)
            let index = (iova >> shift) & 0x1FF
            let entry = VTdPageTableEntry(value: try VTdDeviceTranslation.read8(memory, table, plus: index * 8, .pageTable(level: level)))
            access.formIntersection(entry.access)
            guard !access.isEmpty else { throw .unmapped(iova: iova, level: level) }
            if reservedBits(entry, level: level) != 0 { throw .reservedBits(iova: iova, level: level, entry: entry.value) }
            if level == 1 || entry.isLargePage {
                let size: UInt64 = 1 << shift
                return IOVAMapping(iova: iova & ~(size - 1), size: size, gpa: GuestPhysicalAddress(entry.value & addressMask & ~(size - 1)),
                                   access: access, level: level)
            }
            table = GuestPhysicalAddress(entry.value & addressMask)
        }
        // Unreachable: level 1 always ends the walk.
        throw .unmapped(iova: iova, level: 1)
    }

    /// Every page the tables map, in IOVA order, reading each table at most once (4 KiB at a time,
    /// one batched read per level) and at most `maxTables` tables. Tables that cannot be read, that
    /// the walk reaches a second time (a loop, or tables shared between entries) or entries with
    /// reserved bits are left out and named in ``IOVAMappingList/problems``.
    public func allMappings(memory: GuestMemory, maxTables: Int = 4096) -> IOVAMappingList {
        var list = IOVAMappingList()
        var seen: Set<UInt64> = []
        // Tables to read at the current level: (table, first IOVA it covers, access so far).
        var frontier: [(table: GuestPhysicalAddress, iova: UInt64, access: IOMMUAccess)] = [(root, 0, [.read, .write])]
        let limit: UInt64 = addressBits >= 64 ? .max : (1 << UInt64(addressBits)) - 1
        var level = levels
        while level >= 1 && !frontier.isEmpty {
            var readable: [(table: GuestPhysicalAddress, iova: UInt64, access: IOMMUAccess)] = []
            for item in frontier {
                guard seen.insert(item.table.rawValue).inserted else {
                    list.problems.append(.tableLoop(iova: item.iova, level: level, table: item.table))
                    continue
                }
                guard list.tablesRead < max(0, maxTables) else {
                    list.problems.append(.tooManyTables(limit: maxTables))
                    list.mappings.sort { $0.iova < $1.iova }
                    return list
                }
                if memory.map.firstUnmapped(from: item.table, count: 4096) != nil {
                    list.problems.append(.tableOutsideRAM(.pageTable(level: level), item.table))
                    continue
                }
                list.tablesRead += 1
                readable.append(item)
            }
            let tables = Self.readTables(readable.map(\.table), memory: memory, level: level, problems: &list.problems)
            var next: [(table: GuestPhysicalAddress, iova: UInt64, access: IOMMUAccess)] = []
            let shift = Self.shift(level)
            for (item, entries) in zip(readable, tables) {
                guard let entries else { continue }
                for index in 0..<512 {
                    let iova = item.iova | UInt64(index) << shift
                    guard iova <= limit else { break }
                    let entry = VTdPageTableEntry(value: entries[index])
                    let access = item.access.intersection(entry.access)
                    if access.isEmpty { continue }
                    if reservedBits(entry, level: level) != 0 {
                        list.problems.append(.reservedBits(iova: iova, level: level, entry: entry.value))
                        continue
                    }
                    if level == 1 || entry.isLargePage {
                        let size: UInt64 = 1 << shift
                        list.mappings.append(IOVAMapping(iova: iova, size: size, gpa: GuestPhysicalAddress(entry.value & addressMask & ~(size - 1)),
                                                         access: access, level: level))
                    } else {
                        next.append((GuestPhysicalAddress(entry.value & addressMask), iova, access))
                    }
                }
            }
            frontier = next
            level -= 1
        }
        list.mappings.sort { $0.iova < $1.iova }
        return list
    }

    /// Reads whole tables in one batch; if the batch fails, each table's own answer (a failure is a problem, `nil`).
    private static func readTables(_ tables: [GuestPhysicalAddress], memory: GuestMemory, level: Int,
                                   problems: inout [IOMMUTranslationError]) -> [[UInt64]?] {
        guard !tables.isEmpty else { return [] }
        var storage = [UInt64](repeating: 0, count: 512 * tables.count)
        var ok = [Bool](repeating: true, count: tables.count)
        storage.withUnsafeMutableBytes { raw in
            func slice(_ i: Int) -> UnsafeMutableRawBufferPointer {
                UnsafeMutableRawBufferPointer(rebasing: raw[i * 4096..<(i + 1) * 4096])
            }
            let ranges = tables.indices.map { (gpa: tables[$0], buffer: slice($0)) }
            do { try memory.read(ranges) } catch {
                for (i, failure) in memory.readEach(ranges).enumerated() {
                    guard let failure else { continue }
                    ok[i] = false
                    problems.append(VTdDeviceTranslation.tableError(failure, table: tables[i], .pageTable(level: level)))
                }
            }
        }
        return tables.indices.map { i in
            ok[i] ? storage[i * 512..<(i + 1) * 512].map { UInt64(littleEndian: $0) } : nil
        }
    }

    /// The IOVA bit where a level's index starts: 12, 21, 30, 39, 48.
    static func shift(_ level: Int) -> UInt64 { UInt64(12 + 9 * (level - 1)) }

    /// Bits 51:12 below the host address width.
    var addressMask: UInt64 {
        let width = UInt64(min(max(hostAddressWidth, 12), 52))
        return ((1 << width) - 1) & ~0xFFF
    }

    /// The reserved bits set in a present entry at `level` (0 when none).
    func reservedBits(_ entry: VTdPageTableEntry, level: Int) -> UInt64 {
        let width = UInt64(min(max(hostAddressWidth, 12), 52))
        var reserved: UInt64 = ((1 << 52) - 1) & ~((1 << width) - 1)
        if entry.isLargePage {
            if level >= 4 {
                reserved |= 1 << 7
            } else if level >= 2 {
                reserved |= ((1 << Self.shift(level)) - 1) & ~0xFFF
            }
        }
        return entry.value & reserved
    }
}

/// Every page of a device's DMA domain, and what the walk could not read.
public struct IOVAMappingList: Equatable, Sendable {
    /// The pages, in IOVA order.
    public var mappings: [IOVAMapping] = []
    /// Tables left unread or entries left out, each named.
    public var problems: [IOMMUTranslationError] = []
    /// Tables read (4 KiB each).
    public var tablesRead = 0

    public init(mappings: [IOVAMapping] = [], problems: [IOMMUTranslationError] = [], tablesRead: Int = 0) {
        self.mappings = mappings
        self.problems = problems
        self.tablesRead = tablesRead
    }

    /// The mappings merged into runs: consecutive pages whose IOVAs and GPAs both follow on, with
    /// the same access.
    public var runs: [IOVAPiece] {
        var runs: [IOVAPiece] = []
        for m in mappings {
            if var last = runs.last, last.access == m.access, last.iova &+ last.count == m.iova,
               last.gpa.rawValue &+ last.count == m.gpa.rawValue {
                last.count &+= m.size
                runs[runs.count - 1] = last
            } else {
                runs.append(IOVAPiece(iova: m.iova, gpa: m.gpa, count: m.size, access: m.access))
            }
        }
        return runs
    }
}
