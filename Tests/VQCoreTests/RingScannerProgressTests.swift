import Synchronization
import VQCore
import XCTest

/// The RAM scan's progress callback: how far it has got, in bytes of guest RAM, as it goes.
final class RingScannerProgressTests: XCTestCase {
    static let hostBase: UInt64 = 0x7f00_0000_0000

    /// Guest RAM of `slots` (guest address, size), each backed by its own part of one zeroed buffer.
    func memory(_ slots: [(UInt64, Int)]) throws -> GuestMemory {
        var host = Self.hostBase
        var mapped: [MemorySlot] = []
        for (i, (guest, size)) in slots.enumerated() {
            mapped.append(MemorySlot(guest: GuestPhysicalAddress(guest), size: UInt64(size), host: host, name: "ram\(i)"))
            host += UInt64(size)
        }
        return GuestMemory(map: try SlotMap(slots: mapped), reader: BufferMemory(base: Self.hostBase, count: Int(host - Self.hostBase)))
    }

    /// Scans `memory` in 64 KiB chunks and returns every progress call, in order.
    func progressCalls(_ memory: GuestMemory, threads: Int, resident: (@Sendable (UInt64, Int) -> [Bool])? = nil) throws -> [(UInt64, UInt64)] {
        var limits = RingScanLimits()
        limits.chunkSize = 64 << 10
        let calls = Mutex<[(UInt64, UInt64)]>([])
        _ = try RingScanner.scan(memory: memory, residentPages: resident, threads: threads, limits: limits) { done, total in
            calls.withLock { $0.append((done, total)) }
        }
        return calls.withLock { $0 }
    }

    func assertRises(_ calls: [(UInt64, UInt64)], to total: UInt64, steps: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(calls.count, steps + 1, "one call at the start, one a chunk", file: file, line: line)
        XCTAssertEqual(calls.first?.0, 0, "starts at 0", file: file, line: line)
        XCTAssertEqual(calls.last?.0, total, "ends with everything done", file: file, line: line)
        XCTAssertTrue(calls.allSatisfy { $0.1 == total }, "the same total throughout", file: file, line: line)
        XCTAssertTrue(zip(calls, calls.dropFirst()).allSatisfy { $0.0 < $1.0 }, "never falls: \(calls.map(\.0))", file: file, line: line)
    }

    func testProgressRisesChunkByChunkToTheWholeRAM() throws {
        let memory = try memory([(0, 1 << 20)])
        for threads in [1, 2, 4] {
            assertRises(try progressCalls(memory, threads: threads), to: 1 << 20, steps: 16)
        }
    }

    func testEverySlotCountsAndPagesNotResidentCountAsDone() throws {
        // Two RAM slots, as on a PC with RAM above 4 GiB; 128 KiB is not a multiple of the chunk.
        let memory = try memory([(0, 128 << 10), (0x1_0000_0000, 96 << 10)])
        assertRises(try progressCalls(memory, threads: 2), to: 224 << 10, steps: 4)
        assertRises(try progressCalls(memory, threads: 2, resident: { _, count in [Bool](repeating: false, count: count) }),
                    to: 224 << 10, steps: 4)
    }

    func testCallsNeverOverlap() throws {
        let memory = try memory([(0, 4 << 20)])
        let inside = Atomic<Int>(0)
        let overlapped = Atomic<Bool>(false)
        var limits = RingScanLimits()
        limits.chunkSize = 64 << 10
        _ = try RingScanner.scan(memory: memory, residentPages: nil, threads: 4, limits: limits) { _, _ in
            if inside.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue != 1 { overlapped.store(true, ordering: .relaxed) }
            for _ in 0..<1000 { _ = inside.load(ordering: .relaxed) }
            inside.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
        XCTAssertFalse(overlapped.load(ordering: .relaxed))
    }

    func testNoRAMReportsOnceWithNothingToDo() throws {
        let empty = try GuestMemory(map: SlotMap(slots: []), reader: BufferMemory(count: 0))
        let calls = Mutex<[(UInt64, UInt64)]>([])
        let result = try RingScanner.scan(memory: empty, residentPages: nil, progress: { d, t in calls.withLock { $0.append((d, t)) } })
        XCTAssertTrue(result.rings.isEmpty)
        XCTAssertEqual(calls.withLock { $0.map(\.0) }, [0])
        XCTAssertEqual(calls.withLock { $0.map(\.1) }, [0])
    }
}
