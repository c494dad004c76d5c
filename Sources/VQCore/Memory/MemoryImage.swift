/// A guest memory image on disk, read through its own slot map (guest-physical → file offset).
public enum MemoryImage {
    /// The largest number of program headers read from an ELF image.
    public static let maxSegments = 65536

    /// Opens an ELF core file written by QEMU's `dump-guest-memory` (each PT_LOAD carries its
    /// guest-physical address in p_paddr). Headers are checked against the file's size: a truncated
    /// or garbage file is refused with the reason.
    public static func openELF(path: String) throws(TargetError) -> GuestMemory {
        let file = try FileMemory(path: path)
        let map = try elfSlotMap(reader: file, fileSize: file.size ?? 0, path: path)
        return GuestMemory(map: map, reader: file)
    }

    /// Opens a raw RAM file (a memory-backend-file, say) whose first byte is guest-physical `base`.
    public static func openRaw(path: String, base: GuestPhysicalAddress) throws(TargetError) -> GuestMemory {
        let file = try FileMemory(path: path)
        guard let size = file.size, size > 0 else { throw .badImage(path: path, reason: "the file is empty") }
        guard base.advanced(by: size - 1) != nil else { throw .badImage(path: path, reason: "base + size passes the end of the address space") }
        let map: SlotMap
        do { map = try SlotMap(slots: [MemorySlot(guest: base, size: size, host: 0, name: "raw image")]) } catch {
            throw .badImage(path: path, reason: error.description)
        }
        return GuestMemory(map: map, reader: file)
    }

    /// Whether the file starts with the ELF magic.
    public static func isELF(path: String) -> Bool {
        guard let file = try? FileMemory(path: path), let magic = try? file.bytes(at: 0, count: 4) else { return false }
        return magic == [0x7f, 0x45, 0x4c, 0x46]
    }

    /// The slot map of an ELF64 little-endian core image.
    public static func elfSlotMap(reader: any MemoryReader, fileSize: UInt64, path: String) throws(TargetError) -> SlotMap {
        func bad(_ reason: String) -> TargetError { .badImage(path: path, reason: reason) }
        guard fileSize >= 64, let header = try? reader.bytes(at: 0, count: 64) else { throw bad("shorter than an ELF header") }
        guard header[0..<4] == [0x7f, 0x45, 0x4c, 0x46] else { throw bad("no ELF magic (expected QEMU's dump-guest-memory ELF output, or a raw file with --base)") }
        guard header[4] == 2 else { throw bad("not a 64-bit ELF file (32-bit dumps are not supported)") }
        guard header[5] == 1 else { throw bad("not little-endian") }
        let bytes = ByteView(header)
        let type = bytes.u16(16)
        guard type == 4 else { throw bad("ELF type \(type) is not a core file") }
        let phoff = bytes.u64(32)
        let shoff = bytes.u64(40)
        let phentsize = UInt64(bytes.u16(54))
        var phnum = UInt64(bytes.u16(56))
        guard phentsize >= 56 else { throw bad("program header entries of \(phentsize) bytes") }
        if phnum == 0xffff {
            // PN_XNUM: the real count is in section header 0's sh_info.
            guard shoff > 0, shoff <= fileSize, fileSize - shoff >= 64, let sh = try? reader.bytes(at: shoff + 44, count: 4) else {
                throw bad("PN_XNUM without a section header")
            }
            phnum = UInt64(ByteView(sh).u32(0))
        }
        guard phnum > 0 else { throw bad("no program headers") }
        guard phnum <= UInt64(maxSegments) else { throw bad("\(phnum) program headers (at most \(maxSegments) are read)") }
        guard phoff <= fileSize, phnum * phentsize <= fileSize - phoff else { throw bad("program headers past the end of the file (truncated?)") }
        guard let table = try? reader.bytes(at: phoff, count: Int(phnum * phentsize)) else { throw bad("cannot read the program headers") }
        let view = ByteView(table)
        var slots: [MemorySlot] = []
        for i in 0..<Int(phnum) {
            let base = i * Int(phentsize)
            guard view.u32(base) == 1 else { continue }  // PT_LOAD
            let offset = view.u64(base + 8)
            let paddr = view.u64(base + 24)
            let filesz = view.u64(base + 32)
            guard filesz > 0 else { continue }
            guard offset <= fileSize, filesz <= fileSize - offset else {
                throw bad("segment \(i) (guest \(Hex.string(paddr))) runs past the end of the file (truncated?)")
            }
            guard GuestPhysicalAddress(paddr).advanced(by: filesz - 1) != nil else { throw bad("segment \(i) passes the end of the address space") }
            slots.append(MemorySlot(guest: GuestPhysicalAddress(paddr), size: filesz, host: offset, name: "segment \(i)"))
        }
        guard !slots.isEmpty else { throw bad("no PT_LOAD segment with data") }
        do { return try SlotMap(slots: slots) } catch { throw bad(error.description) }
    }
}

/// Little-endian integer loads from a byte array, bounds-checked by the caller.
struct ByteView {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
}
