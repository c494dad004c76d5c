import XCTest
import Synchronization
@testable import VQCore

/// A synthetic QEMU process: 16 MiB of memory at `base` and the mappings laid over it.
private struct FakeProcess {
    static let base: UInt64 = 0x7f12_3400_0000
    var memory = BufferMemory(base: FakeProcess.base, count: 16 << 20)
    var mappings: [ProcessMapping] = []

    // The usual layout (offsets from base).
    static let heap: UInt64 = base                  // 1 MiB [heap]
    static let anon: UInt64 = base + 0x10_0000      // 3 MiB anonymous (glibc's mmap of a big array)
    static let guardPage: UInt64 = base + 0x40_0000 // ---p
    static let ram: UInt64 = base + 0x60_0000       // 4 MiB guest RAM (pc.ram)
    static let bios: UInt64 = base + 0xa0_0000      // 256 KiB (pc.bios)
    static let shm: UInt64 = base + 0xb0_0000       // 1 MiB rw-s memory-backend-file
    static let romFile: UInt64 = base + 0xc0_0000   // 64 KiB r--p file
    static let unmapped: UInt64 = base + 0xd0_0000  // nothing mapped here

    /// The usual layout.
    static func standard() -> FakeProcess {
        var p = FakeProcess()
        p.map(heap, 0x10_0000, path: "[heap]")
        p.map(anon, 0x30_0000)
        p.map(guardPage, 0x1000, "---p")
        p.map(ram, 0x40_0000)
        p.map(bios, 0x4_0000)
        p.map(shm, 0x10_0000, "rw-s", path: "/dev/shm/vq-ram")
        p.map(romFile, 0x1_0000, "r--p", path: "/usr/share/qemu/vgabios.bin")
        return p
    }

    mutating func map(_ start: UInt64, _ size: UInt64, _ perms: String = "rw-p", path: String = "") {
        let line = "\(String(start, radix: 16))-\(String(start + size, radix: 16)) \(perms) 00000000 00:00 0   \(path)"
        mappings.append(ProcessMapping.parse(line: line)!)
    }

    struct Slot {
        var gpa: UInt64
        var size: UInt64
        var ram: UInt64
        var flags: UInt32 = 0
    }

    /// Lays out `count` records of `stride` bytes at `address`: ids 0..<count, `used` at their ids,
    /// the others free (size 0, with stale start/ram as QEMU leaves them).
    mutating func array(at address: UInt64, stride: Int, count: Int, used: [Int: Slot], asID: UInt32 = 0,
                        ids: ((Int) -> UInt32)? = nil) {
        let asOffset: Int? = stride >= 72 ? 56 : (stride >= 56 ? 48 : nil)
        for i in 0..<count {
            let r = address + UInt64(i * stride)
            memory.store(ids?(i) ?? UInt32(i), at: r + 24)
            if let slot = used[i] {
                memory.store(slot.gpa, at: r)
                memory.store(slot.size, at: r + 8)
                memory.store(slot.ram, at: r + 16)
                memory.store(slot.flags, at: r + 28)
                memory.store(slot.flags, at: r + 32)
                if let asOffset { memory.store(asID, at: r + UInt64(asOffset)) }
            } else if i % 3 == 1 {
                memory.store(UInt64(0xdead_b000 + i), at: r)       // stale, unaligned: must not matter
                memory.store(UInt64(0x1234_5678_9abc), at: r + 16)
            }
        }
    }

    func scan(_ limits: KVMSlotScanner.Limits = .init()) throws(TargetError) -> KVMSlotScan {
        try KVMSlotScanner.scan(memory: memory, mappings: mappings, limits: limits)
    }
}

/// The slots of a pc-like guest in the usual layout: RAM split below 4 GiB and above, ROMs, a file.
private let pcSlots: [Int: FakeProcess.Slot] = [
    0: .init(gpa: 0, size: 0xa_0000, ram: FakeProcess.ram),
    1: .init(gpa: 0xc_0000, size: 0x2_0000, ram: FakeProcess.bios + 0x2_0000, flags: 2),
    2: .init(gpa: 0x10_0000, size: 0x20_0000, ram: FakeProcess.ram + 0x10_0000),
    3: .init(gpa: 0xfffc_0000, size: 0x4_0000, ram: FakeProcess.bios, flags: 2),
    5: .init(gpa: 0x1_0000_0000, size: 0x10_0000, ram: FakeProcess.ram + 0x30_0000, flags: 1),
    6: .init(gpa: 0x2_0000_0000, size: 0x10_0000, ram: FakeProcess.shm),
    7: .init(gpa: 0xfeb0_0000, size: 0x1_0000, ram: FakeProcess.romFile, flags: 2),
]

private let pcExpected: [MemorySlot] = [
    MemorySlot(guest: .init(0), size: 0xa_0000, host: FakeProcess.ram, name: "kvm-slot-0"),
    MemorySlot(guest: .init(0xc_0000), size: 0x2_0000, host: FakeProcess.bios + 0x2_0000, name: "kvm-slot-1", kind: .rom),
    MemorySlot(guest: .init(0x10_0000), size: 0x20_0000, host: FakeProcess.ram + 0x10_0000, name: "kvm-slot-2"),
    MemorySlot(guest: .init(0xfeb0_0000), size: 0x1_0000, host: FakeProcess.romFile, name: "/usr/share/qemu/vgabios.bin", kind: .rom),
    MemorySlot(guest: .init(0xfffc_0000), size: 0x4_0000, host: FakeProcess.bios, name: "kvm-slot-3", kind: .rom),
    MemorySlot(guest: .init(0x1_0000_0000), size: 0x10_0000, host: FakeProcess.ram + 0x30_0000, name: "kvm-slot-5"),
    MemorySlot(guest: .init(0x2_0000_0000), size: 0x10_0000, host: FakeProcess.shm, name: "/dev/shm/vq-ram"),
]

final class KVMSlotScannerTests: XCTestCase {
    private func assertNoSlotMap(_ process: FakeProcess, mentioning text: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
        do {
            let scan = try process.scan()
            XCTFail("found an array at \(Hex.string(scan.arrayAddress)) (stride \(scan.stride))", file: file, line: line)
        } catch {
            guard case .noSlotMap(let reason) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssert(reason.contains(text), "\(reason)", file: file, line: line)
        }
    }

    // MARK: Real-looking arrays

    func testFindsA72ByteArrayInTheHeap() throws {
        var p = FakeProcess.standard()
        let address = FakeProcess.heap + 0x1230
        p.array(at: address, stride: 72, count: 32, used: pcSlots)
        let scan = try p.scan()
        XCTAssertEqual(scan.arrayAddress, address)
        XCTAssertEqual(scan.stride, 72)
        XCTAssertEqual(scan.capacity, 32)
        XCTAssertEqual(scan.addressSpaceID, 0)
        XCTAssertEqual(scan.candidates, 1)
        XCTAssertEqual(scan.slots, pcExpected)
        XCTAssertEqual(scan.map.hostAddress(of: .init(0x1_0000_0123)), FakeProcess.ram + 0x30_0123)
    }

    func testFindsA48ByteArrayInAnAnonymousMapping() throws {
        var p = FakeProcess.standard()
        let address = FakeProcess.anon + 0x10
        p.array(at: address, stride: 48, count: 509, used: pcSlots)
        let scan = try p.scan()
        XCTAssertEqual(scan.arrayAddress, address)
        XCTAssertEqual(scan.stride, 48)
        XCTAssertEqual(scan.capacity, 509)
        XCTAssertNil(scan.addressSpaceID)
        XCTAssertEqual(scan.slots, pcExpected)
    }

    func testInfersEveryStrideFrom40To160() throws {
        for stride in stride(from: 40, through: 160, by: 8) {
            var p = FakeProcess.standard()
            p.array(at: FakeProcess.anon + 0x2_0000, stride: stride, count: 40, used: pcSlots)
            let scan = try p.scan()
            XCTAssertEqual(scan.stride, stride)
            XCTAssertEqual(scan.arrayAddress, FakeProcess.anon + 0x2_0000)
            XCTAssertEqual(scan.slots, pcExpected, "stride \(stride)")
        }
    }

    func testAcceptsEightRecordsButNotSeven() throws {
        var p = FakeProcess.standard()
        p.array(at: FakeProcess.heap + 0x100, stride: 72, count: 8, used: [0: pcSlots[0]!])
        XCTAssertEqual(try p.scan().capacity, 8)

        var q = FakeProcess.standard()
        q.array(at: FakeProcess.heap + 0x100, stride: 72, count: 7, used: [0: pcSlots[0]!])
        assertNoSlotMap(q, mentioning: "no KVMSlot array")
    }

    func testFindsAnArrayAcrossChunkBoundaries() throws {
        var limits = KVMSlotScanner.Limits()
        limits.chunkSize = 4096
        for back in stride(from: 0, through: 160, by: 8) {
            var p = FakeProcess.standard()
            let address = FakeProcess.heap + 0x4000 - UInt64(back)
            p.array(at: address, stride: 72, count: 32, used: pcSlots)
            let scan = try p.scan(limits)
            XCTAssertEqual(scan.arrayAddress, address, "\(back) bytes before a chunk boundary")
            XCTAssertEqual(scan.slots, pcExpected)
        }
    }

    func testRAMMaySpanAdjacentMappings() throws {
        var p = FakeProcess.standard()
        // Split guest RAM into two VMAs, as madvise on part of it would.
        p.mappings.removeAll { $0.start == FakeProcess.ram }
        p.map(FakeProcess.ram, 0x20_0000)
        p.map(FakeProcess.ram + 0x20_0000, 0x20_0000)
        p.array(at: FakeProcess.heap + 0x800, stride: 72, count: 32, used: pcSlots)
        XCTAssertEqual(try p.scan().slots, pcExpected)
    }

    // MARK: Two address spaces

    func testChoosesAddressSpaceZeroByItsAsID() throws {
        var p = FakeProcess.standard()
        // SMRAM's array sits in the heap (more trusted) and covers less: only as_id can pick right.
        var smram = pcSlots
        smram[5] = nil
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: smram, asID: 1)
        p.array(at: FakeProcess.anon + 0x10, stride: 72, count: 32, used: pcSlots, asID: 0)
        let scan = try p.scan()
        XCTAssertEqual(scan.arrayAddress, FakeProcess.anon + 0x10)
        XCTAssertEqual(scan.addressSpaceID, 0)
        XCTAssertEqual(scan.candidates, 2)
        XCTAssertEqual(scan.slots, pcExpected)
    }

    func testChoosesTheSubsetWithoutAsID() throws {
        var p = FakeProcess.standard()
        // 48-byte records have no as_id. SMRAM's space is normal memory plus SMRAM at 0xa0000.
        var smram = pcSlots
        smram[4] = .init(gpa: 0xa_0000, size: 0x2_0000, ram: FakeProcess.ram + 0xa_0000)
        p.array(at: FakeProcess.heap + 0x40, stride: 48, count: 32, used: smram)
        p.array(at: FakeProcess.anon + 0x10, stride: 48, count: 32, used: pcSlots)
        let scan = try p.scan()
        XCTAssertEqual(scan.arrayAddress, FakeProcess.anon + 0x10)
        XCTAssertNil(scan.addressSpaceID)
        XCTAssertEqual(scan.candidates, 2)
        XCTAssertEqual(scan.slots, pcExpected)
    }

    func testRefusesWhenOnlySMRAMIsFound() {
        var p = FakeProcess.standard()
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: pcSlots, asID: 1)
        assertNoSlotMap(p, mentioning: "none for normal memory")
    }

    func testRefusesTwoDifferentArraysForTheSameSpace() {
        var p = FakeProcess.standard()
        var other = pcSlots
        other[6] = nil
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: pcSlots)
        p.array(at: FakeProcess.anon + 0x10, stride: 72, count: 32, used: other)
        assertNoSlotMap(p, mentioning: "cannot tell which")
    }

    // MARK: Look-alikes

    func testRefusesIdsThatDoNotCount() {
        var p = FakeProcess.standard()
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: pcSlots, ids: { $0 < 4 ? UInt32($0) : UInt32($0 + 1) })
        assertNoSlotMap(p, mentioning: "no KVMSlot array")
    }

    func testRefusesUnalignedRAM() {
        var p = FakeProcess.standard()
        var slots = pcSlots
        slots[2]!.ram += 0x10
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: slots)
        assertNoSlotMap(p, mentioning: "not page-aligned")
    }

    func testRefusesUnalignedGuestRanges() {
        var p = FakeProcess.standard()
        var slots = pcSlots
        slots[2]!.size += 0x200
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: slots)
        assertNoSlotMap(p, mentioning: "not page-aligned")
    }

    func testRefusesRAMOutsideWritableMemory() {
        let outside: [(String, UInt64, UInt64)] = [
            ("unmapped", FakeProcess.unmapped, 0x1000),
            ("guard page", FakeProcess.guardPage, 0x1000),
            ("read-only file without the read-only flag", FakeProcess.romFile, 0x1000),
            ("past the end of pc.bios", FakeProcess.bios + 0x3_f000, 0x2000),
        ]
        for (what, ram, size) in outside {
            var p = FakeProcess.standard()
            var slots = pcSlots
            slots[2] = .init(gpa: 0x10_0000, size: size, ram: ram)
            p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: slots)
            do {
                let scan = try p.scan()
                XCTFail("\(what): accepted \(scan.slots)")
            } catch {
                XCTAssert("\(error)".contains("does not point into writable memory"), "\(what): \(error)")
            }
        }
    }

    func testRefusesOverlappingGuestRanges() throws {
        var p = FakeProcess.standard()
        var slots = pcSlots
        slots[4] = .init(gpa: 0x20_0000, size: 0x1000, ram: FakeProcess.ram)
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: slots)
        assertNoSlotMap(p, mentioning: "overlap")
        // Refused as an array, not just as a map: a valid array elsewhere is still found.
        p.array(at: FakeProcess.anon + 0x10, stride: 72, count: 32, used: pcSlots)
        XCTAssertEqual(try p.scan().arrayAddress, FakeProcess.anon + 0x10)
    }

    func testRefusesArraysWithoutUsedSlotsOrWithUnknownFlags() {
        var empty = FakeProcess.standard()
        empty.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: [:])
        assertNoSlotMap(empty, mentioning: "no used slot")

        var flagged = FakeProcess.standard()
        var slots = pcSlots
        slots[0]!.flags = 0x100
        flagged.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: slots)
        assertNoSlotMap(flagged, mentioning: "unknown flags")
    }

    func testFindsTheRealArrayAmongLookAlikes() throws {
        var p = FakeProcess.standard()
        var bad = pcSlots
        bad[2]!.ram += 0x10
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: bad)
        p.array(at: FakeProcess.heap + 0x2000, stride: 56, count: 6, used: pcSlots)
        p.array(at: FakeProcess.anon + 0x8000, stride: 88, count: 32, used: pcSlots)
        let scan = try p.scan()
        XCTAssertEqual(scan.arrayAddress, FakeProcess.anon + 0x8000)
        XCTAssertEqual(scan.stride, 88)
        XCTAssertEqual(scan.slots, pcExpected)
    }

    // MARK: Arrays the guest could have planted

    func testRefusesAFakeArrayInGuestRAM() throws {
        var p = FakeProcess()
        let real = FakeProcess.base + 0x10_0000   // 3 MiB anonymous: the real array
        let vram = FakeProcess.base + 0x50_0000   // 1 MiB of guest RAM (vga.vram): smaller, so more trusted
        let ram = FakeProcess.base + 0x60_0000    // 4 MiB pc.ram
        p.map(real, 0x30_0000)
        p.map(vram, 0x10_0000)
        p.map(ram, 0x40_0000)
        let slots: [Int: FakeProcess.Slot] = [
            0: .init(gpa: 0, size: 0x40_0000, ram: ram),
            1: .init(gpa: 0xfd00_0000, size: 0x10_0000, ram: vram, flags: 1),
        ]
        p.array(at: real + 0x10, stride: 72, count: 32, used: slots)
        // The guest writes a bigger, plausible array into its video memory, pointing into its RAM.
        p.array(at: vram + 0x1000, stride: 72, count: 64, used: [0: .init(gpa: 0, size: 0x1000, ram: ram + 0x20_0000)])
        let scan = try p.scan()
        XCTAssertEqual(scan.arrayAddress, real + 0x10)
        XCTAssertEqual(scan.candidates, 2)
        XCTAssertEqual(scan.slots.map(\.size), [0x40_0000, 0x10_0000])
    }

    func testFailsClosedWhenAFakeClaimsTheRealArraysMemory() {
        var p = FakeProcess()
        let real = FakeProcess.base + 0x10_0000
        let vram = FakeProcess.base + 0x50_0000
        let ram = FakeProcess.base + 0x60_0000
        p.map(real, 0x30_0000)
        p.map(vram, 0x10_0000)
        p.map(ram, 0x40_0000)
        p.array(at: real + 0x10, stride: 72, count: 32, used: [
            0: .init(gpa: 0, size: 0x40_0000, ram: ram),
            1: .init(gpa: 0xfd00_0000, size: 0x10_0000, ram: vram),
        ])
        // The fake names the real array's mapping as its guest RAM, to get the real one refused.
        p.array(at: vram + 0x1000, stride: 72, count: 32, used: [0: .init(gpa: 0, size: 0x1000, ram: real)])
        assertNoSlotMap(p, mentioning: "could have planted")
    }

    // MARK: Bounded work and read failures

    func testSearchesLargeMappingsOnlyWhenNothingElseIsFound() throws {
        var limits = KVMSlotScanner.Limits()
        limits.smallMapping = 0x10_0000
        limits.largeMapping = 0x20_0000   // the 3 MiB anonymous mapping counts as large

        var alone = FakeProcess.standard()
        alone.array(at: FakeProcess.anon + 0x10, stride: 72, count: 32, used: pcSlots)
        XCTAssertEqual(try alone.scan(limits).arrayAddress, FakeProcess.anon + 0x10)

        // With an array in the heap, the large mapping is not read: its different array is never seen.
        var both = FakeProcess.standard()
        var other = pcSlots
        other[6] = nil
        both.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: pcSlots)
        both.array(at: FakeProcess.anon + 0x10, stride: 72, count: 32, used: other)
        let scan = try both.scan(limits)
        XCTAssertEqual(scan.arrayAddress, FakeProcess.heap + 0x40)
        XCTAssertEqual(scan.candidates, 1)
    }

    func testDoesNotReadGuestRAMOfWhatItFound() throws {
        var limits = KVMSlotScanner.Limits()
        limits.smallMapping = 0x20_0000   // the 4 MiB of guest RAM count as medium-sized
        var p = FakeProcess.standard()
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: pcSlots)
        // A fake in guest RAM that would veto the real array, were guest RAM read.
        p.array(at: FakeProcess.ram + 0x1000, stride: 72, count: 32, used: [0: .init(gpa: 0, size: 0x1000, ram: FakeProcess.heap)])
        let scan = try p.scan(limits)
        XCTAssertEqual(scan.arrayAddress, FakeProcess.heap + 0x40)
        XCTAssertEqual(scan.candidates, 1)
        // Read (all mappings small), the fake is seen, and both are refused: the scan fails closed.
        assertNoSlotMap(p, mentioning: "could have planted")
    }

    func testSkipsMappingsThatCannotBeRead() throws {
        var p = FakeProcess.standard()
        p.map(FakeProcess.base + 0x2000_0000, 0x10_0000)   // listed, but outside the buffer
        p.array(at: FakeProcess.heap + 0x40, stride: 72, count: 32, used: pcSlots)
        XCTAssertEqual(try p.scan().slots, pcExpected)
    }

    func testReportsAProcessThatIsGone() {
        struct Gone: MemoryReader {
            func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) { throw .processGone(pid: 4242) }
        }
        let p = FakeProcess.standard()
        XCTAssertThrowsError(try KVMSlotScanner.scan(memory: Gone(), mappings: p.mappings)) {
            XCTAssertEqual($0 as? TargetError, .noSuchProcess(pid: 4242))
        }
    }

    func testRereadsASlotQEMUIsChanging() throws {
        /// Serves `before` for the first read at `address`, then `after`.
        final class Changing: MemoryReader, Sendable {
            let before: BufferMemory, after: BufferMemory, address: UInt64
            let reads = Mutex(0)
            init(before: BufferMemory, after: BufferMemory, address: UInt64) {
                (self.before, self.after, self.address) = (before, after, address)
            }
            func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
                let first = requests.contains { $0.address == address } && reads.withLock { $0 += 1; return $0 == 1 }
                try (first ? before : after).read(requests)
            }
        }
        let address = FakeProcess.heap + 0x40
        var after = FakeProcess.standard()
        after.array(at: address, stride: 72, count: 32, used: pcSlots)
        var before = after
        // Caught between `memory_size = ...` and `ram = ...`: a stale, unaligned host pointer.
        before.memory.store(UInt64(0x1234_5678_9abc), at: address + 2 * 72 + 16)
        let memory = Changing(before: before.memory, after: after.memory, address: address)
        let scan = try KVMSlotScanner.scan(memory: memory, mappings: after.mappings)
        XCTAssertEqual(scan.slots, pcExpected)
        XCTAssertGreaterThanOrEqual(memory.reads.withLock { $0 }, 2)
    }
}
