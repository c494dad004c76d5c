import Glibc

/// QEMU's own KVM memory-slot table, recovered from a live QEMU/KVM process by
/// ``KVMSlotScanner``, and the slot map it gives.
public struct KVMSlotScan: Sendable {
    /// Guest-physical → host-virtual map of the guest's normal ("memory") address space.
    public var map: SlotMap
    /// The used slots, in ascending guest-physical order.
    public var slots: [MemorySlot] { map.slots }
    /// Host-virtual address of the array's first record (slot 0).
    public var arrayAddress: UInt64
    /// Bytes per record, as inferred: 48 up to QEMU 6.0, 72 from 6.1, 88 with the guest_memfd fields.
    public var stride: Int
    /// Records in the array (QEMU's `nr_slots`: KVM_CAP_NR_MEMSLOTS, often 32764), used or free.
    public var capacity: Int
    /// The address-space id the records carry (0: "memory"), or `nil` where the layout has no
    /// `as_id` field (QEMU 6.0 and older) and the array was chosen by coverage instead.
    public var addressSpaceID: Int?
    /// Arrays that passed every check, the chosen one included (two on x86: memory and SMRAM),
    /// before refusing those that lie in another one's guest RAM.
    public var candidates: Int
}

/// Finds QEMU's array of `KVMSlot` records (accel/kvm, `include/sysemu/kvm_int.h`) in the memory of
/// a live QEMU process, without debug symbols, and turns it into a ``SlotMap``.
///
/// A record starts `{u64 start_addr; u64 memory_size; void *ram; i32 slot; i32 flags; i32 old_flags; ...}`;
/// its length (the stride) depends on the QEMU version and is inferred, trying every multiple of 8
/// from 40 to 160. QEMU sets `slots[i].slot = i` for every record, used or free, so the anchor is a run
/// of ids counting 0, 1, 2, ... at one stride. An array is accepted when it has at least
/// ``minimumRecords`` counting records, at least one used record (`memory_size != 0`), every used
/// record valid (page-aligned guest start, size and host pointer; known flag bits; guest range below
/// 2^52; `ram..ram+size` inside readable mappings, writable unless the slot is read-only) and no two
/// used guest ranges overlapping.
///
/// Where it looks: `[heap]` and anonymous private writable mappings (the array is `g_new0`'d: with
/// QEMU's fixed `nr_slots` of 32764 records, 2.3 MiB that glibc serves with its own mmap; with the
/// dynamically sized array of QEMU 9.2, backported to Debian's 7.2, 16 records or more in the heap),
/// in chunks of a few MiB. `[heap]` and mappings up to 16 MiB are all read; larger ones up to 256 MiB
/// unless an array found so far points to them as guest RAM; larger ones still only when nothing
/// acceptable was found.
///
/// Guest RAM is written by the guest, which could plant a look-alike array there: an array lying in a
/// mapping that any valid array points to as guest RAM is refused. If a planted array also pointed at
/// the real one's mapping, both are refused and the scan fails rather than guess.
///
/// Which array: x86 QEMU keeps two, one per KVM address space: "memory" (as_id 0) and SMRAM (as_id 1,
/// `kvm-smram`). Where the layout has the `as_id` field (strides of 56 and up) and every used record of
/// an array agrees on it, the array with as_id 0 is chosen. Without it (48-byte records), the array
/// covering the fewest bytes is: the SMRAM address space maps all of normal memory plus SMRAM, so the
/// normal one is the subset (and when SMRAM is closed the two are the same map). Ties go to the array
/// with more records (a grown array supersedes a stale copy), then to `[heap]` and smaller mappings;
/// two different arrays that still tie are refused as ambiguous.
public enum KVMSlotScanner {
    /// Fewest consecutive counting records that make an array.
    public static let minimumRecords = 8

    /// Finds QEMU's KVMSlot array among `mappings` of a process read through `memory`.
    /// Throws `.noSlotMap` with the reason when there is none (not a KVM guest, or only refused
    /// look-alikes), and `.noSuchProcess`/`.permissionDenied` when the process cannot be read.
    public static func scan(memory: any MemoryReader, mappings: [ProcessMapping]) throws(TargetError) -> KVMSlotScan {
        try scan(memory: memory, mappings: mappings, limits: Limits())
    }

    /// Scans a live QEMU process: its memory through ``ProcessMemory``, its `/proc/PID/maps`.
    public static func scan(process: QEMUProcess) throws(TargetError) -> KVMSlotScan {
        try scan(memory: ProcessMemory(pid: process.pid), mappings: process.mappings())
    }

    /// Bounds of the work (tests shrink them).
    struct Limits {
        /// Bytes read at once while searching a mapping.
        var chunkSize = 4 << 20
        /// Mappings up to this size (and `[heap]`) are all searched. Larger ones that an array found in
        /// them points to as guest RAM are skipped: it is guest RAM that makes a QEMU process big.
        var smallMapping: UInt64 = 16 << 20
        /// Mappings larger than this are searched only when the others hold no acceptable array.
        var largeMapping: UInt64 = 256 << 20
        /// Most records read from one array.
        var maxRecords = 1 << 17
        /// Re-reads of an array that counts but fails a check (QEMU may be changing a slot).
        var retries = 2
    }

    static func scan(memory: any MemoryReader, mappings: [ProcessMapping], limits: Limits) throws(TargetError) -> KVMSlotScan {
        let pid = (memory as? ProcessMemory)?.pid
        let target = pid.map { "process \($0)" } ?? "the target"
        var search = Search(memory: memory, mappings: mappings.sorted { $0.start < $1.start }, limits: limits)

        let searchable = search.mappings.indices
            .filter { search.mappings[$0].mayHoldSlotArray }
            .sorted { search.trust($0) < search.trust($1) }
        func size(_ i: Int) -> UInt64 { search.mappings[i].size }
        // 1. The heap and small mappings, all of them: where QEMU's array is.
        try search.search(searchable.filter { search.trust($0).0 == 0 || size($0) <= limits.smallMapping })
        // 2. Medium ones, except guest RAM of what step 1 found: anything there would be refused anyway.
        var guestRAM = search.guestRAM()
        try search.search(searchable.filter {
            search.trust($0).0 != 0 && size($0) > limits.smallMapping && size($0) <= limits.largeMapping && !guestRAM.contains($0)
        })
        var accepted = search.accepted()
        // 3. Large ones only when nothing was found.
        if accepted.isEmpty {
            guestRAM = search.guestRAM()
            try search.search(searchable.filter { search.trust($0).0 != 0 && size($0) > limits.largeMapping && !guestRAM.contains($0) })
            accepted = search.accepted()
        }

        guard !accepted.isEmpty else {
            if !search.found.isEmpty {
                throw .noSlotMap("\(target) holds \(search.found.count) KVMSlot-like arrays, but each lies in memory that another one maps as guest RAM, where the guest could have planted it; refusing them (try --slots qmp or --slots maps)")
            }
            var detail = "searched \(search.searchedMappings) mappings, \(Hex.humanSize(search.searchedBytes))"
            if search.lookalikes > 0 { detail += "; refused \(search.lookalikes) look-alike arrays, the last because \(search.lastRefusal)" }
            throw .noSlotMap("no KVMSlot array in \(target) (\(detail)): is it running under KVM? (try --slots qmp or --slots maps)")
        }
        let chosen = try choose(accepted, search: search, target: target)
        let slots = chosen.records.map { search.memorySlot(for: $0) }
        let map: SlotMap
        do { map = try SlotMap(slots: slots) } catch {
            throw .noSlotMap("the KVMSlot array at \(Hex.string(chosen.address)) in \(target) does not form a slot map: \(error)")
        }
        return KVMSlotScan(map: map, arrayAddress: chosen.address, stride: chosen.stride, capacity: chosen.capacity,
                           addressSpaceID: chosen.addressSpaceID, candidates: search.found.count)
    }

    /// The array of the normal memory address space among arrays that are all acceptable.
    private static func choose(_ accepted: [Candidate], search: Search, target: String) throws(TargetError) -> Candidate {
        let pool: [Candidate]
        let normal = accepted.filter { $0.addressSpaceID == 0 }
        let unknown = accepted.filter { $0.addressSpaceID == nil }
        if !normal.isEmpty {
            pool = normal
        } else if !unknown.isEmpty {
            pool = unknown
        } else {
            let ids = Set(accepted.compactMap(\.addressSpaceID)).sorted().map(String.init).joined(separator: ", ")
            throw .noSlotMap("\(target) holds KVMSlot arrays only for KVM address space \(ids) (SMRAM), none for normal memory (try --slots qmp)")
        }
        // Least coverage first only where the address space is unknown (see the type's comment).
        func rank(_ c: Candidate) -> (UInt64, Int) { (c.addressSpaceID == nil ? c.coverage : 0, -c.capacity) }
        func key(_ c: Candidate) -> (UInt64, Int, Int, UInt64, UInt64, UInt64) {
            let (r, t) = (rank(c), search.trust(c.home))
            return (r.0, r.1, t.0, t.1, t.2, c.address)
        }
        let ordered = pool.sorted { key($0) < key($1) }
        let best = ordered[0]
        if let rival = ordered.dropFirst().first(where: { rank($0) == rank(best) && $0.content != best.content }) {
            throw .noSlotMap("\(target) holds different KVMSlot arrays for the same address space at \(Hex.string(best.address)) and \(Hex.string(rival.address)); cannot tell which is QEMU's (try --slots qmp)")
        }
        return best
    }
}

// MARK: - The search

/// One used record of an array.
private struct UsedRecord {
    var id: Int
    var start: UInt64
    var size: UInt64
    var ram: UInt64
    var flags: UInt32
    var oldFlags: UInt32
    /// The word where the layout keeps `as_id`, if it has one.
    var asField: UInt32?
}

/// An array that passed every check.
private struct Candidate {
    var address: UInt64
    var stride: Int
    var capacity: Int
    var records: [UsedRecord]
    /// Index of the mapping holding the array.
    var home: Int
    /// Indices of the mappings its used records point into.
    var guestRAM: Set<Int>
    var addressSpaceID: Int?
    var coverage: UInt64
    /// (start, size, ram) of every used record, sorted: what the array says, for comparing arrays.
    var content: [UInt64]
}

private enum Parse {
    case notArray
    /// `transient`: a slot or two are inconsistent, as while QEMU rewrites one; worth a re-read.
    case refused(String, transient: Bool)
    case valid(Candidate)
}

private extension ProcessMapping {
    /// Where a `g_new0` array can be: the heap or anonymous private writable memory.
    var mayHoldSlotArray: Bool {
        readable && writable && !shared && (path.isEmpty || path == "[heap]" || path.hasPrefix("[anon:"))
    }
}

private struct Search {
    let memory: any MemoryReader
    let mappings: [ProcessMapping]
    let limits: KVMSlotScanner.Limits
    var found: [Candidate] = []
    var seen: Set<[UInt64]> = []
    var lookalikes = 0
    var lastRefusal = ""
    var searchedMappings = 0
    var searchedBytes: UInt64 = 0

    /// The host's page size: KVM refuses memory slots not aligned to it.
    static var page: UInt64 { Sys.pageSize }
    static let strides = Array(stride(from: 40, through: 160, by: 8))
    static let slotField = 24
    /// KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD.
    static let knownFlags: UInt32 = 0x7
    static let readOnlyFlag: UInt32 = 0x2
    /// Largest guest-physical address of any host KVM supports (52 bits on x86 and arm64).
    static let guestPhysicalLimit: UInt64 = 1 << 52

    init(memory: any MemoryReader, mappings: [ProcessMapping], limits: KVMSlotScanner.Limits) {
        self.memory = memory
        self.mappings = mappings
        self.limits = limits
    }

    /// Sort key for how much a mapping is trusted to hold QEMU's own data: `[heap]`, then smaller ones.
    func trust(_ index: Int) -> (Int, UInt64, UInt64) {
        let m = mappings[index]
        return (m.path == "[heap]" ? 0 : 1, m.size, m.start)
    }

    /// Mappings that some valid array points to as guest RAM.
    func guestRAM() -> Set<Int> { found.reduce(into: []) { $0.formUnion($1.guestRAM) } }

    /// Valid arrays that do not lie in guest RAM of any valid array.
    func accepted() -> [Candidate] {
        let ram = guestRAM()
        return found.filter { !ram.contains($0.home) }
    }

    // MARK: Reading

    /// Turns a read failure into a scan failure when the whole process is out of reach; else nil
    /// (the piece is skipped).
    func fatal(_ error: MemoryError) -> TargetError? {
        switch error {
        case .processGone(let pid): return .noSuchProcess(pid: pid)
        case .permissionDenied(let pid): return .permissionDenied(pid: pid, what: "the memory")
        default: return nil
        }
    }

    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(TargetError) -> Bool {
        do {
            try memory.read(at: address, into: buffer)
            return true
        } catch {
            if let fatal = fatal(error) { throw fatal }
            return false
        }
    }

    // MARK: Finding anchors

    /// Searches each mapping, chunk by chunk, for records 0, 1, 2, 3 at one stride.
    mutating func search(_ indices: [Int]) throws(TargetError) {
        guard !indices.isEmpty else { return }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: limits.chunkSize, alignment: 8)
        defer { chunk.deallocate() }
        for index in indices {
            let mapping = mappings[index]
            searchedMappings += 1
            var address = mapping.start
            while address < mapping.end {
                let count = Int(min(UInt64(limits.chunkSize), mapping.end - address))
                let buffer = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<count])
                if try read(at: address, into: buffer) {
                    searchedBytes += UInt64(count)
                    try searchChunk(UnsafeRawBufferPointer(buffer), at: address, in: index)
                }
                address += UInt64(count)
            }
        }
    }

    /// Every 8-byte-aligned 32-bit 1 in the chunk is tried as the `slot` field of record 1.
    private mutating func searchChunk(_ chunk: UnsafeRawBufferPointer, at base: UInt64, in index: Int) throws(TargetError) {
        let mapping = mappings[index]
        let words = chunk.count / 8
        for word in 0..<words where chunk.load(fromByteOffset: word &* 8, as: UInt32.self) == 1 {
            let id1 = base + UInt64(word * 8)
            for stride in Self.strides {
                let s = UInt64(stride)
                guard id1 - mapping.start >= s + UInt64(Self.slotField), mapping.end - id1 >= 2 * s + 4,
                      try id(at: id1 - s, chunk, base) == 0,
                      try id(at: id1 + s, chunk, base) == 2,
                      try id(at: id1 + 2 * s, chunk, base) == 3
                else { continue }
                let address = id1 - s - UInt64(Self.slotField)
                guard seen.insert([address, s]).inserted else { continue }
                try examine(address, stride: stride, home: index)
            }
        }
    }

    /// The 32-bit word at `address`, from the chunk when it holds it, else read alone.
    private func id(at address: UInt64, _ chunk: UnsafeRawBufferPointer, _ base: UInt64) throws(TargetError) -> UInt32? {
        if address >= base, address - base <= UInt64(chunk.count) - 4 {
            return chunk.loadUnaligned(fromByteOffset: Int(address - base), as: UInt32.self)
        }
        var value: UInt32 = 0
        let ok = try rethrowing(TargetError.self) { try withUnsafeMutableBytes(of: &value) { try read(at: address, into: $0) } }
        return ok ? UInt32(littleEndian: value) : nil
    }

    // MARK: Checking an array

    /// Parses the array at `address`, re-reading it a few times if it counts but fails a check
    /// (QEMU writes a slot's fields one by one while the guest changes its memory map).
    private mutating func examine(_ address: UInt64, stride: Int, home: Int) throws(TargetError) {
        for attempt in 0...limits.retries {
            switch try parse(address, stride: stride, home: home) {
            case .notArray:
                return
            case .valid(let candidate):
                found.append(candidate)
                return
            case .refused(let reason, let transient):
                if attempt == limits.retries || !transient {
                    lookalikes += 1
                    lastRefusal = "at \(Hex.string(address)) (stride \(stride)): \(reason)"
                    return
                }
                usleep(1000)
            }
        }
    }

    private func parse(_ address: UInt64, stride: Int, home: Int) throws(TargetError) -> Parse {
        let mapping = mappings[home]
        let most = min(limits.maxRecords, Int((mapping.end - address) / UInt64(stride)))
        let perBlock = max(1, min(most, (1 << 20) / stride))
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: perBlock * stride, alignment: 8)
        defer { block.deallocate() }
        let asOffset: Int? = stride >= 72 ? 56 : (stride >= 56 ? 48 : nil)

        var count = 0
        var used: [UsedRecord] = []
        reading: while count < most {
            let n = min(perBlock, most - count)
            let bytes = UnsafeMutableRawBufferPointer(rebasing: block[0..<(n * stride)])
            guard try read(at: address + UInt64(count * stride), into: bytes) else { break }
            for j in 0..<n {
                let r = j * stride
                guard bytes.load(fromByteOffset: r + Self.slotField, as: UInt32.self) == UInt32(truncatingIfNeeded: count) else { break reading }
                let size = bytes.load(fromByteOffset: r + 8, as: UInt64.self)
                if size != 0 {
                    used.append(UsedRecord(id: count, start: bytes.load(fromByteOffset: r, as: UInt64.self), size: size,
                                           ram: bytes.load(fromByteOffset: r + 16, as: UInt64.self),
                                           flags: bytes.load(fromByteOffset: r + 28, as: UInt32.self),
                                           oldFlags: bytes.load(fromByteOffset: r + 32, as: UInt32.self),
                                           asField: asOffset.map { bytes.load(fromByteOffset: r + $0, as: UInt32.self) }))
                }
                count += 1
            }
        }
        guard count >= KVMSlotScanner.minimumRecords else { return .notArray }
        guard !used.isEmpty else { return .refused("no used slot", transient: false) }

        var ram: Set<Int> = []
        var problems: [String] = []
        for record in used {
            if let problem = check(record, into: &ram) { problems.append(problem) }
        }
        if !problems.isEmpty {
            return .refused(problems[0], transient: problems.count <= 2 && problems.count < used.count)
        }
        let sorted = used.sorted { $0.start < $1.start }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.start < a.start + a.size {
            return .refused("slots \(a.id) and \(b.id) overlap at guest \(Hex.string(b.start))", transient: true)
        }

        var addressSpaceID: Int?
        if asOffset != nil, let first = used.first?.asField, first < 16, used.allSatisfy({ $0.asField == first }) {
            addressSpaceID = Int(first)
        }
        return .valid(Candidate(address: address, stride: stride, capacity: count, records: sorted, home: home,
                                guestRAM: ram, addressSpaceID: addressSpaceID,
                                coverage: used.reduce(0) { $0 + $1.size },
                                content: sorted.flatMap { [$0.start, $0.size, $0.ram] }))
    }

    /// Why a used record cannot be QEMU's, or nil when it can; adds the mappings it points into to `ram`.
    private func check(_ record: UsedRecord, into ram: inout Set<Int>) -> String? {
        let what = "slot \(record.id) (guest \(Hex.string(record.start)) +\(Hex.string(record.size)), host \(Hex.string(record.ram)))"
        guard record.start % Self.page == 0, record.size % Self.page == 0, record.ram % Self.page == 0, record.ram != 0 else {
            return "\(what) is not page-aligned"
        }
        guard record.size <= Self.guestPhysicalLimit, record.start <= Self.guestPhysicalLimit - record.size else {
            return "\(what) lies past the largest guest-physical address"
        }
        guard record.flags & ~Self.knownFlags == 0, record.oldFlags & ~Self.knownFlags == 0 else {
            return "\(what) has unknown flags \(Hex.string(UInt64(record.flags)))"
        }
        let writable = record.flags & Self.readOnlyFlag == 0
        guard let chain = chain(from: record.ram, size: record.size, writable: writable) else {
            return "\(what) does not point into \(writable ? "writable" : "readable") memory of the process"
        }
        ram.formUnion(chain)
        return nil
    }

    /// The mappings that hold `address..<address+size` back to back, all readable (and writable if
    /// asked), or nil.
    private func chain(from address: UInt64, size: UInt64, writable: Bool) -> [Int]? {
        let (end, overflow) = address.addingReportingOverflow(size)
        guard !overflow, var index = mappingIndex(containing: address) else { return nil }
        var result: [Int] = []
        while true {
            let m = mappings[index]
            guard m.readable, m.writable || !writable else { return nil }
            result.append(index)
            if m.end >= end { return result }
            index += 1
            guard index < mappings.count, mappings[index].start == m.end else { return nil }
        }
    }

    private func mappingIndex(containing address: UInt64) -> Int? {
        var low = 0
        var high = mappings.count
        while low < high {
            let mid = (low + high) / 2
            if mappings[mid].start <= address { low = mid + 1 } else { high = mid }
        }
        return low > 0 && mappings[low - 1].contains(address) ? low - 1 : nil
    }

    // MARK: Naming

    /// The slot as a ``MemorySlot``: named after its file when a file backs it (a memory-backend-file
    /// path, a memfd), else `kvm-slot-N`; read-only slots are ROM.
    func memorySlot(for record: UsedRecord) -> MemorySlot {
        var name = "kvm-slot-\(record.id)"
        if let index = mappingIndex(containing: record.ram), mappings[index].path.hasPrefix("/") {
            let m = mappings[index]
            var path = m.path
            if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
            let offset = m.offset &+ (record.ram - m.start)
            name = offset == 0 ? path : "\(path)+\(Hex.string(offset))"
        }
        return MemorySlot(guest: GuestPhysicalAddress(record.start), size: record.size, host: record.ram, name: name,
                          kind: record.flags & Self.readOnlyFlag != 0 ? .rom : .ram)
    }
}
