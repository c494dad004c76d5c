// Fuzz target: KVMSlotScanner, which looks for QEMU's KVMSlot array in the memory of a QEMU process
// (memory a guest can partly write). The input is the process's [heap]; the other mappings are
// fixed: guest RAM (a shared file mapping, not readable here) and a ROM file.
import VQCore

let base: UInt64 = 0x7f12_3400_0000
let otherMappings = [
    "7f1234100000-7f1234500000 rw-s 00000000 00:00 0   /dev/shm/vq-ram",
    "7f1234500000-7f1234540000 r--p 00000000 00:00 0   /usr/share/qemu/bios.bin",
].compactMap { ProcessMapping.parse(line: $0) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var heap = Array(UnsafeBufferPointer(start: data, count: min(size, 0x10_0000)))
    let heapSize = max(4096, (heap.count + 4095) / 4096 * 4096)
    heap += [UInt8](repeating: 0, count: heapSize - heap.count)
    let heapLine = "\(String(base, radix: 16))-\(String(base + UInt64(heapSize), radix: 16)) rw-p 00000000 00:00 0   [heap]"
    let mappings = [ProcessMapping.parse(line: heapLine)!] + otherMappings
    require(otherMappings.count == 2, "fixed mappings parse")
    do {
        let scan = try KVMSlotScanner.scan(memory: BufferMemory(base: base, bytes: heap), mappings: mappings)
        require(!scan.slots.isEmpty, "an array without used slots")
        require(scan.stride >= 40 && scan.stride <= 160 && scan.stride % 8 == 0, "stride \(scan.stride)")
        require(scan.arrayAddress >= base && scan.arrayAddress < base + UInt64(heapSize), "array outside the heap")
        for slot in scan.slots {
            require(mappings.contains { $0.readable && slot.host >= $0.start && slot.host < $0.end && slot.size <= $0.end - slot.host },
                    "slot \(slot) outside readable mappings")
        }
    } catch {
        require(!"\(error)".isEmpty, "an error without words")
    }
    return 0
}
