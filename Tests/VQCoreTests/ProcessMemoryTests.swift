import Foundation
import Glibc
import XCTest
@testable import VQCore

final class ProcessMemoryTests: XCTestCase {
    private static func pattern(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: (i &* 131) ^ (i >> 7)) }

    private func address(_ pointer: UnsafeRawPointer) -> UInt64 { UInt64(UInt(bitPattern: pointer)) }

    private func error(_ body: () throws -> Void) -> MemoryError? {
        do {
            try body()
            return nil
        } catch let error as MemoryError {
            return error
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    /// `pages` fresh read-write pages; the caller unmaps them.
    private func mapPages(_ pages: Int) throws -> (UnsafeMutableRawPointer, Int) {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let raw = mmap(nil, pages * pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else { throw XCTSkip("mmap failed") }
        return (raw, pageSize)
    }

    // MARK: Reading our own memory

    func testReadsAKnownBuffer() throws {
        let count = 10_000
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 64)
        defer { buffer.deallocate() }
        for i in 0..<count { buffer[i] = Self.pattern(i) }
        let memory = ProcessMemory(pid: getpid())
        XCTAssertEqual(memory.pid, getpid())
        let base = address(buffer.baseAddress!)
        XCTAssertEqual(try memory.bytes(at: base, count: count), (0..<count).map(Self.pattern))
        XCTAssertEqual(try memory.bytes(at: base + 1234, count: 3), [Self.pattern(1234), Self.pattern(1235), Self.pattern(1236)])
        XCTAssertEqual(try memory.bytes(at: base + UInt64(count) - 1, count: 1), [Self.pattern(count - 1)])
        XCTAssertEqual(try memory.bytes(at: base, count: 0), [])
    }

    func testReadsAStackValue() throws {
        var value: UInt64 = 0x0123_4567_89ab_cdef
        let memory = ProcessMemory(pid: getpid())
        let read = try withUnsafeBytes(of: &value) { raw in try memory.bytes(at: address(raw.baseAddress!), count: 8) }
        XCTAssertEqual(read, [0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01])
    }

    func testReadsGuestMemoryThroughASlotMap() throws {
        // Our own buffer as the "guest RAM" of a fake QEMU process.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 0x3000, alignment: 4096)
        defer { buffer.deallocate() }
        for i in 0..<0x3000 { buffer[i] = Self.pattern(i) }
        let host = address(buffer.baseAddress!)
        let map = try SlotMap(slots: [
            MemorySlot(guest: GuestPhysicalAddress(0x0), size: 0x1000, host: host + 0x2000, name: "lo"),
            MemorySlot(guest: GuestPhysicalAddress(0x1000), size: 0x2000, host: host, name: "hi"),
        ])
        let guest = GuestMemory(map: map, reader: ProcessMemory(pid: getpid()))
        XCTAssertEqual(try guest.bytes(at: GuestPhysicalAddress(0xffc), count: 8),
                       (0x2ffc..<0x3000).map(Self.pattern) + (0..<4).map(Self.pattern))
        let expected = UInt32(Self.pattern(0x10)) | UInt32(Self.pattern(0x11)) << 8 | UInt32(Self.pattern(0x12)) << 16 | UInt32(Self.pattern(0x13)) << 24
        XCTAssertEqual(try guest.load(UInt32.self, at: GuestPhysicalAddress(0x1010)), expected)
    }

    // MARK: Batches

    func testBatchLargerThanTheIOVecLimit() throws {
        let requestCount = 3000  // three calls of 1024, 1024 and 952
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: requestCount * 8, alignment: 8)
        defer { source.deallocate() }
        for i in 0..<source.count { source[i] = Self.pattern(i) }
        let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: requestCount * 8, alignment: 8)
        defer { destination.deallocate() }
        destination.initializeMemory(as: UInt8.self, repeating: 0)

        // Request i reads the 8 bytes at source slot (i * 7) % count into destination slot i,
        // so every request has its own remote and local address.
        let base = address(source.baseAddress!)
        var requests = (0..<requestCount).map { i in
            MemoryReadRequest(address: base + UInt64((i * 7) % requestCount * 8),
                              buffer: UnsafeMutableRawBufferPointer(rebasing: destination[i * 8..<i * 8 + 8]))
        }
        let memory = ProcessMemory(pid: getpid())
        try requests.withUnsafeMutableBufferPointer { try memory.read($0) }
        for i in 0..<requestCount {
            let from = (i * 7) % requestCount * 8
            XCTAssertEqual(Array(destination[i * 8..<i * 8 + 8]), (from..<from + 8).map(Self.pattern), "request \(i)")
            if Array(destination[i * 8..<i * 8 + 8]) != (from..<from + 8).map(Self.pattern) { break }
        }
    }

    func testBatchWithZeroLengthRequests() throws {
        let source: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        var out = [UInt8](repeating: 0, count: 8)
        let memory = ProcessMemory(pid: getpid())
        try source.withUnsafeBytes { src in
            let base = address(src.baseAddress!)
            try out.withUnsafeMutableBytes { dst in
                // Requests 0, 250, ..., 1750 each read one byte; the 1992 others are empty (at address 0,
                // which would fail if it were read).
                var requests: [MemoryReadRequest] = []
                for i in 0..<2000 {
                    let n = i / 250
                    if i % 250 == 0 {
                        requests.append(MemoryReadRequest(address: base + UInt64(n), buffer: UnsafeMutableRawBufferPointer(rebasing: dst[n..<n + 1])))
                    } else {
                        requests.append(MemoryReadRequest(address: 0, buffer: UnsafeMutableRawBufferPointer(rebasing: dst[0..<0])))
                    }
                }
                try requests.withUnsafeMutableBufferPointer { try memory.read($0) }
            }
        }
        XCTAssertEqual(out, source)
        // All empty, and an empty batch: nothing to do, nothing fails.
        var empty: [MemoryReadRequest] = []
        try empty.withUnsafeMutableBufferPointer { try memory.read($0) }
        var zeros = [MemoryReadRequest](repeating: MemoryReadRequest(address: 0, buffer: UnsafeMutableRawBufferPointer(start: nil, count: 0)), count: 1500)
        try zeros.withUnsafeMutableBufferPointer { try memory.read($0) }
    }

    // MARK: Failures

    func testUnmappedAddress() throws {
        let (raw, pageSize) = try mapPages(2)
        defer { munmap(raw, pageSize) }
        munmap(raw + pageSize, pageSize)  // the second page is now a hole
        raw.storeBytes(of: 0x77, toByteOffset: pageSize - 1, as: UInt8.self)
        let memory = ProcessMemory(pid: getpid())
        let hole = address(raw) + UInt64(pageSize)
        XCTAssertEqual(error { _ = try memory.bytes(at: hole, count: 16) }, .backingUnmapped(hole))
        XCTAssertEqual(error { _ = try memory.bytes(at: hole + 100, count: 1) }, .backingUnmapped(hole + 100))
        // The last byte before the hole still reads; one more does not, and the error names the hole.
        XCTAssertEqual(try memory.bytes(at: hole - 1, count: 1), [0x77])
        XCTAssertEqual(error { _ = try memory.bytes(at: hole - 8, count: 16) }, .backingUnmapped(hole))
    }

    func testProtNonePageIsUnmapped() throws {
        let (raw, pageSize) = try mapPages(1)
        defer { munmap(raw, pageSize) }
        mprotect(raw, pageSize, PROT_NONE)
        let memory = ProcessMemory(pid: getpid())
        // process_vm_readv (batches, large reads) honours the protection. (A single small read
        // goes through /proc/PID/mem, which reads such pages for root as a debugger would.)
        var a = [UInt8](repeating: 0, count: 8), b = [UInt8](repeating: 0, count: 8)
        let start = address(raw)
        let failure = error {
            try a.withUnsafeMutableBytes { ab in
                try b.withUnsafeMutableBytes { bb in
                    var requests = [MemoryReadRequest(address: start + 8, buffer: ab), MemoryReadRequest(address: start + 16, buffer: bb)]
                    try requests.withUnsafeMutableBufferPointer { try memory.read($0) }
                }
            }
        }
        XCTAssertEqual(failure, .backingUnmapped(start + 8))
    }

    func testNullAndKernelAddresses() {
        let memory = ProcessMemory(pid: getpid())
        XCTAssertEqual(error { _ = try memory.bytes(at: 0, count: 8) }, .backingUnmapped(0))
        XCTAssertEqual(error { _ = try memory.bytes(at: 0xffff_8000_0000_0000, count: 8) }, .backingUnmapped(0xffff_8000_0000_0000))
    }

    func testRangeWrappingPastTheTopOfTheAddressSpace() {
        let memory = ProcessMemory(pid: getpid())
        XCTAssertEqual(error { _ = try memory.bytes(at: .max - 3, count: 8) }, .backingUnmapped(.max - 3))
        XCTAssertEqual(error { _ = try memory.bytes(at: .max, count: 1) }, .backingUnmapped(.max))
        // The reader still works afterwards.
        var value: UInt32 = 0xa1b2_c3d4
        let read = withUnsafeBytes(of: &value) { raw in try? memory.bytes(at: address(raw.baseAddress!), count: 4) }
        XCTAssertEqual(read, [0xd4, 0xc3, 0xb2, 0xa1])
    }

    func testUnmappedRequestInTheMiddleOfALargeBatch() throws {
        let (raw, pageSize) = try mapPages(2)
        defer { munmap(raw, pageSize) }
        munmap(raw + pageSize, pageSize)
        let base = address(raw)
        let hole = base + UInt64(pageSize)
        var out = [UInt8](repeating: 0, count: 2500 * 4)
        let memory = ProcessMemory(pid: getpid())
        for bad in [0, 1, 1023, 1024, 1500, 2499] {
            let failure = error {
                try out.withUnsafeMutableBytes { dst in
                    var requests = (0..<2500).map { i in
                        MemoryReadRequest(address: i == bad ? hole + UInt64(i) : base + UInt64(i % 1000),
                                          buffer: UnsafeMutableRawBufferPointer(rebasing: dst[i * 4..<i * 4 + 4]))
                    }
                    try requests.withUnsafeMutableBufferPointer { try memory.read($0) }
                }
            }
            XCTAssertEqual(failure, .backingUnmapped(hole + UInt64(bad)), "bad request \(bad)")
        }
    }

    func testProcessThatDoesNotExist() {
        // Larger than any pid_max: no such process, ever.
        let memory = ProcessMemory(pid: 0x7fff_fff0)
        var buffer: UInt64 = 0
        let target = withUnsafeMutableBytes(of: &buffer) { UInt64(UInt(bitPattern: $0.baseAddress)) }
        XCTAssertEqual(error { _ = try memory.bytes(at: target, count: 8) }, .processGone(pid: 0x7fff_fff0))
        XCTAssertEqual(MemoryError.processGone(pid: 0x7fff_fff0).description, "process 2147483632 has exited")
    }

    func testProcessThatHasExited() throws {
        let child = fork()
        if child == 0 { _exit(0) }
        XCTAssertGreaterThan(child, 0)
        var status: Int32 = 0
        XCTAssertEqual(waitpid(child, &status, 0), child)
        let memory = ProcessMemory(pid: child)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        XCTAssertEqual(error { _ = try memory.bytes(at: address(buffer.baseAddress!), count: 64) }, .processGone(pid: child))
    }

    func testConcurrentReadersShareOneProcessMemory() throws {
        let count = 4096
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        defer { buffer.deallocate() }
        for i in 0..<count { buffer[i] = Self.pattern(i) }
        let base = address(buffer.baseAddress!)
        let memory = ProcessMemory(pid: getpid())
        let expected = (0..<count).map(Self.pattern)
        nonisolated(unsafe) var mismatches = 0
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let offset = (i * 61) % (count - 64)
            let ok = (try? memory.bytes(at: base + UInt64(offset), count: 64)) == Array(expected[offset..<offset + 64])
            if !ok { lock.lock(); mismatches += 1; lock.unlock() }
        }
        XCTAssertEqual(mismatches, 0)
    }
}
