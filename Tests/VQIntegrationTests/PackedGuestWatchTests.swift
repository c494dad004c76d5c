import Foundation
import VQCore
import XCTest

/// `vqscope watch` on the packed bench guest: packed rings (virtio-net, virtio-rng) and split rings
/// (virtio-blk, virtio-serial) followed together.
extension PackedGuestTests {
    /// The JSON lines `watch --json` printed.
    private func events(_ r: Tool.Result) throws -> [JSON] {
        try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    func testWatchFollowsPackedAndSplitQueuesTogether() throws {
        let guest = try guest
        let devices = try QMPVirtioSource.devices(client: guest.harness)
        let queues = Dictionary(devices.flatMap(\.queues).map { ($0.label, $0) }, uniquingKeysWith: { a, _ in a })
        let r = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--seconds", "3", "--json", "--events", "poll"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let all = try events(r)
        var byQueue: [String: [JSON]] = [:]
        for e in all { byQueue[e["queue"]?.string ?? "?", default: []].append(e) }
        print("watch: \(all.count) events: " + byQueue.map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", "))

        // Packed queues moved and were followed: the rng device answers every few hundred ms, ping every 0.5 s.
        for label in ["virtio-rng:0", "virtio-net:0", "virtio-net:1"] {
            let q = try XCTUnwrap(queues[label])
            XCTAssertEqual(q.location.layout, .packed)
            let list = byQueue[label] ?? []
            XCTAssertTrue(list.contains { $0["event"]?.string == "used" }, "\(label): no completion seen in 3 s")
            XCTAssertTrue(list.allSatisfy { $0["wrap"]?.bool != nil }, "\(label): packed events carry the wrap counter")
        }
        XCTAssertTrue(byQueue["virtio-blk:0"]?.contains { $0["event"]?.string == "used" } == true, "the split blk queue too")
        XCTAssertTrue(byQueue["virtio-blk:0"]?.allSatisfy { $0["wrap"] == nil } == true, "split events have no wrap counter")

        var packedUsedPayloads: [String: Int] = [:]
        for (label, list) in byQueue {
            let q = try XCTUnwrap(queues[label], label)
            let num = UInt64(q.location.size)
            // Every used ID was made available since its previous completion, or was in flight
            // before the watch began (its first completion then comes without an available event).
            var open: [UInt64: Int] = [:]
            var completed: Set<UInt64> = []
            for e in list {
                XCTAssertLessThan(try XCTUnwrap(e["idx"]?.uint64), q.location.layout == .packed ? num : 65536, e.text)
                switch e["event"]?.string {
                case "avail":
                    let head = try XCTUnwrap(e["head"]?.uint64)
                    XCTAssertLessThan(head, num, "\(label): \(e.text)")
                    open[head, default: 0] += 1
                case "used":
                    let id = try XCTUnwrap(e["id"]?.uint64)
                    XCTAssertLessThan(id, num, "\(label): \(e.text)")
                    if open[id, default: 0] > 0 {
                        open[id, default: 0] -= 1
                    } else {
                        XCTAssertFalse(completed.contains(id), "\(label): \(id) completed twice without being made available in between")
                    }
                    completed.insert(id)
                    let len = try XCTUnwrap(e["len"]?.uint64)
                    switch label {
                    case "virtio-net:1": XCTAssertEqual(len, 0, "transmit buffers come back with nothing written")
                    case "virtio-net:0": XCTAssertTrue((12...65_562).contains(len), "\(label): a received frame and its header: \(len)")
                    case "virtio-rng:0": XCTAssertTrue((1...4096).contains(len), "\(label): random bytes written: \(len)")
                    default: XCTAssertLessThan(len, 1 << 20, "\(label): \(e.text)")
                    }
                    // A used receive buffer's payload is what the device wrote. It is there only for
                    // buffers seen made available during the watch and not posted again within the
                    // poll that saw them used: not for rng here (QEMU answers before the next poll,
                    // over the chain's own slot), nor for rx buffers posted at boot.
                    if let payload = e["payload"]?.string, ["virtio-rng:0", "virtio-net:0"].contains(label) {
                        XCTAssertTrue(payload.hasPrefix(label == "virtio-rng:0" ? "rng " : "net "), "\(label): \(e.text)")
                        packedUsedPayloads[label, default: 0] += 1
                    }
                default:
                    XCTFail("\(label): unexpected event at this load: \(e.text)")
                }
            }
        }
        print("PackedGuestTests: packed used events with the device's bytes: \(packedUsedPayloads.sorted { $0.key < $1.key })")
    }

    func testWatchOnAPausedGuestReportsNothing() throws {
        let guest = try guest
        try guest.paused {
            let r = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--seconds", "1.5", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, "", "a still guest: no event")
            let text = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--seconds", "1", "--interval", "0.2"])
            XCTAssertEqual(text.status, 0, text.stderr)
            XCTAssertEqual(text.stdout.split(separator: "\n").count, 1, "only the header line: \(text.stdout)")
        }
    }
}
