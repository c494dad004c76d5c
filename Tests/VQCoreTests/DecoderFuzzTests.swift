import VQCore
import XCTest

/// Deterministic fuzzing of everything that decodes guest-controlled or file-controlled bytes: split
/// and packed rings, chains and indirect tables, device payloads, ELF images and JSON. Thousands of
/// random and mutated inputs each; nothing may trap, output stays bounded, and every problem is named
/// with a code from ``RingProblem/allCodes``.
final class DecoderFuzzTests: XCTestCase {
    static let host: UInt64 = 0x5a00_0000_0000
    /// Guest RAM: 128 KiB at 0, and one page at 1 MiB (a hole between, nothing above).
    static let ramSize = 0x20000
    static let highPage: UInt64 = 0x100000
    /// Indirect tables are cut at this many entries in these runs (the default is 1024).
    static let cap = 64
    let limits = ChainLimits(maxIndirectEntries: DecoderFuzzTests.cap, maxIndirectBytes: 64 << 10)
    let codes = Set(RingProblem.allCodes)

    private func memory(_ ram: BufferMemory) throws -> GuestMemory {
        GuestMemory(map: try SlotMap(slots: [
            MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(Self.ramSize), host: Self.host, name: "pc.ram"),
            MemorySlot(guest: GuestPhysicalAddress(Self.highPage), size: 0x1000, host: Self.host + UInt64(Self.ramSize), name: "high"),
        ]), reader: ram)
    }

    /// Noise over all of guest RAM, made once: each round starts from a copy and writes its rings over it.
    private static let noise: BufferMemory = {
        var random = TestRandom(seed: 0x0153)
        var ram = BufferMemory(base: host, count: ramSize + 0x1000)
        ram.bytes.withUnsafeMutableBytes { raw in
            for i in stride(from: 0, to: raw.count, by: 8) { raw.storeBytes(of: random.next(), toByteOffset: i, as: UInt64.self) }
        }
        return ram
    }()

    private func newRAM(_ random: inout TestRandom) -> BufferMemory {
        var ram = Self.noise
        mutate(&ram, 0..<Self.ramSize, &random, writes: 64)
        return ram
    }

    /// A guest address: mostly in RAM, sometimes in the hole, past the end or wild.
    private func address(_ random: inout TestRandom, align: UInt64 = 1) -> UInt64 {
        let a: UInt64
        switch random.below(10) {
        case 0: a = Self.highPage + UInt64(random.below(0x1000))
        case 1: a = UInt64(Self.ramSize) + UInt64(random.below(0x10000))
        case 2: a = random.next()
        default: a = UInt64(random.below(Self.ramSize))
        }
        return a / align * align
    }

    /// A descriptor as hostile drivers write them: flags, links, lengths and addresses of every kind.
    private static let flagChoices: [UInt16] = [0, 1, 2, 3, 4, 6, 5]

    private func descriptor(_ random: inout TestRandom, size: Int, layout: RingLayout, wrap: Bool = true) -> Descriptor {
        let pick = random.below(Self.flagChoices.count + 1)
        var flags = Descriptor.Flags(rawValue: pick < Self.flagChoices.count ? Self.flagChoices[pick] : UInt16(truncatingIfNeeded: random.next()))
        if layout == .packed && random.below(10) < 8 {
            flags.remove([.avail, .used])
            flags.formUnion(random.below(4) == 0 ? (wrap ? [.avail, .used] : []) : (wrap ? [.avail] : [.used]))
        }
        let length: UInt32
        switch random.below(8) {
        case 0: length = 0
        case 1: length = UInt32.max - UInt32(random.below(16))
        case 2: length = UInt32(16 * (1 + random.below(200)))
        case 3: length = UInt32(random.below(33))
        default: length = UInt32(1 + random.below(5000))
        }
        let next = random.below(10) == 0 ? UInt16(truncatingIfNeeded: random.next()) : UInt16(random.below(max(1, size)))
        return Descriptor(address: GuestPhysicalAddress(address(&random, align: random.chance(50) ? 16 : 1)), length: length, flags: flags,
                          next: layout == .split ? next : 0, id: layout == .packed ? next : 0)
    }

    private func store(_ d: Descriptor, layout: RingLayout, at gpa: UInt64, in ram: inout BufferMemory) {
        guard gpa + 16 <= UInt64(Self.ramSize) else { return }
        ram.store(layout == .split ? d.splitBytes : d.packedBytes, at: Self.host + gpa)
    }

    /// Random byte writes over `range` of guest RAM (the mutation step).
    private func mutate(_ ram: inout BufferMemory, _ range: Range<Int>, _ random: inout TestRandom, writes: Int) {
        let lower = max(0, range.lowerBound), upper = min(Self.ramSize, range.upperBound)
        guard lower < upper else { return }
        for _ in 0..<writes {
            let at = lower + random.below(upper - lower)
            ram.bytes[at] = random.chance(50) ? ram.bytes[at] ^ UInt8(1 << random.below(8)) : UInt8(truncatingIfNeeded: random.next())
        }
    }

    private func checkChain(_ c: Chain, ringSize n: Int, _ what: String) {
        let fromTables = c.elements.filter(\.isFromIndirectTable)
        let tables = Set(fromTables.compactMap(\.indirectTable))
        XCTAssertLessThanOrEqual(c.ringDescriptors, max(n, 1), what)
        XCTAssertLessThanOrEqual(c.elements.count - fromTables.count, c.ringDescriptors, what)
        XCTAssertLessThanOrEqual(fromTables.count, tables.count * Self.cap, what)
        XCTAssertLessThanOrEqual(c.problems.count, 8 * (c.elements.count + c.ringDescriptors) + 8, what)
        for p in c.problems { XCTAssertTrue(codes.contains(p.code), "\(what): \(p.code)") }
    }

    private static let sizes: [UInt16] = [1, 2, 4, 8, 16, 64, 128, 256, 3, 100, 0]

    // MARK: Rings

    func testSplitRings() throws {
        var random = TestRandom(seed: 0x5EED_0001)
        var decoded = 0, chains = 0, problems = Set<String>()
        for round in 0..<1500 {
            var ram = newRAM(&random)
            let n = Int(Self.sizes[random.below(Self.sizes.count)])
            let desc = UInt64(random.below(Self.ramSize / 2)) / 16 * 16
            let avail = random.chance(80) ? desc + UInt64(16 * n) : address(&random, align: 2)
            let used = random.chance(80) ? (avail + UInt64(6 + 2 * n) + 63) / 64 * 64 : address(&random, align: 4)
            // A plausible ring first: chains, indirect tables, heads in the avail ring, used entries.
            for i in 0..<n { store(descriptor(&random, size: n, layout: .split), layout: .split, at: desc + UInt64(16 * i), in: &ram) }
            for _ in 0..<random.below(4) {
                let table = UInt64(random.below(Self.ramSize - 0x1000)) / 16 * 16
                for j in 0..<random.below(40) { store(descriptor(&random, size: 40, layout: .split), layout: .split, at: table + UInt64(16 * j), in: &ram) }
                if n > 0 {
                    let i = random.below(n)
                    store(Descriptor(address: GuestPhysicalAddress(table), length: UInt32(16 * random.below(50)), flags: [.indirect]), layout: .split,
                          at: desc + UInt64(16 * i), in: &ram)
                }
            }
            let availIndex = UInt16(truncatingIfNeeded: random.next())
            let usedIndex = random.chance(80) ? availIndex &- UInt16(random.below(n + 1)) : UInt16(truncatingIfNeeded: random.next())
            if avail + 4 + UInt64(2 * n) <= UInt64(Self.ramSize) {
                ram.store(availIndex, at: Self.host + avail + 2)
                for i in 0..<n { ram.store(random.chance(90) ? UInt16(random.below(n)) : UInt16(truncatingIfNeeded: random.next()), at: Self.host + avail + 4 + UInt64(2 * i)) }
            }
            if used + 4 + UInt64(8 * n) <= UInt64(Self.ramSize) {
                ram.store(usedIndex, at: Self.host + used + 2)
                for i in 0..<n { ram.store(UInt32(random.chance(90) ? random.below(max(1, n)) : Int(truncatingIfNeeded: random.next() & 0xffff_ffff)), at: Self.host + used + 4 + UInt64(8 * i)) }
            }
            // Then mutated.
            mutate(&ram, Int(desc)..<Int(desc) + 16 * n + 64, &random, writes: random.below(30))
            let location = VirtqueueLocation(layout: .split, size: UInt16(n), descriptors: GuestPhysicalAddress(desc),
                                             driverArea: GuestPhysicalAddress(avail), deviceArea: GuestPhysicalAddress(used),
                                             features: random.chance(50) ? [.eventIndex, .indirectDescriptors] : [])
            let s: SplitRing.Snapshot
            do { s = try SplitRing.snapshot(memory: try memory(ram), location: location, maxAttempts: 1 + random.below(3), limits: limits) } catch {
                continue  // ring areas outside RAM: refused, as documented
            }
            decoded += 1
            let what = "round \(round), N=\(n)"
            XCTAssertEqual(s.descriptors.count, n, what)
            XCTAssertLessThanOrEqual(s.inFlight.count, n, what)
            XCTAssertEqual(s.inFlight.count, min(s.pendingCount, n), what)
            var tables = Set<GuestPhysicalAddress>()
            var elements = 0
            var heads = Set<UInt16>()
            for f in s.inFlight {
                guard let c = f.chain else { XCTAssertGreaterThanOrEqual(Int(f.head), n, what); continue }
                checkChain(c, ringSize: n, what)
                chains += 1
                // A head in flight twice (duplicate_buffer) shows the same chain twice: count it once.
                guard heads.insert(f.head).inserted else { continue }
                elements += c.elements.count
                tables.formUnion(c.elements.compactMap(\.indirectTable))
            }
            // Chains of one snapshot share nothing: at most the table plus each indirect table once.
            XCTAssertLessThanOrEqual(elements, n + tables.count * Self.cap, what)
            for p in s.allProblems {
                XCTAssertTrue(codes.contains(p.code), "\(what): \(p.code)")
                problems.insert(p.code)
            }
        }
        XCTAssertGreaterThan(decoded, 1000)
        XCTAssertGreaterThan(chains, 5000)
        XCTAssertGreaterThanOrEqual(problems.count, 15, "the fuzzing reaches most problems: \(problems.sorted())")
    }

    func testPackedRings() throws {
        var random = TestRandom(seed: 0x5EED_0002)
        var decoded = 0, chains = 0, problems = Set<String>()
        for round in 0..<1500 {
            var ram = newRAM(&random)
            let n = Int(Self.sizes[random.below(Self.sizes.count)])
            let desc = UInt64(random.below(Self.ramSize / 2)) / 16 * 16
            if random.chance(50), n > 0 {
                // A ring a real driver and device wrote, then mutated.
                var sim = PackedRingSimulator(size: n)
                for _ in 0..<random.below(3 * n + 1) {
                    if random.chance(55), let id = sim.randomFreeID(&random) {
                        let slots = 1 + random.below(3)
                        if slots <= sim.freeSlots { sim.post(id: id, slots: slots, indirect: slots == 1 && random.chance(30)) }
                    } else if !sim.inFlight.isEmpty {
                        sim.complete(id: sim.inFlight[random.below(sim.inFlight.count)].id)
                    }
                }
                if desc + UInt64(16 * n) <= UInt64(Self.ramSize) { ram.store(sim.bytes, at: Self.host + desc) }
            } else {
                let wrap = random.chance(50)
                for i in 0..<n { store(descriptor(&random, size: n, layout: .packed, wrap: i < n / 2 ? wrap : !wrap), layout: .packed, at: desc + UInt64(16 * i), in: &ram) }
            }
            mutate(&ram, Int(desc)..<Int(desc) + 16 * n, &random, writes: random.below(20))
            let location = VirtqueueLocation(layout: .packed, size: UInt16(n), descriptors: GuestPhysicalAddress(desc),
                                             driverArea: GuestPhysicalAddress(random.chance(90) ? UInt64(random.below(Self.ramSize - 4)) : address(&random)),
                                             deviceArea: GuestPhysicalAddress(random.chance(90) ? UInt64(random.below(Self.ramSize - 4)) : address(&random)),
                                             features: random.chance(30) ? [.packedRing, .inOrder] : [.packedRing])
            let hint: PackedRing.Hint? = random.chance(50) ? PackedRing.Hint(index: UInt16(random.below(n + 3)), wrap: random.chance(50) ? nil : random.chance(50)) : nil
            let s: PackedRing.Snapshot
            do {
                s = try PackedRing.snapshot(memory: try memory(ram), location: location, usedIndex: hint,
                                            lastAvailIndex: random.chance(30) ? hint : nil, maxAttempts: 1 + random.below(3), limits: limits)
            } catch { continue }
            decoded += 1
            let what = "round \(round), N=\(n)"
            XCTAssertEqual(s.descriptors.count, n, what)
            XCTAssertEqual(s.states.count, n, what)
            if n > 0 {
                XCTAssertLessThan(Int(s.driver.index), n, what)
                XCTAssertLessThan(Int(s.deviceUsed.index), n, what)
            }
            // The available chains tile the slots from the device's used position to the driver's.
            let covered = s.available.reduce(0) { $0 + max(1, $1.chain.ringDescriptors) }
            XCTAssertLessThanOrEqual(covered, n, what)
            var tables = Set<GuestPhysicalAddress>()
            var elements = 0
            for a in s.available {
                checkChain(a.chain, ringSize: n, what)
                chains += 1
                elements += a.chain.elements.count
                tables.formUnion(a.chain.elements.compactMap(\.indirectTable))
            }
            XCTAssertLessThanOrEqual(elements, n + tables.count * Self.cap, what)
            for p in s.allProblems {
                XCTAssertTrue(codes.contains(p.code), "\(what): \(p.code)")
                problems.insert(p.code)
            }
        }
        XCTAssertGreaterThan(decoded, 1000)
        XCTAssertGreaterThan(chains, 5000)
        XCTAssertGreaterThanOrEqual(problems.count, 12, "\(problems.sorted())")
    }

    func testChainsWithSuppliedTables() {
        var random = TestRandom(seed: 0x5EED_0003)
        for round in 0..<2000 {
            let layout: RingLayout = random.chance(50) ? .split : .packed
            let n = 1 + random.below(48)
            let table = (0..<n).map { _ in descriptor(&random, size: n, layout: layout) }
            // Indirect tables at the addresses the descriptors name (some), including ones naming themselves.
            var supplied: [GuestPhysicalAddress: [Descriptor]] = [:]
            for d in table where d.isIndirect && random.chance(70) {
                let count = random.below(Self.cap + 8)
                supplied[d.address] = (0..<count).map { _ in
                    var e = descriptor(&random, size: count, layout: layout)
                    if random.chance(10) { e = Descriptor(address: d.address, length: d.length, flags: [.indirect]) }
                    return e
                }
            }
            let map: SlotMap? = random.chance(50) ? try? SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(Self.ramSize), host: 0, name: "ram")]) : nil
            let head = UInt16(random.below(n + 2))
            let chain = layout == .split
                ? Chain.split(head: head, table: table, indirectTables: supplied, map: map, limits: limits)
                : Chain.packed(head: head, ring: table, maxSlots: random.chance(50) ? nil : random.below(n + 2), indirectTables: supplied, map: map, limits: limits)
            checkChain(chain, ringSize: n, "round \(round) \(layout)")
            XCTAssertEqual(chain.readableBytes + chain.writableBytes, chain.elements.reduce(UInt64(0)) { $0 + UInt64($1.length) })
        }
    }

    func testFollowingPackedGarbage() {
        var random = TestRandom(seed: 0x5EED_0004)
        for _ in 0..<300 {
            let n = [1, 2, 3, 8, 64][random.below(5)]
            var ring = (0..<n).map { _ in descriptor(&random, size: n, layout: .packed, wrap: random.chance(50)) }
            var f = PackedRingFollower(queue: 0, size: UInt16(n))
            let location = VirtqueueLocation(layout: .packed, size: UInt16(n), descriptors: GuestPhysicalAddress(0),
                                             driverArea: GuestPhysicalAddress(0), deviceArea: GuestPhysicalAddress(0))
            f.start(ring, location: location, usedHint: random.chance(50) ? PackedRing.Hint(index: UInt16(random.below(n))) : nil)
            for _ in 0..<20 {
                for _ in 0..<random.below(n + 1) {
                    let i = random.below(n)
                    ring[i] = random.chance(50) ? descriptor(&random, size: n, layout: .packed, wrap: random.chance(50))
                        : Descriptor(address: ring[i].address, length: ring[i].length, flags: ring[i].flags.symmetricDifference(random.chance(50) ? .avail : .used), id: ring[i].id)
                }
                let events = f.advance(ring)
                XCTAssertLessThanOrEqual(events.count, 3 * n + 2)
                for e in events {
                    XCTAssertLessThan(Int(e.index), n)
                    XCTAssertNotNil(e.wrap)
                }
                if f.isStarted { XCTAssertLessThanOrEqual(f.inFlightSlots ?? 0, n) }
            }
        }
    }

    // MARK: Payloads

    func testPayloads() throws {
        var random = TestRandom(seed: 0x5EED_0005)
        var ram = newRAM(&random)
        // Plausible headers scattered around: virtio-blk requests, virtio-net headers and Ethernet frames.
        for _ in 0..<400 {
            let at = UInt64(random.below(Self.ramSize - 128))
            if random.chance(50) {
                ram.store(UInt32([0, 1, 4, 8, 11, 13, 14, 99][random.below(8)]), at: Self.host + at)
                ram.store(random.next() >> UInt64(random.below(64)), at: Self.host + at + 8)
            } else {
                let frame = at + UInt64([10, 12][random.below(2)])
                ram.store(UInt16([0x0800, 0x0806, 0x86dd, 0x8100, 0x88cc, 0][random.below(6)]).bigEndian, at: Self.host + frame + 12)
                ram.bytes[Int(frame) + 14] = [0x45, 0x60, 0x4f, 0][random.below(4)]
                ram.bytes[Int(frame) + 23] = [1, 6, 17, 58, 255][random.below(5)]
            }
        }
        let memory = try memory(ram)
        let devices = ["virtio-blk", "virtio-net", "virtio-serial", "virtio-console", "virtio-rng", "virtio-gpu", "virtio-scsi",
                       "virtio-9p", "virtio-input", "virtio-balloon", "vhost-vsock", "vhost-user-fs"]
        var decoded = 0
        for round in 0..<3000 {
            var elements: [Chain.Element] = []
            for i in 0..<random.below(6) {
                let length = random.chance(80) ? UInt32(random.below(300)) : UInt32(truncatingIfNeeded: random.next())
                elements.append(Chain.Element(index: UInt16(i), address: GuestPhysicalAddress(address(&random)), length: length, isWritable: random.chance(50)))
            }
            let chain = Chain(head: 0, elements: elements,
                              readableBytes: elements.filter { !$0.isWritable }.reduce(0) { $0 + UInt64($1.length) },
                              writableBytes: elements.filter(\.isWritable).reduce(0) { $0 + UInt64($1.length) }, ringDescriptors: elements.count)
            let count = 1 + random.below(4)
            let payload = PayloadDecoder.decode(chain, device: devices[random.below(devices.count)], queueIndex: random.below(count), queueCount: count,
                                                memory: memory, completedLength: random.chance(50) ? UInt32(truncatingIfNeeded: random.next() >> UInt64(random.below(64))) : nil,
                                                features: random.chance(50) ? [.version1] : [])
            if let payload {
                decoded += 1
                XCTAssertFalse(payload.summary.isEmpty, "round \(round)")
                XCTAssertLessThan(payload.summary.count, 400, "round \(round): \(payload.summary)")
            }
        }
        XCTAssertGreaterThan(decoded, 500)
    }

    // MARK: Files and text

    func testELFImages() {
        var random = TestRandom(seed: 0x5EED_0006)
        let base = MemoryImageTests.elf([
            .init(paddr: 0, data: [UInt8](repeating: 0xAA, count: 4096)),
            .init(paddr: 0x100000, data: [UInt8](repeating: 0xBB, count: 8192)),
            .init(paddr: 0xFFFF_FFFF_FFFF_F000, data: [UInt8](repeating: 0xCC, count: 16)),
        ])
        var accepted = 0
        for round in 0..<3000 {
            var bytes = base
            switch random.below(4) {
            case 0:  // bytes anywhere in the headers
                for _ in 0..<1 + random.below(8) { bytes[random.below(min(bytes.count, 64 + 56 * 4))] = UInt8(truncatingIfNeeded: random.next()) }
            case 1:  // whole header fields
                let fields = [32, 40, 54, 56, 64 + 56 + 8, 64 + 56 + 24, 64 + 56 + 32, 64 + 112 + 8, 64 + 112 + 24, 64 + 112 + 32, 64 + 168 + 32]
                let at = fields[random.below(fields.count)]
                let value = random.chance(50) ? random.next() : UInt64(random.below(0x20000))
                for k in 0..<(at == 54 || at == 56 ? 2 : 8) { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
            case 2:  // truncated
                bytes = Array(bytes.prefix(random.below(bytes.count)))
            default:  // noise
                bytes = (0..<random.below(400)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                if random.chance(50) && bytes.count >= 4 { bytes[0...3] = [0x7f, 0x45, 0x4c, 0x46] }
            }
            let file = BufferMemory(bytes: bytes)
            do {
                let map = try MemoryImage.elfSlotMap(reader: file, fileSize: UInt64(bytes.count), path: "fuzz.elf")
                accepted += 1
                for slot in map.slots {
                    XCTAssertLessThanOrEqual(slot.host + slot.size, UInt64(bytes.count), "round \(round): a segment inside the file")
                    let memory = GuestMemory(map: map, reader: file)
                    XCTAssertEqual(try memory.bytes(at: slot.guest, count: Int(min(slot.size, 64))).count, Int(min(slot.size, 64)))
                }
            } catch {
                guard case .badImage(let path, let reason) = error else { return XCTFail("round \(round): \(error)") }
                XCTAssertEqual(path, "fuzz.elf")
                XCTAssertFalse(reason.isEmpty)
                XCTAssertFalse(reason.contains("\n"))
            }
        }
        XCTAssertGreaterThan(accepted, 100)
    }

    func testJSON() {
        var random = TestRandom(seed: 0x5EED_0007)
        let corpus = [
            #"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian 1:7.2"}, "capabilities": ["oob"]}}"#,
            #"{"return": {"used-idx": 222, "vring-desc": 43974656, "vring-num": 256, "signalled-used-valid": true, "last-avail-idx": 222, "name": "virtio-blk"}, "id": 4}"#,
            #"{"queues": [{"device": "virtio-blk", "path": null, "index": 0, "desc": 18446744073709551615, "avail_idx": -9223372036854775808, "features": []}]}"#,
            #"[1, -2.5e-3, 1E400, "a\"b\\c\u00e9\ud83d\ude00\ud800", true, false, null, [], {}, [[[[[]]]]], {"a": {"b": {"c": [0.1, -0]}}}]"#,
            #"{"time": 1795582382.905498, "event": "avail", "idx": 1125, "head": 0, "wrap": true}"#,
        ]
        let alphabet = Array("{}[],:\"\\-+.eE0123456789tfn u".utf8)
        var parsed = 0
        for round in 0..<6000 {
            var bytes = Array(corpus[random.below(corpus.count)].utf8)
            switch random.below(6) {
            case 0: for _ in 0..<1 + random.below(4) { bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next()) }
            case 1: bytes.insert(alphabet[random.below(alphabet.count)], at: random.below(bytes.count + 1))
            case 2: bytes.removeSubrange(random.below(bytes.count)..<bytes.count)
            case 3:
                let from = random.below(bytes.count)
                bytes.insert(contentsOf: bytes[from..<min(bytes.count, from + random.below(20))], at: random.below(bytes.count))
            case 4: bytes = Array(repeating: UInt8(ascii: random.chance(50) ? "[" : "{"), count: random.below(300)) + bytes
            default: break
            }
            do {
                let value = try JSON.parse(bytes)
                parsed += 1
                // What parses, prints and parses back to the same value (non-finite numbers print as null).
                if !hasNonFinite(value) {
                    XCTAssertEqual(try JSON.parse(value.text), value, "round \(round)")
                    XCTAssertEqual(try JSON.parse(value.prettyText), value, "round \(round)")
                }
            } catch {
                XCTAssertGreaterThanOrEqual(error.offset, 0, "round \(round)")
                XCTAssertLessThanOrEqual(error.offset, bytes.count, "round \(round)")
            }
        }
        XCTAssertGreaterThan(parsed, 1000)
    }

    private func hasNonFinite(_ value: JSON) -> Bool {
        switch value {
        case .double(let d): return !d.isFinite
        case .array(let items): return items.contains(where: hasNonFinite)
        case .object(let pairs): return pairs.contains { hasNonFinite($0.1) }
        default: return false
        }
    }
}
