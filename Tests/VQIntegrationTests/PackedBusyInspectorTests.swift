import Foundation
import VQCore
import XCTest

/// The inspector (the real binary in tmux) on a busy packed guest: packed virtio-net and virtio-rng,
/// a ping every 20 ms and an hwrng read every 50 ms (run-guest.sh --busy).
final class PackedBusyInspectorTests: GuestTestCase {
    override class var packed: Bool { true }
    override class var runGuestFlags: [String] { ["--busy"] }
    override class var tag: String? { "packed-busy" }

    /// For 30 s with the packed receive queue selected (its ring read whole every frame), no packed
    /// queue is ever `BROKEN` where an independent read of its ring, right after, finds it healthy;
    /// then, on the paused guest, each packed queue's in-flight count is the independent read's.
    func testInspectorNeverCriesWolfAndCountsInFlightSlotsAsAnIndependentRead() throws {
        let guest = try guest
        let packed = try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues).filter { $0.location.layout == .packed }
        XCTAssertEqual(Set(packed.map(\.device)), ["virtio-net", "virtio-rng"])
        let memory = IndependentMemory(guest)
        let session = try TmuxSession(["--pid", String(guest.pid), "--qmp", guest.toolSocket], width: 140, height: 45)
        try session.wait(for: "the packed queues", timeout: 60) { screen in
            packed.allSatisfy { DemoInspectorTests.queueRow(screen, $0.label, layout: "packed") != nil } && screen.contains("LIVE")
        }
        for _ in 0..<8 where !(try session.screen().contains("┌ virtio-net:0")) {
            try session.send("]")
            Thread.sleep(forTimeInterval: 0.3)
        }
        try session.wait(for: "virtio-net:0 selected") { $0.contains("┌ virtio-net:0") }

        var samples = 0, brokenSeen = 0
        var moved = Set<String>()
        var first: [String: [String]] = [:]
        let end = Date().addingTimeInterval(30)
        while Date() < end {
            let screen = try session.screen()
            for q in packed {
                guard let row = DemoInspectorTests.queueRow(screen, q.label, layout: "packed") else { continue }
                if let before = first[q.label] { if before[3...4] != row[3...4] { moved.insert(q.label) } } else { first[q.label] = row }
                guard row.contains("BROKEN") else { continue }
                brokenSeen += 1
                let ring = try Self.independentRead(q, memory)
                XCTAssertFalse(ring.healthy, "\(q.label) shown BROKEN while an independent read finds it healthy "
                               + "(\(ring.inFlight) slots in flight in one run):\n\(screen)")
            }
            samples += 1
            Thread.sleep(forTimeInterval: 0.25)
        }
        print("PackedBusyInspectorTests: \(samples) screens in 30 s, BROKEN seen \(brokenSeen) times; moved: \(moved.sorted())")
        XCTAssertGreaterThanOrEqual(samples, 40)
        XCTAssertTrue(moved.isSuperset(of: ["virtio-net:0", "virtio-net:1", "virtio-rng:0"]), "busy: \(moved)")

        try guest.paused {
            for q in packed {
                let ring = try Self.independentRead(q, memory)
                XCTAssertTrue(ring.healthy, "\(q.label): the paused ring read independently")
                try session.wait(for: "\(q.label) with \(ring.inFlight) in flight", timeout: 30) { screen in
                    DemoInspectorTests.queueRow(screen, q.label, layout: "packed").map { $0[5] == String(ring.inFlight) } ?? false
                }
                let row = try XCTUnwrap(DemoInspectorTests.queueRow(try session.screen(), q.label, layout: "packed"))
                XCTAssertFalse(row.contains("BROKEN"), "\(row)")
                print("PackedBusyInspectorTests: paused \(q.label): \(ring.inFlight) in flight, row \(row.prefix(8).joined(separator: " "))")
            }
        }
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }

    /// A packed ring read through QEMU's gpa2hva and /proc/PID/mem (virtio 1.2, 2.8): a slot is in
    /// flight (available, not used) when its AVAIL and USED flags differ; a healthy ring's in-flight
    /// slots are one run, from the device's next used slot to the driver's next slot.
    static func independentRead(_ q: Virtqueue, _ memory: IndependentMemory) throws -> (inFlight: Int, healthy: Bool) {
        let n = Int(q.location.size)
        let bytes = try memory.bytes(q.location.descriptors.rawValue, 16 * n)
        let pending = (0..<n).map { i -> Bool in
            let flags = UInt16(bytes[16 * i + 14]) | UInt16(bytes[16 * i + 15]) << 8
            return (flags & 0x80 != 0) != (flags & 0x8000 != 0)
        }
        let count = pending.filter { $0 }.count
        // Runs of in-flight slots around the ring: one at most.
        let starts = (0..<n).filter { pending[$0] && !pending[($0 + n - 1) % n] }.count
        return (count, count == n || starts <= 1)
    }
}
