// Fuzz target: MemoryImage.elfSlotMap, the ELF reader of dump-guest-memory images. The input is the
// file, read through an in-memory reader (as MemoryImage.openELF reads a file).
import VQCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let file = BufferMemory(bytes: bytes)
    do {
        let map = try MemoryImage.elfSlotMap(reader: file, fileSize: UInt64(bytes.count), path: "fuzz.elf")
        let memory = GuestMemory(map: map, reader: file)
        for slot in map.slots {
            require(slot.size > 0, "empty slot")
            require(slot.host <= UInt64(bytes.count) && slot.size <= UInt64(bytes.count) - slot.host, "segment past the end of the file")
            let count = Int(min(slot.size, 64))
            require((try? memory.bytes(at: slot.guest, count: count))?.count == count, "a slot's bytes cannot be read")
            _ = map.reasonUnmapped(GuestPhysicalAddress(slot.guest.rawValue &+ slot.size))
        }
    } catch {
        guard case .badImage(let path, let reason) = error else { fatalError("not badImage: \(error)") }
        require(path == "fuzz.elf" && !reason.isEmpty && !reason.contains("\n"), "reason \(reason.debugDescription)")
    }
    return 0
}
