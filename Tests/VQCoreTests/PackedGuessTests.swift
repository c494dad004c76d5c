import VQCore
import XCTest

/// Device guesses for packed rings, from bytes laid out as Linux's drivers and QEMU's devices
/// leave them: the driver writes a chain's slots in ring order (buffer id in each, the first
/// slot's flags last); the device writes id, length and AVAIL = USED = its wrap counter over the
/// slot at its used position and leaves the address.
final class PackedGuessTests: XCTestCase {
    private static let hostBase: UInt64 = 0x7f00_0000_0000
    private static let ramSize = 8 << 20

    /// A guest of 8 MiB at guest-physical 0 with one packed ring.
    private struct PackedGuest {
        var memory = BufferMemory(base: PackedGuessTests.hostBase, count: PackedGuessTests.ramSize)
        let n: Int
        let desc: UInt64 = 0x200000
        var driver = 0, used = 0
        var inFlight: [(id: UInt16, slots: Int)] = []
        var nextData: UInt64 = 0x300000

        init(n: Int) {
            self.n = n
            // Linux's driver event suppression page, one page below the ring (flags 2: disabled... as Linux leaves it).
            put(UInt32(0x0002_8000), desc - 0x1000)
        }

        mutating func put<T: FixedWidthInteger>(_ value: T, _ gpa: UInt64) { memory.store(value, at: PackedGuessTests.hostBase + gpa) }
        mutating func put(_ bytes: [UInt8], _ gpa: UInt64) { memory.store(bytes, at: PackedGuessTests.hostBase + gpa) }

        func wrap(_ position: Int) -> Bool { (position / n) % 2 == 0 }

        /// Makes a chain of `parts` available (each part in its own 4 KiB of data).
        mutating func post(id: UInt16, _ parts: [(length: UInt32, writable: Bool, bytes: [UInt8])]) {
            let w = wrap(driver)
            for (k, part) in parts.enumerated().reversed() {
                let address = nextData + UInt64(k) * 0x1000
                put(part.bytes, address)
                let slot = desc + 16 * UInt64((driver + k) % n)
                var flags: UInt16 = (w ? 0x80 : 0x8000) | (part.writable ? 2 : 0) | (k < parts.count - 1 ? 1 : 0)
                if wrap(driver + k) != w { flags ^= 0x8080 }
                put(address, slot)
                put(part.length, slot + 8)
                put(id, slot + 12)
                put(flags, slot + 14)
            }
            nextData += UInt64(parts.count) * 0x1000
            inFlight.append((id, parts.count))
            driver += parts.count
        }

        /// The device uses the oldest buffer, having written `length` bytes (and `bytes` at its start).
        mutating func complete(length: UInt32, bytes: [UInt8] = []) {
            let (id, slots) = inFlight.removeFirst()
            let slot = desc + 16 * UInt64(used % n)
            if !bytes.isEmpty {
                let address = UInt64(memory.bytes[Int(slot)..<Int(slot) + 8].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) })
                put(bytes, address)
            }
            put(length, slot + 8)
            put(id, slot + 12)
            put(UInt16(wrap(used) ? 0x8080 : 0), slot + 14)
            used += slots
        }

        func scan() throws -> ScannedRing {
            let map = try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(PackedGuessTests.ramSize),
                                                     host: PackedGuessTests.hostBase, name: "pc.ram")])
            let result = try RingScanner.scan(memory: GuestMemory(map: map, reader: memory), residentPages: nil)
            return try XCTUnwrap(result.rings.first { $0.location.descriptors.rawValue == desc && $0.location.layout == .packed },
                                 "\(result.rings.map { "\($0.location) \($0.score)" })")
        }
    }

    private func le(_ v: UInt64, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    private let frame: [UInt8] = [UInt8](repeating: 0, count: 12) + [0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x52, 0x55, 10, 0, 2, 2, 0x08, 0x00]

    func testReceiveRingFromPostedBuffersAndReceivedFrames() throws {
        var g = PackedGuest(n: 256)
        for id in 0..<256 { g.post(id: UInt16(id), [(1536, true, [])]) }
        for _ in 0..<40 { g.complete(length: 98, bytes: frame) }
        let ring = try g.scan()
        XCTAssertEqual(ring.deviceGuess, "virtio-net-rx", "\(ring.reasons)")
        XCTAssertGreaterThanOrEqual(ring.guessScore, 16, "\(ring.reasons)")
    }

    func testTransmitRingFromUsedBuffersHoldingFrames() throws {
        var g = PackedGuest(n: 256)
        for r in 0..<300 {
            g.post(id: UInt16(r % 256), [(98, false, frame)])
            g.complete(length: 0)
        }
        let ring = try g.scan()
        XCTAssertEqual(ring.deviceGuess, "virtio-net-tx", "\(ring.reasons)")
        XCTAssertEqual(ring.guessScore, 16, "the latest 16 used slots each vote")
    }

    func testRNGInputBalloonStatsSCSIAnd9P() throws {
        // virtio-rng: one small writable buffer at a time.
        var rng = PackedGuest(n: 8)
        for _ in 0..<20 { rng.post(id: 0, [(64, true, [])]); rng.complete(length: 64) }
        rng.post(id: 0, [(64, true, [])])
        XCTAssertEqual(try rng.scan().deviceGuess, "virtio-rng")

        // virtio-input: 8-byte writable buffers posted, used ones holding key events.
        var input = PackedGuest(n: 64)
        for id in 0..<64 { input.post(id: UInt16(id), [(8, true, [])]) }
        for _ in 0..<10 { input.complete(length: 8, bytes: [1, 0, 0x1e, 0, 1, 0, 0, 0]) }
        let inputRing = try input.scan()
        XCTAssertEqual(inputRing.deviceGuess, "virtio-input", "\(inputRing.reasons)")

        // The balloon's statistics: one readable buffer of 10-byte tag/value pairs, in flight.
        var stats = PackedGuest(n: 64)
        var statBytes: [UInt8] = []
        for tag in 0..<10 { statBytes += le(UInt64(tag), 2) + le(UInt64(1000 * tag + 7), 8) }
        for _ in 0..<3 { stats.post(id: 0, [(100, false, statBytes)]); stats.complete(length: 0) }
        stats.post(id: 0, [(100, false, statBytes)])
        XCTAssertEqual(try stats.scan().deviceGuess, "virtio-balloon-stats")

        // virtio-scsi: requests in flight, each a header with LUN 1/0/0x40, a response, data.
        var scsi = PackedGuest(n: 128)
        for r in 0..<8 {
            let header: [UInt8] = [1, 0, 0x40, 0, 0, 0, 0, 0] + le(UInt64(r), 8) + [0, 0, 0, 0x28]
            scsi.post(id: UInt16(r), [(51, false, header), (108, true, []), (4096, true, [])])
        }
        let scsiRing = try scsi.scan()
        XCTAssertEqual(scsiRing.deviceGuess, "virtio-scsi", "\(scsiRing.reasons)")
        XCTAssertEqual(scsiRing.guessScore, 8, "\(scsiRing.reasons)")

        // virtio-9p: a Twalk in flight and its reply buffer.
        var walk: [UInt8] = le(19, 4) + [110] + le(1, 2) + le(0, 4) + le(1, 4) + le(1, 2) + [0x61, 0x62]
        walk[0] = UInt8(walk.count)
        var nineP = PackedGuest(n: 128)
        for r in 0..<4 { nineP.post(id: UInt16(r), [(UInt32(walk.count), false, walk), (8192, true, [])]) }
        XCTAssertEqual(try nineP.scan().deviceGuess, "virtio-9p")
    }

    /// Zeroed used buffers say nothing: no frame, no input event beyond EV_SYN's zero.
    func testUsedSlotsOverZeroedBuffersGiveNoConfidentGuess() throws {
        var g = PackedGuest(n: 64)
        for r in 0..<40 { g.post(id: UInt16(r % 64), [(200, false, [])]); g.complete(length: 0) }
        let ring = try g.scan()
        XCTAssertNotEqual(ring.deviceGuess, "virtio-net-tx", "\(ring.reasons)")
        XCTAssertNotEqual(ring.deviceGuess, "virtio-net-rx", "\(ring.reasons)")
    }

    /// 24 slots written in ring order in a first lap are no full lap of 16: the ring found holds
    /// them all, with the driver's true position and wrap counter.
    func testAFirstLapIsNeverSizedBelowItsWrittenSlots() throws {
        var g = PackedGuest(n: 128)
        for r in 0..<8 { g.post(id: UInt16(r), [(16, false, []), (512, true, []), (1, true, [])]) }
        let ring = try g.scan()
        XCTAssertGreaterThanOrEqual(ring.location.size, 32, "\(ring.reasons)")
        XCTAssertEqual(ring.availIndex, PackedRing.Position(index: 24, wrap: true).encoded, "\(ring.reasons)")
    }
}
