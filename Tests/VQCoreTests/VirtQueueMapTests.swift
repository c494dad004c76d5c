import VQCore
import XCTest

/// VirtQueue pointers named by the ring addresses QEMU's memory holds, on fake QEMU memory laid out
/// as QEMU 7.2 lays a VirtQueue out (VRing num, num_default, align, desc, avail, used...) and as
/// another layout would (ring further in).
final class VirtQueueMapTests: XCTestCase {
    static let blk = VirtQueueMap.Ring(descriptors: 0x2bf0000, driverArea: 0x2bf1000, deviceArea: 0x2bf1240, size: 128, queueNumber: 0)
    static let rx = VirtQueueMap.Ring(descriptors: 0x3000000, driverArea: 0x3001000, deviceArea: 0x3001240, size: 256, queueNumber: 0)
    static let tx = VirtQueueMap.Ring(descriptors: 0x3100000, driverArea: 0x3101000, deviceArea: 0x3101240, size: 256, queueNumber: 1)

    /// A fake QEMU: VirtQueue structs at the given pointers.
    final class FakeQEMU {
        var memory: [UInt64: [UInt8]] = [:]
        func virtQueue(at p: UInt64, ring: VirtQueueMap.Ring, ringOffset: Int = 16, device: UInt64, deviceOffset: Int = 0x60) {
            var b = [UInt8](repeating: 0xee, count: VirtQueueMap.structWindow)
            func put(_ o: Int, _ v: UInt64, _ n: Int) { for k in 0..<n { b[o + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
            put(ringOffset - 16, UInt64(ring.size), 4)
            put(ringOffset - 12, 1024, 4)
            put(ringOffset - 8, 4096, 4)
            put(ringOffset, ring.descriptors, 8)
            put(ringOffset + 8, ring.driverArea, 8)
            put(ringOffset + 16, ring.deviceArea, 8)
            put(deviceOffset, device, 8)
            memory[p] = b
        }
        /// QEMU's memory as one flat space: zeros but for the structs (a later one over the end of
        /// an earlier one it overlaps, as QEMU's VirtQueue array lays them out).
        func read(_ p: UInt64, _ n: Int) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: n)
            for (k, b) in memory.sorted(by: { $0.key < $1.key }) where k < p + UInt64(n) && p < k + UInt64(b.count) {
                for i in 0..<n where p + UInt64(i) >= k && p + UInt64(i) < k + UInt64(b.count) { out[i] = b[Int(p + UInt64(i) - k)] }
            }
            return out
        }
    }

    func testPlacementsOnBytes() {
        let q = FakeQEMU()
        q.virtQueue(at: 0x1000, ring: Self.tx, ringOffset: 40, device: 0xdd)
        let b = q.memory[0x1000]!
        XCTAssertEqual(VirtQueueMap.ringPlacements(in: b, rings: [Self.blk, Self.rx, Self.tx]).map(\.offset), [40])
        XCTAssertEqual(VirtQueueMap.ringPlacements(in: b, rings: [Self.blk, Self.rx, Self.tx]).map(\.ring), [2])
        XCTAssertTrue(VirtQueueMap.sizePrecedes(b, ringOffset: 40, size: 256))
        XCTAssertFalse(VirtQueueMap.sizePrecedes(b, ringOffset: 40, size: 128))
        XCTAssertTrue(VirtQueueMap.ringPlacements(in: b, rings: [Self.blk]).isEmpty)
    }

    func testPointersKicksAndNotifiersAreNamed() throws {
        let q = FakeQEMU()
        q.virtQueue(at: 0x7000_0000, ring: Self.blk, device: 0xb1b0)
        q.virtQueue(at: 0x7100_0000, ring: Self.rx, device: 0x0e70)
        q.virtQueue(at: 0x7100_0000 + 0xa0, ring: Self.tx, device: 0x0e70)
        let map = VirtQueueMap(rings: [Self.blk, Self.rx, Self.tx], read: q.read)
        // A kick by device before anything of its queue was seen: not named yet.
        XCTAssertNil(try map.ring(for: .device(0xb1b0, queue: 0)))
        XCTAssertEqual(try map.ring(for: .virtQueue(0x7000_0000)), 0)
        XCTAssertEqual(map.ringOffset, 16)
        XCTAssertEqual(try map.ring(for: .device(0xb1b0, queue: 0)), 0)
        XCTAssertEqual(map.deviceOffset, 0x60)
        XCTAssertEqual(try map.ring(for: .virtQueue(0x7100_00a0)), 2)
        XCTAssertEqual(try map.ring(for: .virtQueue(0x7100_0000)), 0 + 1)
        XCTAssertEqual(try map.ring(for: .device(0x0e70, queue: 1)), 2)
        XCTAssertNil(try map.ring(for: .device(0x0e70, queue: 5)), "no queue 5 of that device")
        // The host notifier 0x80 into a VirtQueue: the nearest VirtQueue below it.
        XCTAssertEqual(try map.ring(for: .hostNotifier(0x7100_0080)), 1)
        XCTAssertEqual(map.notifierOffset, 0x80)
        XCTAssertEqual(try map.ring(for: .hostNotifier(0x7100_0120)), 2)
        // A notifier of a VirtQueue not seen yet, past the last one seen: the VirtQueue at the
        // notifier's offset below it, named by its rings (not the nearest one seen).
        q.virtQueue(at: 0x7300_0000, ring: Self.blk, device: 0xb1b1)
        q.virtQueue(at: 0x7300_00a0, ring: Self.tx, device: 0xb1b1)
        XCTAssertEqual(try map.ring(for: .virtQueue(0x7300_0000)), 0)
        XCTAssertEqual(try map.ring(for: .hostNotifier(0x7300_00a0 + 0x80)), 2, "+0x120 from the one seen, +0x80 into its own")
        // A VirtQueue of a ring nobody listed: not named, asked once.
        q.memory[0x7200_0000] = [UInt8](repeating: 0, count: VirtQueueMap.structWindow)
        XCTAssertNil(try map.ring(for: .virtQueue(0x7200_0000)))
    }

    func testOffsetsThatDisagreeAreRefused() throws {
        let q = FakeQEMU()
        q.virtQueue(at: 0x7000_0000, ring: Self.blk, ringOffset: 16, device: 0xb1b0)
        q.virtQueue(at: 0x7100_0000, ring: Self.rx, ringOffset: 48, device: 0x0e70)
        let map = VirtQueueMap(rings: [Self.blk, Self.rx], read: q.read)
        XCTAssertEqual(try map.ring(for: .virtQueue(0x7000_0000)), 0)
        XCTAssertThrowsError(try map.ring(for: .virtQueue(0x7100_0000))) { error in
            XCTAssertTrue("\(error)".contains("+48, other VirtQueues at +16"), "\(error)")
        }
        // Ring addresses without the ring's size before them: not a VRing.
        let other = FakeQEMU()
        other.virtQueue(at: 0x1000, ring: Self.blk, device: 1)
        other.memory[0x1000]![0] = 0x40
        XCTAssertThrowsError(try VirtQueueMap(rings: [Self.blk], read: other.read).ring(for: .virtQueue(0x1000)))
        // Notifiers at different offsets into their VirtQueues.
        let n = FakeQEMU()
        n.virtQueue(at: 0x1000, ring: Self.rx, device: 1)
        n.virtQueue(at: 0x2000, ring: Self.tx, device: 1)
        let nm = VirtQueueMap(rings: [Self.rx, Self.tx], read: n.read)
        _ = try nm.ring(for: .virtQueue(0x1000))
        _ = try nm.ring(for: .virtQueue(0x2000))
        XCTAssertEqual(try nm.ring(for: .hostNotifier(0x1080)), 0)
        XCTAssertThrowsError(try nm.ring(for: .hostNotifier(0x2090)))
    }

    /// QEMU 7.2 keeps a device's VirtQueues in one array, 152 bytes apart, the host notifier 116
    /// bytes in: the notifier of a queue not seen yet sits closer than the window read to the
    /// VirtQueue before it. It is named by the VirtQueue it is in (read from memory), not the
    /// nearest one seen; a notifier of a queue not listed is left unnamed, and derives nothing.
    func testNotifierOfAQueueNotSeenYetIsNotPinnedOnTheOneBefore() throws {
        let q = FakeQEMU()
        let array: UInt64 = 0x5600_0000, stride: UInt64 = 152, notifier: UInt64 = 116
        let ctrl = VirtQueueMap.Ring(descriptors: 0x3200000, driverArea: 0x3201000, deviceArea: 0x3201240, size: 64, queueNumber: 2)
        q.virtQueue(at: array, ring: Self.rx, device: 0x0e70)
        q.virtQueue(at: array + stride, ring: Self.tx, device: 0x0e70)
        q.virtQueue(at: array + 2 * stride, ring: ctrl, device: 0x0e70)
        let map = VirtQueueMap(rings: [Self.rx, Self.tx], read: q.read)
        XCTAssertEqual(try map.ring(for: .virtQueue(array)), 0, "rx seen (a fill)")
        // First: a kick of the control queue, which the map does not list: not named, nothing derived.
        XCTAssertNil(try map.ring(for: .hostNotifier(array + 2 * stride + notifier)))
        XCTAssertNil(map.notifierOffset)
        // tx kicked before anything else of it was seen: 268 bytes past rx, 116 into tx.
        XCTAssertEqual(try map.ring(for: .hostNotifier(array + stride + notifier)), 1)
        XCTAssertEqual(map.notifierOffset, Int(notifier))
        XCTAssertEqual(try map.ring(for: .hostNotifier(array + notifier)), 0)
        // With the offset known, a queue not listed is still unnamed, not an error.
        XCTAssertNil(try map.ring(for: .hostNotifier(array + 2 * stride + notifier)))
        XCTAssertTrue(VirtQueueMap.looksLikeVRing(q.memory[array]!, ringOffset: 16))
        XCTAssertFalse(VirtQueueMap.looksLikeVRing(q.memory[array]!, ringOffset: 24))
    }

    func testEventModeChoice() {
        let ok = EventModeChoice.Facts(isRoot: true, isLiveQEMU: true)
        XCTAssertEqual(EventModeChoice.decide(requested: .auto, facts: ok), .bpf)
        XCTAssertEqual(EventModeChoice.decide(requested: .poll, facts: ok), .poll(reason: nil))
        var user = ok
        user.isRoot = false
        XCTAssertEqual(EventModeChoice.decide(requested: .auto, facts: user), .poll(reason: "not root (eBPF uprobes need CAP_BPF and CAP_PERFMON)"))
        XCTAssertEqual(EventModeChoice.decide(requested: .bpf, facts: user), .refused("--events bpf: not root (eBPF uprobes need CAP_BPF and CAP_PERFMON)"))
        var vhost = ok
        vhost.vhostQueues = ["vhost-user-blk:0"]
        XCTAssertEqual(EventModeChoice.decide(requested: .auto, facts: vhost), .poll(reason: "a vhost back-end serves vhost-user-blk:0: QEMU does not see its data path"))
        var iommu = ok
        iommu.translatingIOMMU = "Intel IOMMU"
        XCTAssertEqual(EventModeChoice.decide(requested: .auto, facts: iommu),
                       .poll(reason: "the Intel IOMMU translates device addresses: QEMU's events would carry I/O virtual addresses, which the probes do not follow yet"))
        if case .refused = EventModeChoice.decide(requested: .bpf, facts: iommu) {} else { XCTFail("--events bpf behind a translating IOMMU") }
        var forbidden = ok
        forbidden.forbidden = "VQSCOPE_EVENTS_NO_BPF=1"
        XCTAssertEqual(EventModeChoice.decide(requested: .auto, facts: forbidden), .poll(reason: "eBPF is forbidden (VQSCOPE_EVENTS_NO_BPF=1)"))
        let image = EventModeChoice.Facts(isRoot: true, isLiveQEMU: false)
        if case .refused = EventModeChoice.decide(requested: .bpf, facts: image) {} else { XCTFail("an image has no QEMU to probe") }
    }

    func testSessionRefusesImpossibleElements() {
        let pop = ProbeEvent(nanoseconds: 1, kind: .pop, thread: 1, subject: .virtQueue(1), head: 200, outCount: 1, inCount: 1)
        XCTAssertThrowsError(try ProbeSession.check(pop, ring: Self.blk))
        var fine = pop
        fine.head = 127
        XCTAssertNoThrow(try ProbeSession.check(fine, ring: Self.blk))
        var empty = fine
        empty.outCount = 0
        empty.inCount = 0
        XCTAssertThrowsError(try ProbeSession.check(empty, ring: Self.blk))
    }
}
