// Shared by every fuzz target (scripts/fuzz.sh compiles it into each one): reading the fuzzer's
// bytes, a small guest built from them, and the invariants every decoder must keep. A broken
// invariant is a `fatalError`, which libFuzzer reports as a crash and saves the input.
import VQCore

/// The fuzzer's bytes, consumed from the front: fixed-size header fields, then the rest.
struct FuzzInput {
    let bytes: [UInt8]
    var position = 0

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Little-endian; missing bytes read as 0.
    mutating func int<T: FixedWidthInteger>(_: T.Type = T.self) -> T {
        var value: T = 0
        for k in 0..<MemoryLayout<T>.size {
            if position < bytes.count { value |= T(truncatingIfNeeded: bytes[position]) << (8 * k) }
            position += 1
        }
        return value
    }

    mutating func u8() -> UInt8 { int() }
    mutating func u16() -> UInt16 { int() }
    mutating func u32() -> UInt32 { int() }
    mutating func u64() -> UInt64 { int() }

    /// Everything not consumed yet.
    mutating func rest() -> [UInt8] {
        defer { position = bytes.count }
        return position < bytes.count ? Array(bytes[position...]) : []
    }
}

/// A guest built from fuzzer bytes: RAM at guest-physical 0 holding `ram` (zero-padded to whole pages,
/// at least one), and one more page at 1 MiB aliasing its first page (a hole between, nothing above).
enum FuzzGuest {
    static let host: UInt64 = 0x5a00_0000_0000
    static let highPage: UInt64 = 0x10_0000

    static func memory(_ ram: [UInt8]) -> GuestMemory {
        var bytes = ram
        let size = max(4096, (bytes.count + 4095) / 4096 * 4096)
        bytes += [UInt8](repeating: 0, count: size - bytes.count)
        let map = try! SlotMap(slots: [
            MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(size), host: host, name: "pc.ram"),
            MemorySlot(guest: GuestPhysicalAddress(highPage), size: 0x1000, host: host, name: "high"),
        ])
        return GuestMemory(map: map, reader: BufferMemory(base: host, bytes: bytes))
    }

    /// Ring sizes the targets pick from with one byte: powers of two, odd ones, 0, and past the limit.
    static let sizes: [UInt16] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 3, 5, 100, 0, 1024, 32768, 65535]

    /// The limits of a walk: the defaults, or small ones that fuzzing reaches.
    static func limits(small: Bool) -> ChainLimits {
        small ? ChainLimits(maxIndirectEntries: 64, maxIndirectBytes: 64 << 10, hugeLength: 1 << 20) : ChainLimits()
    }
}

/// Stops the fuzzer with the broken invariant.
@inline(__always)
func require(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String, line: UInt = #line) {
    if !condition() { fatalError("invariant broken: \(what())", line: line) }
}

let knownCodes = Set(RingProblem.allCodes)

/// Every problem has a known code and a one-line message.
func checkProblems(_ problems: [RingProblem]) {
    for p in problems {
        require(knownCodes.contains(p.code), "unknown problem code \(p.code)")
        let message = p.message
        require(!message.isEmpty && !message.contains("\n"), "problem message \(message.debugDescription)")
        _ = p.head
    }
}

/// A chain stays within its ring and its indirect tables, and adds up.
func checkChain(_ c: Chain, ringSize n: Int, limits: ChainLimits) {
    let cap = min(max(limits.maxIndirectEntries, 0), 65536)
    let fromTables = c.elements.filter(\.isFromIndirectTable)
    let tables = Set(fromTables.compactMap(\.indirectTable))
    require(c.ringDescriptors <= max(n, 1), "\(c.ringDescriptors) ring descriptors in a ring of \(n)")
    require(c.elements.count - fromTables.count <= c.ringDescriptors, "more direct elements than ring descriptors")
    require(fromTables.count <= tables.count * cap, "\(fromTables.count) indirect elements from \(tables.count) tables (cap \(cap))")
    // Each entry of an indirect table may be named in a problem without becoming an element (a
    // nested indirect descriptor is skipped), and each ring descriptor names at most one table.
    require(c.problems.count <= 8 * (c.elements.count + c.ringDescriptors * (1 + cap)) + 8,
            "\(c.problems.count) problems for \(c.elements.count) elements, \(c.ringDescriptors) ring descriptors: \(c.problems.map(\.code))")
    var readable: UInt64 = 0, writable: UInt64 = 0
    for e in c.elements {
        if e.isWritable { writable += UInt64(e.length) } else { readable += UInt64(e.length) }
    }
    require(c.readableBytes == readable && c.writableBytes == writable, "byte counts \(c.readableBytes)/\(c.writableBytes) vs \(readable)/\(writable)")
    checkProblems(c.problems)
}
