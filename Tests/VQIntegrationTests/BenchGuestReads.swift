import Foundation
import VQCore

extension BenchGuest {
    /// A little-endian u16 at `gpa`, read through QEMU's gpa2hva and /proc/PID/mem: independent of
    /// vqscope's slot map and readers.
    func independentU16(_ gpa: UInt64) throws -> UInt16 {
        guard let hva = try gpa2hva(gpa) else { throw BenchError("QEMU: no hva for \(Hex.string(gpa))") }
        let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/mem"))
        defer { try? mem.close() }
        try mem.seek(toOffset: hva)
        let bytes = [UInt8](try mem.read(upToCount: 2) ?? Data())
        guard bytes.count == 2 else { throw BenchError("short read at \(Hex.string(gpa))") }
        return UInt16(bytes[0]) | UInt16(bytes[1]) << 8
    }
}
