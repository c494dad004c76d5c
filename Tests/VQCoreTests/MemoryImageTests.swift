import Foundation
import VQCore
import XCTest

/// ELF images as QEMU's dump-guest-memory writes them, built by hand, and hostile variants.
final class MemoryImageTests: XCTestCase {
    struct Segment { var type: UInt32 = 1; var paddr: UInt64; var data: [UInt8]; var offsetOverride: UInt64? = nil; var fileszOverride: UInt64? = nil }

    /// An ELF64 little-endian core file with a PT_NOTE and the given segments.
    static func elf(_ segments: [Segment], type: UInt16 = 4, phnumOverride: UInt16? = nil) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        func put<T: FixedWidthInteger>(_ v: T, at i: Int, in b: inout [UInt8]) {
            withUnsafeBytes(of: v.littleEndian) { for (k, x) in $0.enumerated() { b[i + k] = x } }
        }
        out[0...3] = [0x7f, 0x45, 0x4c, 0x46]; out[4] = 2; out[5] = 1; out[6] = 1
        put(type, at: 16, in: &out); put(UInt16(62), at: 18, in: &out)
        put(UInt64(64), at: 32, in: &out)
        put(UInt16(56), at: 54, in: &out)
        let all = [Segment(type: 4, paddr: 0, data: [1, 2, 3, 4])] + segments
        put(phnumOverride ?? UInt16(all.count), at: 56, in: &out)
        var headers = [UInt8](repeating: 0, count: 56 * all.count)
        var dataOffset = UInt64(64 + headers.count)
        var data: [UInt8] = []
        for (i, s) in all.enumerated() {
            let b = i * 56
            put(s.type, at: b, in: &headers)
            put(s.offsetOverride ?? dataOffset, at: b + 8, in: &headers)
            put(s.paddr, at: b + 24, in: &headers)
            put(s.fileszOverride ?? UInt64(s.data.count), at: b + 32, in: &headers)
            put(UInt64(s.data.count), at: b + 40, in: &headers)
            data += s.data
            dataOffset += UInt64(s.data.count)
        }
        return out + headers + data
    }

    func map(_ bytes: [UInt8]) throws -> SlotMap {
        try MemoryImage.elfSlotMap(reader: BufferMemory(bytes: bytes), fileSize: UInt64(bytes.count), path: "test.elf")
    }

    func reason(_ bytes: [UInt8]) -> String {
        do { _ = try map(bytes); return "accepted" } catch { return "\(error)" }
    }

    func testReadsSegmentsAtTheirGuestAddresses() throws {
        let low = [UInt8](repeating: 0xAA, count: 4096), high = [UInt8](repeating: 0xBB, count: 8192)
        let bytes = Self.elf([Segment(paddr: 0, data: low), Segment(paddr: 0x1_0000_0000, data: high)])
        let m = try map(bytes)
        XCTAssertEqual(m.slots.map(\.guest.rawValue), [0, 0x1_0000_0000])
        let memory = GuestMemory(map: m, reader: BufferMemory(bytes: bytes))
        XCTAssertEqual(try memory.bytes(at: GuestPhysicalAddress(0xFFF), count: 1), [0xAA])
        XCTAssertEqual(try memory.bytes(at: GuestPhysicalAddress(0x1_0000_1FFF), count: 1), [0xBB])
        XCTAssertThrowsError(try memory.bytes(at: GuestPhysicalAddress(0x1000), count: 1))
    }

    func testHostileHeadersAreRefusedWithAReason() {
        let good = Self.elf([Segment(paddr: 0, data: [UInt8](repeating: 1, count: 64))])
        XCTAssertEqual(reason(good), "accepted")
        XCTAssertTrue(reason(Array(good.prefix(40))).contains("shorter than an ELF header"))
        XCTAssertTrue(reason([UInt8](repeating: 0x41, count: 200)).contains("no ELF magic"))
        XCTAssertTrue(reason(Self.elf([Segment(paddr: 0, data: [1])], type: 2)).contains("not a core file"))
        XCTAssertTrue(reason(Array(good.prefix(100))).contains("program headers past the end"), reason(Array(good.prefix(100))))
        XCTAssertTrue(reason(Array(good.dropLast(10))).contains("runs past the end of the file"))
        XCTAssertTrue(reason(Self.elf([Segment(paddr: 0, data: [1], fileszOverride: .max)])).contains("runs past the end"))
        XCTAssertTrue(reason(Self.elf([Segment(paddr: 0, data: [1], offsetOverride: .max)])).contains("runs past the end"))
        XCTAssertTrue(reason(Self.elf([Segment(paddr: .max - 10, data: [UInt8](repeating: 0, count: 64))])).contains("end of the address space"))
        XCTAssertTrue(reason(Self.elf([Segment(paddr: 0, data: [1, 2]), Segment(paddr: 1, data: [3, 4])])).contains("overlap"))
        XCTAssertTrue(reason(Self.elf([], phnumOverride: 0)).contains("no program headers"))
        XCTAssertTrue(reason(Self.elf([Segment(type: 4, paddr: 0, data: [1])])).contains("no PT_LOAD"))
        var bigEndian = good; bigEndian[5] = 2
        XCTAssertTrue(reason(bigEndian).contains("not little-endian"))
        var thirtyTwo = good; thirtyTwo[4] = 1
        XCTAssertTrue(reason(thirtyTwo).contains("not a 64-bit ELF"))
        // PN_XNUM without a section header.
        XCTAssertTrue(reason(Self.elf([Segment(paddr: 0, data: [1])], phnumOverride: 0xffff)).contains("PN_XNUM"))
    }

    func testEveryTruncationOfAnImageIsRefusedOrConsistent() {
        let bytes = Self.elf([Segment(paddr: 0x1000, data: [UInt8](repeating: 7, count: 300))])
        for n in 0..<bytes.count {
            let cut = Array(bytes.prefix(n))
            if let m = try? map(cut) {
                XCTFail("truncated at \(n) accepted: \(m.slots)")
            }
        }
    }

    func testRawImageAndFileErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vqscope-image-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let raw = dir.appendingPathComponent("ram.bin")
        try Data((0..<8192).map { UInt8($0 & 0xff) }).write(to: raw)
        let memory = try MemoryImage.openRaw(path: raw.path, base: GuestPhysicalAddress(0x10_0000))
        XCTAssertEqual(try memory.bytes(at: GuestPhysicalAddress(0x10_0101), count: 2), [1, 2])
        XCTAssertThrowsError(try memory.bytes(at: GuestPhysicalAddress(0x10_2000), count: 1))
        XCTAssertFalse(MemoryImage.isELF(path: raw.path))
        let empty = dir.appendingPathComponent("empty.bin")
        try Data().write(to: empty)
        XCTAssertThrowsError(try MemoryImage.openRaw(path: empty.path, base: GuestPhysicalAddress(0))) {
            XCTAssertTrue("\($0)".contains("empty"), "\($0)")
        }
        XCTAssertThrowsError(try MemoryImage.openELF(path: dir.appendingPathComponent("missing").path)) {
            XCTAssertTrue("\($0)".contains("cannot open"), "\($0)")
        }
        let elfFile = dir.appendingPathComponent("x.elf")
        try Data(Self.elf([Segment(paddr: 0x2000, data: [9, 8, 7])])).write(to: elfFile)
        XCTAssertTrue(MemoryImage.isELF(path: elfFile.path))
        XCTAssertEqual(try MemoryImage.openELF(path: elfFile.path).bytes(at: GuestPhysicalAddress(0x2001), count: 2), [8, 7])
    }
}
