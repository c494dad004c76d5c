import VQCore
import XCTest

/// ``RingEventPayloads`` against drivers and devices that recycle heads and rewrite freed buffers
/// between polls and while vqscope reads: every payload given must be the request (or the bytes
/// the device wrote) of that very event.
final class RingEventPayloadsRandomTests: XCTestCase {
    static let host: UInt64 = 0x6800_0000_0000

    /// A virtio-blk queue driven at random: heads 0..<5 of a split ring of 16, each a chain of
    /// header (h), data (h + 5, device-writable) and status (h + 10, device-writable). The driver
    /// writes each request (its sector a serial number) into one of two buffer sets, rewrites freed
    /// heads before making them available again, and the device completes in any order.
    final class SplitBlockDriver {
        let ram: LiveTestRAM
        let ring = VirtqueueLocation(layout: .split, size: 16, descriptors: GuestPhysicalAddress(0x1000),
                                     driverArea: GuestPhysicalAddress(0x1100), deviceArea: GuestPhysicalAddress(0x2000))
        static let heads = 5
        enum State { case free, prepared(UInt64), inFlight(UInt64) }
        var heads = [State](repeating: .free, count: SplitBlockDriver.heads)
        var avail: UInt16 = 0
        var used: UInt16 = 0
        var serial: UInt64 = 100
        /// The request each avail entry and used entry stands for, by free-running index.
        var availTruth: [UInt16: UInt64] = [:]
        var usedTruth: [UInt16: UInt64] = [:]
        var random: TestRandom

        init(ram: LiveTestRAM, seed: UInt64) {
            self.ram = ram
            random = TestRandom(seed: seed)
        }

        private func descriptor(_ index: Int, address: UInt64, length: UInt32, flags: UInt16, next: Int = 0) {
            let at = ring.descriptors.rawValue + 16 * UInt64(index)
            ram.put(address, at); ram.put(length, at + 8); ram.put(flags, at + 12); ram.put(UInt16(next), at + 14)
        }

        /// Writes a new request into head `h`'s chain (descriptors and header).
        private func write(_ h: Int) -> UInt64 {
            serial += 1
            let set = UInt64(serial % 2) * 0x4000
            let header = 0x8000 + set + UInt64(h) * 0x40
            ram.put(UInt32(0), header); ram.put(UInt32(0), header + 4); ram.put(serial, header + 8)
            descriptor(h, address: header, length: 16, flags: 1, next: h + 5)
            descriptor(h + 5, address: 0x10000 + set + UInt64(h) * 0x200, length: 512, flags: 3, next: h + 10)
            descriptor(h + 10, address: header + 0x20, length: 1, flags: 2)
            return serial
        }

        /// One thing the driver or the device does.
        func step() {
            switch random.below(10) {
            case 0..<4:
                // Post a free or prepared head.
                let candidates = heads.indices.filter { if case .inFlight = heads[$0] { return false } else { return true } }
                guard let h = candidates.randomElement(using: &random) else { return complete() }
                let s: UInt64
                if case .prepared(let p) = heads[h] { s = p } else { s = write(h) }
                availTruth[avail] = s
                ram.splitAvail(ring, avail, head: UInt16(h))
                avail &+= 1
                heads[h] = .inFlight(s)
            case 4..<5:
                // Rewrite a free head for a request not yet made available.
                let free = heads.indices.filter { if case .inFlight = heads[$0] { return false } else { return true } }
                guard let h = free.randomElement(using: &random) else { return }
                heads[h] = .prepared(write(h))
            default:
                complete()
            }
        }

        private func complete() {
            let busy = heads.indices.filter { if case .inFlight = heads[$0] { return true } else { return false } }
            guard let h = busy.randomElement(using: &random), case .inFlight(let s) = heads[h] else { return }
            usedTruth[used] = s
            ram.splitUsed(ring, used, id: UInt32(h), length: 513)
            used &+= 1
            heads[h] = .free
        }
    }

    /// What a run found: payloads given and wrong, avail events and those named.
    struct Tally { var wrong: [String] = []; var avail = 0; var availNamed = 0; var used = 0; var usedNamed = 0 }

    static func runSplitBlock(seed: UInt64, polls: Int) throws -> Tally {
        let ram = LiveTestRAM(host: host, count: 0x20000)
        let driver = SplitBlockDriver(ram: ram, seed: seed)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [driver.ring])
        var decoder = RingEventPayloads()
        let role = PayloadRole(device: "virtio-blk", queueIndex: 0, queueCount: 1)
        var moves = TestRandom(seed: seed ^ 0xABCD)
        // The guest also moves while vqscope reads.
        ram.afterRead = { if moves.chance(15) { driver.step() } }
        var tally = Tally()
        for _ in 0..<polls {
            for _ in 0..<driver.random.below(4) { driver.step() }
            let events = RingWatcher.inRingOrder(try watcher.poll(), queues: watcher.queues)
            let payloads = decoder.decode(events, watcher: watcher, roles: [role])
            for (e, p) in zip(events, payloads) {
                let truth: UInt64?
                switch e.kind {
                case .available: tally.avail += 1; truth = driver.availTruth[e.index]; if p != nil { tally.availNamed += 1 }
                case .used: tally.used += 1; truth = driver.usedTruth[e.index]; if p != nil { tally.usedNamed += 1 }
                case .lapped: truth = nil
                }
                guard let p else { continue }
                let expected = truth.map { "blk read sector \($0) len 512" }
                if p.summary != expected { tally.wrong.append("\(e.kind) idx \(e.index): \(p.summary), was \(expected ?? "nothing")") }
            }
        }
        return tally
    }

    func testSplitPayloadsAreAlwaysTheEventsOwnRequest() throws {
        var total = Tally()
        for seed in UInt64(1)...20 {
            let t = try Self.runSplitBlock(seed: seed, polls: 400)
            total.wrong += t.wrong
            total.avail += t.avail; total.availNamed += t.availNamed; total.used += t.used; total.usedNamed += t.usedNamed
        }
        print("RingEventPayloadsRandomTests split: avail \(total.availNamed)/\(total.avail) named, used \(total.usedNamed)/\(total.used) named, wrong \(total.wrong.count)")
        XCTAssertEqual(total.wrong.count, 0, "\(total.wrong.prefix(10))")
        // Certainty costs some payloads, not most.
        XCTAssertGreaterThan(total.availNamed * 4, total.avail, "avail events named")
        XCTAssertGreaterThan(total.usedNamed * 4, total.used, "used events named")
    }
}
