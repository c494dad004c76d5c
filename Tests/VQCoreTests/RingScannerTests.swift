import XCTest
import VQCore

private func gpa(_ value: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(value) }

/// A small guest built by hand: RAM at guest 0, backed by a buffer at a host address.
private struct HandGuest {
    static let hostBase: UInt64 = 0x7f00_0000_0000
    var buffer: BufferMemory
    let size: Int

    init(size: Int) {
        self.size = size
        buffer = BufferMemory(base: Self.hostBase, count: size)
    }

    mutating func put<T: FixedWidthInteger>(_ value: T, _ at: UInt64) { buffer.store(value, at: Self.hostBase + at) }
    mutating func put(_ bytes: [UInt8], _ at: UInt64) { buffer.store(bytes, at: Self.hostBase + at) }

    var map: SlotMap {
        get throws { try SlotMap(slots: [MemorySlot(guest: gpa(0), size: UInt64(size), host: Self.hostBase, name: "pc.ram")]) }
    }
    func memory() throws -> GuestMemory { GuestMemory(map: try map, reader: buffer) }

    func scan(threads: Int = 2, minimumScore: Int = RingScanner.defaultMinimumScore, limits: RingScanLimits = RingScanLimits(),
              resident: (@Sendable (UInt64, Int) -> [Bool])? = nil) throws -> RingScanResult {
        try RingScanner.scan(memory: try memory(), residentPages: resident, threads: threads, minimumScore: minimumScore, limits: limits)
    }
}

/// Where a ring's three parts are.
private struct Layout {
    var n: Int
    var desc: UInt64
    var avail: UInt64
    var used: UInt64

    /// Linux 6.1: avail right after the table, used after used_event rounded up to 64 bytes.
    static func linux(_ n: Int, at desc: UInt64) -> Layout {
        let avail = desc + 16 * UInt64(n)
        return Layout(n: n, desc: desc, avail: avail, used: (avail + 6 + 2 * UInt64(n) + 63) & ~63)
    }

    /// Legacy virtio (and SeaBIOS): used on the next 4 KiB boundary.
    static func legacy(_ n: Int, at desc: UInt64) -> Layout {
        let avail = desc + 16 * UInt64(n)
        return Layout(n: n, desc: desc, avail: avail, used: (avail + 6 + 2 * UInt64(n) + 4095) & ~4095)
    }

    var location: VirtqueueLocation {
        VirtqueueLocation(layout: .split, size: UInt16(n), descriptors: gpa(desc), driverArea: gpa(avail), deviceArea: gpa(used))
    }
}

/// The kind of traffic a simulated driver puts on a ring.
private enum Traffic {
    /// Chains of a 16-byte read header, 512 bytes of writable data and a 1-byte writable status.
    case blk
    /// Single writable 1536-byte buffers; completed ones hold a virtio-net header and a frame.
    case netRx
    /// One 64-byte writable buffer, always descriptor 0 (as Linux's virtio-rng does).
    case rng
    /// Single readable buffers of text.
    case consoleTx
    /// One readable buffer of text, always descriptor 0 (each write completes before the next).
    case portTx
}

extension HandGuest {
    mutating func descriptor(_ l: Layout, _ i: Int, addr: UInt64, len: UInt32, flags: UInt16, next: UInt16) {
        let at = l.desc + 16 * UInt64(i)
        put(addr, at)
        put(len, at + 8)
        put(flags, at + 12)
        put(next, at + 14)
    }

    /// Simulates a driver that made `requests` buffers available, of which the device used
    /// `completed`; buffers live from `data` on (4 KiB each).
    mutating func drive(_ l: Layout, _ traffic: Traffic, requests: Int, completed: Int, data: UInt64) {
        precondition(completed <= requests)
        let n = l.n
        for r in 0..<requests {
            let head: Int
            switch traffic {
            // Linux writes each descriptor's `next` from its free list (i + 1 at first), chained or not.
            case .blk:
                let slots = n / 3
                precondition(requests - completed <= slots)
                let base = (r % slots) * 3
                head = base
                let buffer = data + UInt64(base / 3) * 0x1000
                put(UInt32(0), buffer)  // VIRTIO_BLK_T_IN
                put(UInt64(r), buffer + 8)  // sector
                descriptor(l, base, addr: buffer, len: 16, flags: 1, next: UInt16(base + 1))
                descriptor(l, base + 1, addr: buffer + 0x200, len: 512, flags: 3, next: UInt16(base + 2))
                descriptor(l, base + 2, addr: buffer + 0x40, len: 1, flags: 2, next: 0)
                if r < completed { used(l, r, id: head, len: 513) }
            case .netRx:
                head = r % n
                let buffer = data + UInt64(head) * 0x800
                descriptor(l, head, addr: buffer, len: 1536, flags: 2, next: UInt16((head + 1) % n))
                if r < completed {
                    // 12-byte virtio-net header, then an IPv4 frame.
                    put([UInt8](repeating: 0, count: 12) + [0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x52, 0x55, 10, 0, 2, 2, 0x08, 0x00], buffer)
                    used(l, r, id: head, len: 110)
                }
            case .rng:
                head = 0
                descriptor(l, 0, addr: data, len: 64, flags: 2, next: 1)
                if r < completed { used(l, r, id: 0, len: 64) }
            case .portTx:
                head = 0
                put(Array("vqscope-tick \(r)\n".utf8), data)
                descriptor(l, 0, addr: data, len: UInt32("vqscope-tick \(r)\n".utf8.count), flags: 0, next: 1)
                if r < completed { used(l, r, id: 0, len: 0) }
            case .consoleTx:
                head = r % n
                let buffer = data + UInt64(head) * 0x40
                put(Array("tick \(r)\n".utf8), buffer)
                descriptor(l, head, addr: buffer, len: UInt32("tick \(r)\n".utf8.count), flags: 0, next: UInt16((head + 1) % n))
                if r < completed { used(l, r, id: head, len: 0) }
            }
            put(UInt16(head), l.avail + 4 + 2 * UInt64(r % n))
        }
        put(UInt16(0), l.avail)
        put(UInt16(truncatingIfNeeded: requests), l.avail + 2)
        put(UInt16(0), l.used)
        put(UInt16(truncatingIfNeeded: completed), l.used + 2)
    }

    mutating func used(_ l: Layout, _ r: Int, id: Int, len: UInt32) {
        let at = l.used + 4 + 8 * UInt64(r % l.n)
        put(UInt32(id), at)
        put(len, at + 4)
    }
}

/// A reader that refuses to read some ranges (pages the page map says are not resident).
private struct GuardedReader: MemoryReader, Sendable {
    let inner: BufferMemory
    let forbidden: [(UInt64, UInt64)]
    func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        for r in requests where forbidden.contains(where: { r.address < $0.1 && r.address + UInt64(r.buffer.count) > $0.0 }) {
            throw .backingUnmapped(r.address)
        }
        try inner.read(requests)
    }
}

/// SplitMix64: reproducible pseudo-random bytes.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class RingScannerTests: XCTestCase {
    private func assertFound(_ result: RingScanResult, _ layout: Layout, avail: UInt16, used: UInt16, guess: String?,
                             file: StaticString = #filePath, line: UInt = #line) {
        guard let ring = result.rings.first(where: { $0.location.descriptors.rawValue == layout.desc }) else {
            return XCTFail("no ring at \(Hex.string(layout.desc)); found \(result.rings.map { "\($0.location.descriptors) \($0.score)" })", file: file, line: line)
        }
        XCTAssertEqual(ring.location, layout.location, "\(ring.reasons)", file: file, line: line)
        XCTAssertEqual(ring.availIndex, avail, file: file, line: line)
        XCTAssertEqual(ring.usedIndex, used, file: file, line: line)
        XCTAssertEqual(ring.deviceGuess, guess, "\(ring.reasons)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(ring.score, RingScanner.defaultMinimumScore, file: file, line: line)
    }

    // MARK: Layouts

    func testLinuxLayout256() throws {
        var g = HandGuest(size: 1 << 20)
        let l = Layout.linux(256, at: 0x10000)
        XCTAssertEqual(l.avail, 0x11000)
        XCTAssertEqual(l.used, 0x11240)
        g.drive(l, .blk, requests: 300, completed: 298, data: 0x40000)
        let result = try g.scan()
        XCTAssertEqual(result.rings.count, 1, "\(result.rings)")
        assertFound(result, l, avail: 300, used: 298, guess: "virtio-blk")
        XCTAssertTrue(result.rings[0].reasons.contains { $0.contains("where Linux puts it") }, "\(result.rings[0].reasons)")
        XCTAssertEqual(result.bytesScanned, 1 << 20)
        XCTAssertEqual(result.pagesSkipped, 0)
        XCTAssertEqual(result.candidatesDropped, 0)
    }

    func testLegacyLayoutUsedOnNextPage() throws {
        var g = HandGuest(size: 1 << 20)
        let l = Layout.legacy(128, at: 0x20000)
        XCTAssertEqual(l.avail, 0x20800)
        XCTAssertEqual(l.used, 0x21000)
        g.drive(l, .netRx, requests: 700, completed: 650, data: 0x80000)
        let result = try g.scan()
        XCTAssertEqual(result.rings.count, 1, "\(result.rings)")
        assertFound(result, l, avail: 700, used: 650, guess: "virtio-net-rx")
        XCTAssertTrue(result.rings[0].reasons.contains { $0.contains("legacy") }, "\(result.rings[0].reasons)")
    }

    func testSeaBIOSLayout() throws {
        // SeaBIOS: N=256, avail +0x1000, used +0x2000 (the legacy rule).
        var g = HandGuest(size: 1 << 20)
        let l = Layout.legacy(256, at: 0x7d000)
        XCTAssertEqual(l.used - l.desc, 0x2000)
        g.drive(l, .blk, requests: 5, completed: 5, data: 0x30000)
        let result = try g.scan()
        XCTAssertEqual(result.rings.count, 1, "\(result.rings)")
        assertFound(result, l, avail: 5, used: 5, guess: "virtio-blk")
    }

    func testSixteenByteAlignedTableAndUsedRightAfterAvail() throws {
        // Not page-aligned, and the used ring at the first 4-byte boundary after used_event:
        // legal for a modern driver, in no known layout.
        var g = HandGuest(size: 1 << 20)
        let desc: UInt64 = 0x30010
        let avail = desc + 16 * 64
        let l = Layout(n: 64, desc: desc, avail: avail, used: (avail + 6 + 128 + 3) & ~3)
        XCTAssertEqual(l.used, 0x30498)
        g.drive(l, .consoleTx, requests: 200, completed: 200, data: 0x50000)
        let result = try g.scan()
        XCTAssertEqual(result.rings.count, 1, "\(result.rings)")
        assertFound(result, l, avail: 200, used: 200, guess: "virtio-console")
        XCTAssertTrue(result.rings[0].reasons.contains { $0.contains("no known layout") }, "\(result.rings[0].reasons)")
    }

    func testSmallAndLargeRings() throws {
        var g = HandGuest(size: 4 << 20)
        let small = Layout.linux(8, at: 0x8000)
        let large = Layout.linux(1024, at: 0x100000)
        XCTAssertEqual(small.used, 0x80c0)
        XCTAssertEqual(large.used, 0x104840)
        g.drive(small, .rng, requests: 1742, completed: 1742, data: 0x9f00)
        g.drive(large, .netRx, requests: 3000, completed: 2500, data: 0x180000)
        let result = try g.scan()
        XCTAssertEqual(result.rings.count, 2, "\(result.rings)")
        assertFound(result, small, avail: 1742, used: 1742, guess: "virtio-rng")
        assertFound(result, large, avail: 3000, used: 2500, guess: "virtio-net-rx")
    }

    func testIdleButUsedRing() throws {
        // Every request reused descriptor 0 and completed: one live descriptor, all entries 0.
        var g = HandGuest(size: 1 << 20)
        let l = Layout.linux(64, at: 0x40000)
        g.drive(l, .rng, requests: 9, completed: 9, data: 0x60000)
        let result = try g.scan()
        XCTAssertEqual(result.rings.count, 1, "\(result.rings)")
        assertFound(result, l, avail: 9, used: 9, guess: "virtio-rng")
        XCTAssertTrue(result.rings[0].reasons.contains("1 live descriptor"), "\(result.rings[0].reasons)")
    }

    func testAdjacentRingsKeepTheirOwnSizes() throws {
        // Linux allocates rings page after page: the table before a ring is another ring's.
        var g = HandGuest(size: 1 << 20)
        let a = Layout.linux(128, at: 0x20000)
        let b = Layout.linux(128, at: 0x21000)
        let c = Layout.linux(256, at: 0x22000)
        g.drive(a, .netRx, requests: 128, completed: 0, data: 0x80000)  // posted, never used
        g.drive(b, .netRx, requests: 128, completed: 0, data: 0xC0000)
        g.drive(c, .consoleTx, requests: 500, completed: 499, data: 0x50000)
        let result = try g.scan()
        XCTAssertEqual(result.rings.count, 3, "\(result.rings.map { ($0.location, $0.score) })")
        assertFound(result, a, avail: 128, used: 0, guess: "virtio-net-rx")
        assertFound(result, b, avail: 128, used: 0, guess: "virtio-net-rx")
        assertFound(result, c, avail: 500, used: 499, guess: "virtio-console")
    }

    func testFreshRingBeforeAnIdleRing() throws {
        // Seen on the bench: a console port's input ring (128 buffers posted, nothing used) and on
        // the next page its output ring, which has sent 14 lines through descriptor 0. The output
        // ring's avail ring (flags 0, idx 14, zero entries) read as a used ring for the input
        // ring looks like 14 completions of descriptor 0; it must not win over the empty used ring
        // where Linux puts it.
        var g = HandGuest(size: 1 << 20)
        let input = Layout.linux(128, at: 0x2b000)
        let output = Layout.linux(128, at: 0x2c000)
        g.drive(input, .netRx, requests: 128, completed: 0, data: 0x80000)
        for k in 0..<128 { g.descriptor(input, k, addr: 0x40000 + UInt64(k) * 0x1000, len: 4096, flags: 2, next: UInt16((k + 1) % 128)) }
        g.drive(output, .portTx, requests: 14, completed: 14, data: 0x3f000)
        let result = try g.scan()
        XCTAssertEqual(result.rings.count, 2, "\(result.rings.map { ($0.location, $0.score, $0.reasons) })")
        assertFound(result, input, avail: 128, used: 0, guess: "virtio-console")
        assertFound(result, output, avail: 14, used: 14, guess: "virtio-console")
    }

    func testRingAcrossChunkBoundariesWithOneOrTwoThreads() throws {
        var g = HandGuest(size: 1 << 20)
        // With 64 KiB chunks, the table is in one chunk and the avail ring in the next.
        let l = Layout.linux(256, at: 0x1F000)
        g.drive(l, .blk, requests: 40, completed: 37, data: 0x60000)
        var limits = RingScanLimits()
        limits.chunkSize = 64 << 10
        for threads in [1, 2] {
            let result = try g.scan(threads: threads, limits: limits)
            XCTAssertEqual(result.rings.count, 1, "\(result.rings)")
            assertFound(result, l, avail: 40, used: 37, guess: "virtio-blk")
            XCTAssertEqual(result.bytesScanned, 1 << 20)
        }
    }

    // MARK: Nothing to find

    func testAllZeroRegionFindsNothing() throws {
        let g = HandGuest(size: 4 << 20)
        let result = try g.scan()
        XCTAssertEqual(result.rings.count, 0)
        XCTAssertEqual(result.anchors, 0)
        XCTAssertEqual(result.candidatesVerified, 0)
        XCTAssertEqual(result.bytesScanned, 4 << 20)
    }

    func testRandomBytesFindNothing() throws {
        var g = HandGuest(size: 4 << 20)
        var random = SplitMix(state: 0x5EED)
        g.buffer.bytes.withUnsafeMutableBytes { raw in
            for i in 0..<(raw.count / 8) { raw.storeBytes(of: random.next(), toByteOffset: 8 * i, as: UInt64.self) }
        }
        let result = try g.scan(minimumScore: Int.min)
        XCTAssertEqual(result.rings.count, 0, "\(result.rings)")
        XCTAssertGreaterThan(result.anchors, 0, "some positions pass the prefilter by chance")
        XCTAssertLessThan(result.anchors, 40, "about 2^-17 of 16-byte positions pass")
    }

    func testAllZeroRingIsNotAFind() throws {
        // Headers in place but nothing ever made available.
        var g = HandGuest(size: 1 << 20)
        let l = Layout.linux(256, at: 0x10000)
        g.put(UInt16(1), l.avail)  // NO_INTERRUPT, idx 0
        let result = try g.scan(minimumScore: Int.min)
        XCTAssertEqual(result.rings.count, 0)
    }

    func testLookAlikesAreRefused() throws {
        func scanCorrupted(_ corrupt: (inout HandGuest, Layout) -> Void) throws -> RingScanResult {
            var g = HandGuest(size: 1 << 20)
            let l = Layout.linux(256, at: 0x10000)
            g.drive(l, .blk, requests: 300, completed: 298, data: 0x40000)
            XCTAssertEqual(try g.scan().rings.count, 1, "the uncorrupted ring is found")
            corrupt(&g, l)
            return try g.scan(minimumScore: Int.min)
        }
        // An avail entry naming a descriptor past the table.
        XCTAssertEqual(try scanCorrupted { g, l in g.put(UInt16(300), l.avail + 4 + 2 * 5) }.rings.count, 0)
        // A descriptor whose next is past the table.
        XCTAssertEqual(try scanCorrupted { g, l in g.put(UInt16(256), l.desc + 16 * 7 + 14) }.rings.count, 0)
        // Descriptor flags above 7.
        XCTAssertEqual(try scanCorrupted { g, l in g.put(UInt16(8), l.desc + 16 * 3 + 12) }.rings.count, 0)
        // A buffer outside guest RAM.
        XCTAssertEqual(try scanCorrupted { g, l in g.put(UInt64(0x1_0000_0000), l.desc + 16 * 4) }.rings.count, 0)
        // A used id past the table.
        XCTAssertEqual(try scanCorrupted { g, l in g.put(UInt32(999), l.used + 4 + 8 * 10) }.rings.count, 0)
        // More in flight than the ring holds: avail.idx - used.idx > N.
        XCTAssertEqual(try scanCorrupted { g, l in g.put(UInt16(298 + 257), l.avail + 2) }.rings.count, 0)
        // avail.flags other than 0 or 1.
        XCTAssertEqual(try scanCorrupted { g, l in g.put(UInt16(2), l.avail) }.rings.count, 0)
    }

    // MARK: Residency, bounds

    func testNonResidentPagesAreNeverRead() throws {
        var g = HandGuest(size: 1 << 20)
        let l = Layout.linux(256, at: 0x10000)
        g.drive(l, .blk, requests: 30, completed: 30, data: 0x40000)
        // Pages 0x80000-0xfffff are "not resident": reading them fails the test.
        let host = HandGuest.hostBase
        let forbidden = [(host + 0x80000, host + 0x100000)]
        let memory = GuestMemory(map: try g.map, reader: GuardedReader(inner: g.buffer, forbidden: forbidden))
        let resident: @Sendable (UInt64, Int) -> [Bool] = { address, count in
            (0..<count).map { i in
                let page = address + UInt64(i) * 4096
                return !(page >= host + 0x80000 && page < host + 0x100000)
            }
        }
        var limits = RingScanLimits()
        limits.chunkSize = 128 << 10
        let result = try RingScanner.scan(memory: memory, residentPages: resident, limits: limits)
        XCTAssertEqual(result.notes, [])
        XCTAssertEqual(result.pagesSkipped, 128)
        XCTAssertEqual(result.bytesScanned, 0x80000)
        XCTAssertEqual(result.rings.map(\.location), [l.location])
    }

    func testCandidateBudgetIsEnforced() throws {
        var g = HandGuest(size: 1 << 20)
        let l = Layout.linux(256, at: 0x10000)
        g.drive(l, .blk, requests: 300, completed: 298, data: 0x40000)
        var limits = RingScanLimits()
        limits.maximumCandidates = 0
        let result = try g.scan(limits: limits)
        XCTAssertEqual(result.rings.count, 0)
        XCTAssertEqual(result.candidatesVerified, 0)
        XCTAssertGreaterThan(result.candidatesDropped, 0)
    }

    func testMaximumRingSizeBoundsTheSearch() throws {
        var g = HandGuest(size: 4 << 20)
        let l = Layout.linux(1024, at: 0x10000)
        g.drive(l, .netRx, requests: 2000, completed: 1990, data: 0x80000)
        var limits = RingScanLimits()
        limits.maximumRingSize = 512
        let r = try g.scan(limits: limits)
        XCTAssertEqual(r.rings.count, 0, "\(r.rings)")
        limits.maximumRingSize = 1024
        XCTAssertEqual(try g.scan(limits: limits).rings.map(\.location), [l.location])
    }
}

// MARK: - Live or stale

final class RingLivenessScanTests: XCTestCase {
    /// A live target whose every page is resident.
    private let allResident: @Sendable (UInt64, Int) -> [Bool] = { _, count in [Bool](repeating: true, count: count) }

    /// SeaBIOS's virtio-blk ring in the reserved top of RAM (used ring at +0x2000) beside the live
    /// ring Linux laid out for the same disk: on a live target the first is stale, listed last and
    /// named apart, so `virtio-blk:0` is Linux's; an image's rings are not judged.
    func testFirmwareRingInTheReservedTopOfRAMIsStaleAndNamedApart() throws {
        var g = HandGuest(size: 4 << 20)
        let bios = Layout.legacy(256, at: (4 << 20) - 0x23000)
        XCTAssertEqual(bios.used - bios.desc, 0x2000)
        g.drive(bios, .blk, requests: 40, completed: 40, data: 0x200000)
        let linux = Layout.linux(256, at: 0x100000)
        g.drive(linux, .blk, requests: 300, completed: 298, data: 0x300000)

        let live = try g.scan(resident: allResident)
        XCTAssertEqual(live.rings.map(\.location.descriptors.rawValue), [linux.desc, bios.desc], "\(live.rings)")
        XCTAssertEqual(live.rings.map(\.stale), [false, true])
        XCTAssertTrue(live.rings[1].liveness?.contains("firmware") == true, "\(live.rings[1].liveness ?? "-")")
        XCTAssertGreaterThan(live.livenessWindow, 0.09)
        let list = QueueList.scanned(live.rings, note: nil)
        XCTAssertEqual(list.devices.map(\.name), ["virtio-blk", "stale-virtio-blk"])
        XCTAssertEqual(list.queues.first { $0.device == "virtio-blk" && $0.index == 0 }?.location.descriptors.rawValue, linux.desc)
        XCTAssertEqual(list.queues.last?.label, "stale-virtio-blk:0")
        XCTAssertEqual(list.payloadRole(of: list.queues[1])?.device, "virtio-blk")

        let image = try g.scan()
        XCTAssertEqual(image.rings.map(\.location.descriptors.rawValue), [linux.desc, bios.desc])
        XCTAssertEqual(image.rings.map(\.stale), [nil, nil])
        XCTAssertEqual(image.livenessWindow, 0)
        XCTAssertEqual(QueueList.scanned(image.rings, note: nil).devices.map(\.name), ["virtio-blk"])
    }

    /// A ring in another layout that a ring of the same size and kind in Linux's layout replaced
    /// is stale, wherever it lies; an idle ring in Linux's layout is live.
    func testReplacedRingIsStaleAndIdleLinuxRingIsLive() throws {
        var g = HandGuest(size: 4 << 20)
        let old = Layout.legacy(256, at: 0x80000)
        g.drive(old, .blk, requests: 12, completed: 12, data: 0x200000)
        let linux = Layout.linux(256, at: 0x100000)
        g.drive(linux, .blk, requests: 300, completed: 300, data: 0x300000)
        let result = try g.scan(resident: allResident)
        XCTAssertEqual(result.rings.map(\.location.descriptors.rawValue), [linux.desc, old.desc], "\(result.rings)")
        XCTAssertEqual(result.rings.map(\.stale), [false, true])
        XCTAssertTrue(result.rings[0].liveness?.contains("idle, laid out as the running Linux driver") == true, "\(result.rings[0].liveness ?? "-")")
        XCTAssertTrue(result.rings[1].liveness?.contains("replaced") == true, "\(result.rings[1].liveness ?? "-")")
    }

    /// A window of 0 leaves a live target's rings unjudged.
    func testNoWindowLeavesRingsUnjudged() throws {
        var g = HandGuest(size: 1 << 20)
        g.drive(Layout.linux(256, at: 0x10000), .blk, requests: 300, completed: 298, data: 0x40000)
        var limits = RingScanLimits()
        limits.livenessWindow = 0
        let result = try g.scan(limits: limits, resident: allResident)
        XCTAssertEqual(result.rings.map(\.stale), [nil])
    }
}

// MARK: - Packed rings

final class PackedRingScanTests: XCTestCase {
    private let allResident: @Sendable (UInt64, Int) -> [Bool] = { _, count in [Bool](repeating: true, count: count) }

    /// Writes `sim`'s ring at `desc` and, as Linux does, its driver event page one page below and
    /// its device event page two below.
    private func place(_ sim: PackedRingSimulator, at desc: UInt64, in g: inout HandGuest, driverEvent: UInt32 = 0x0002_8000) {
        for (i, d) in sim.ring.enumerated() { g.put(d.packedBytes, desc + 16 * UInt64(i)) }
        g.put(driverEvent, desc - 0x1000)
    }

    private func assertPacked(_ result: RingScanResult, at desc: UInt64, _ sim: PackedRingSimulator, size: Int? = nil,
                              file: StaticString = #filePath, line: UInt = #line) {
        guard let ring = result.rings.first(where: { $0.location.descriptors.rawValue == desc }) else {
            return XCTFail("no packed ring at \(Hex.string(desc)): \(result.rings.map { "\($0.location)" })", file: file, line: line)
        }
        XCTAssertEqual(ring.location.layout, .packed, file: file, line: line)
        XCTAssertEqual(Int(ring.location.size), size ?? sim.n, "\(ring.reasons)", file: file, line: line)
        XCTAssertEqual(ring.location.driverArea.rawValue, desc - 0x1000, file: file, line: line)
        XCTAssertEqual(ring.location.deviceArea.rawValue, desc - 0x2000, file: file, line: line)
        let driver = PackedRing.Position(index: UInt16(sim.slot(sim.driver)), wrap: sim.wrap(sim.driver))
        XCTAssertEqual(ring.availIndex, driver.encoded, "driver position \(ring.reasons)", file: file, line: line)
        XCTAssertEqual(ring.usedIndex, PackedRing.Position(index: UInt16(sim.slot(sim.used)), wrap: sim.wrap(sim.used)).encoded,
                       "device used position \(ring.reasons)", file: file, line: line)
    }

    func testPackedRingsInEveryLapAreFoundWithTheirWrapState() throws {
        var g = HandGuest(size: 8 << 20)
        // A receive ring: the whole first lap posted, 10 returned.
        var rx = PackedRingSimulator(size: 256)
        for id in 0..<256 { rx.post(id: UInt16(id)) }
        for _ in 0..<10 { rx.completeOldest() }
        place(rx, at: 0x600000, in: &g)
        // A small ring many laps on, one buffer at a time, one in flight.
        var rng = PackedRingSimulator(size: 8)
        for _ in 0..<21 { rng.post(id: 0); rng.completeOldest() }
        rng.post(id: 0)
        place(rng, at: 0x640000, in: &g)
        // A ring in its second lap with chains of two and three slots, completed out of order.
        var tx = PackedRingSimulator(size: 64)
        var random = TestRandom(seed: 7)
        while tx.driver < 100 {
            if tx.freeSlots >= 3, let free = tx.randomFreeID(&random) { tx.post(id: free, slots: 2 + random.below(2)) }
            if tx.inFlight.count > 4 { tx.complete(id: tx.inFlight[random.below(tx.inFlight.count)].id) }
        }
        place(tx, at: 0x680000, in: &g)

        for result in [try g.scan(), try g.scan(resident: allResident)] {
            XCTAssertEqual(result.rings.filter { $0.location.layout == .packed }.count, 3, "\(result.rings.map(\.location))")
            assertPacked(result, at: 0x600000, rx)
            assertPacked(result, at: 0x640000, rng)
            let txRing = result.rings.first { $0.location.descriptors.rawValue == 0x680000 }
            XCTAssertEqual(txRing?.location.size, 64)
            XCTAssertEqual(txRing?.availIndex, PackedRing.Position(index: UInt16(tx.slot(tx.driver)), wrap: tx.wrap(tx.driver)).encoded)
        }
        let live = try g.scan(resident: allResident)
        XCTAssertTrue(live.rings.allSatisfy { $0.stale == false }, "\(live.rings.map { $0.liveness ?? "-" })")
    }

    /// A first lap with a zeroed tail does not show its size: the scan says so and keeps the
    /// written slots and the driver's position.
    func testFirstLapWithAZeroedTailIsFoundWithItsSizeGuessed() throws {
        var g = HandGuest(size: 4 << 20)
        var ctrl = PackedRingSimulator(size: 64)
        for _ in 0..<3 { ctrl.post(id: 0); ctrl.completeOldest() }
        place(ctrl, at: 0x200000, in: &g, driverEvent: 0x0001_0000)
        let result = try g.scan()
        let ring = try XCTUnwrap(result.rings.first { $0.location.descriptors.rawValue == 0x200000 }, "\(result.rings.map(\.location))")
        XCTAssertEqual(ring.location.layout, .packed)
        XCTAssertGreaterThanOrEqual(ring.location.size, 4)
        XCTAssertEqual(ring.availIndex, PackedRing.Position(index: 3, wrap: true).encoded)
        XCTAssertTrue(ring.reasons.contains { $0.contains("size is the largest that fits") }, "\(ring.reasons)")
    }

    /// Zeroed pages, random bytes and split rings are no packed rings.
    func testNonRingsAreNotFoundAsPackedRings() throws {
        var g = HandGuest(size: 8 << 20)
        var random = SplitMix(state: 42)
        for at in stride(from: UInt64(0x100000), to: 0x300000, by: 8) { g.put(random.next(), at) }
        // Random bytes with a plausible first slot on every page.
        for page in stride(from: UInt64(0x300000), to: 0x400000, by: 0x1000) {
            for at in stride(from: page, to: page + 0x1000, by: 8) { g.put(random.next(), at) }
            g.put(UInt64(0x10000 + page % 0x10000), page)
            g.put(UInt64(0x0080_0001_0000_0200), page + 8)
        }
        let blk = Layout.linux(256, at: 0x500000)
        g.drive(blk, .blk, requests: 300, completed: 298, data: 0x600000)
        let rx = Layout.linux(256, at: 0x520000)
        g.drive(rx, .netRx, requests: 700, completed: 650, data: 0x640000)
        let result = try g.scan()
        XCTAssertEqual(result.rings.filter { $0.location.layout == .packed }.map(\.location), [])
        XCTAssertEqual(Set(result.rings.map(\.location.descriptors.rawValue)), [blk.desc, rx.desc])
    }
}

// MARK: - Device guesses from buffer contents

extension HandGuest {
    /// A driver that made `requests` chains available, the device used `completed`; chain `r` is
    /// `parts` (length, writable, bytes written at its start), each part in its own 4 KiB from `data`.
    mutating func driveChains(_ l: Layout, requests: Int, completed: Int, data: UInt64,
                              parts: (Int) -> [(length: UInt32, writable: Bool, bytes: [UInt8])], usedLength: UInt32) {
        var slot = 0
        for r in 0..<requests {
            let chain = parts(r)
            let head = slot % l.n
            for (k, part) in chain.enumerated() {
                let i = (slot + k) % l.n
                let buffer = data + UInt64(i) * 0x1000
                put(part.bytes, buffer)
                descriptor(l, i, addr: buffer, len: part.length, flags: (part.writable ? 2 : 0) | (k < chain.count - 1 ? 1 : 0),
                           next: UInt16((i + 1) % l.n))
            }
            slot += chain.count
            if r < completed { used(l, r, id: head, len: usedLength) }
            put(UInt16(head), l.avail + 4 + 2 * UInt64(r % l.n))
        }
        put(UInt16(truncatingIfNeeded: requests), l.avail + 2)
        put(UInt16(truncatingIfNeeded: completed), l.used + 2)
    }
}

final class RingScannerGuessTests: XCTestCase {
    private func le(_ v: UInt64, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    private func guessed(_ parts: @escaping (Int) -> [(length: UInt32, writable: Bool, bytes: [UInt8])], n: Int = 64, requests: Int = 20,
                         completed: Int = 18, usedLength: UInt32 = 0) throws -> ScannedRing {
        var g = HandGuest(size: 2 << 20)
        let l = Layout.linux(n, at: 0x10000)
        g.driveChains(l, requests: requests, completed: completed, data: 0x100000, parts: parts, usedLength: usedLength)
        let result = try g.scan()
        return try XCTUnwrap(result.rings.first { $0.location.descriptors.rawValue == l.desc }, "\(result.rings)")
    }

    func testVirtioInputEventBuffers() throws {
        let ring = try guessed({ _ in [(8, true, [1, 0, 0x1e, 0, 1, 0, 0, 0])] }, usedLength: 8)
        XCTAssertEqual(ring.deviceGuess, "virtio-input", "\(ring.reasons)")
        XCTAssertGreaterThanOrEqual(ring.guessScore, 8)
    }

    func testBalloonStatisticsAndPageArrays() throws {
        var statBytes: [UInt8] = []
        for tag in 0..<10 { statBytes += le(UInt64(tag), 2); statBytes += le(UInt64(1000 * tag + 7), 8) }
        let statBuffer = statBytes
        let stats = try guessed({ _ in [(100, false, statBuffer)] }, requests: 5, completed: 4)
        XCTAssertEqual(stats.deviceGuess, "virtio-balloon-stats", "\(stats.reasons)")
        let pages = try guessed({ _ in [(1024, false, (0..<256).flatMap { self.le(UInt64(0x100 + $0), 4) })] }, requests: 3, completed: 3)
        XCTAssertEqual(pages.deviceGuess, "virtio-balloon", "\(pages.reasons)")
    }

    func testSCSIRequestsAnd9PMessagesAndConsoleControl() throws {
        let lun: [UInt8] = [1, 0, 0x40, 0, 0, 0, 0, 0]
        let scsi = try guessed({ r in
            let header: [UInt8] = lun + self.le(UInt64(r), 8) + [0, 0, 0, 0x28]
            return [(51, false, header), (108, true, []), (4096, true, [])]
        }, n: 128, usedLength: 4096 + 108)
        XCTAssertEqual(scsi.deviceGuess, "virtio-scsi", "\(scsi.reasons)")
        var walk: [UInt8] = le(19, 4)
        walk += [110]
        walk += le(1, 2)
        walk += le(0, 4)
        walk += le(1, 4)
        walk += le(1, 2)
        walk += [0x61, 0x62]
        let nineP = try guessed({ _ in [(UInt32(walk.count), false, walk), (8192, true, [])] }, n: 128, usedLength: 22)
        XCTAssertEqual(nineP.deviceGuess, "virtio-9p", "\(nineP.reasons)")
        let control = try guessed({ r in [(8, false, self.le(UInt64(r % 2), 4) + [3, 0, 1, 0])] }, requests: 6, completed: 6)
        XCTAssertEqual(control.deviceGuess, "virtio-console-control", "\(control.reasons)")
    }
}

extension RingScannerGuessTests {
    /// Each new guess decodes as its device's queue.
    func testNewGuessesDecodeAsTheirDevicesQueues() throws {
        let location = VirtqueueLocation(layout: .split, size: 64, descriptors: gpa(0x10000), driverArea: gpa(0x10400), deviceArea: gpa(0x104c0))
        let expected: [(String, String, Int)] = [("virtio-scsi", "virtio-scsi", 2), ("virtio-9p", "virtio-9p", 0), ("virtio-input", "virtio-input", 0),
                                                 ("virtio-balloon", "virtio-balloon", 0), ("virtio-balloon-stats", "virtio-balloon", 2),
                                                 ("virtio-console-control", "virtio-console", 3)]
        for (guess, device, index) in expected {
            let ring = ScannedRing(location: location, availIndex: 1, usedIndex: 1, deviceGuess: guess, score: 15, reasons: [])
            let list = QueueList.scanned([ring], note: nil)
            let role = try XCTUnwrap(list.payloadRole(of: list.queues[0]), guess)
            XCTAssertEqual(role.device, device, guess)
            XCTAssertEqual(role.queueIndex, index, guess)
        }
    }
}
