import Foundation
import VQCore
import XCTest

/// `queues`, `dump` and `watch` without QMP: on a memory image of the basic guest (the split rings a
/// RAM scan finds), against QMP's list and `dump --pid` on the same, still paused, guest.
extension BasicGuestTests {
    /// A dump's JSON without what differs between a live process with QMP and an image by design:
    /// names and features (QMP's; the queue's label among the names), event index fields (a
    /// feature), element host addresses (an image has file offsets).
    private func comparable(_ dump: JSON, payloads: Bool = true) -> JSON {
        func strip(_ value: JSON, _ drop: Set<String>) -> JSON {
            switch value {
            case .object(let pairs): return .object(pairs.filter { !drop.contains($0.0) }.map { ($0.0, strip($0.1, drop)) })
            case .array(let items): return .array(items.map { strip($0, drop) })
            default: return value
            }
        }
        let dropped: Set<String> = ["device", "path", "index", "label", "source", "hva", "offset", "used_event", "avail_event"]
        return strip(dump, payloads ? dropped : dropped.union(["payload"]))
    }

    func testQueuesAndDumpOfAnImageMatchQMPAndTheLiveGuest() throws {
        let guest = try guest
        let path = guest.directory.appendingPathComponent("queues-dump.elf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let live = try guest.open(noQMP: true)
        try guest.paused {
            try guest.harness.execute("dump-guest-memory", arguments: .object([("paging", .bool(false)), ("protocol", .string("file:" + path))]))
            let reference = try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues).filter { $0.location.layout == .split }
            let active = try reference.filter { q in
                let i = try RingIndexes.read(q.location, from: live.memory)
                return i.available != 0 || i.used != 0
            }
            XCTAssertGreaterThanOrEqual(active.count, 7, "\(active.map(\.label))")

            // queues --image: the split rings a scan finds, the same as QMP's.
            let listed = try Tool.json(["queues", "--image", path])
            XCTAssertEqual(listed.status, 0, listed.stderr)
            XCTAssertEqual(listed.json["source"]?.string, "scan")
            let rows = try XCTUnwrap(listed.json["queues"]?.array)
            var labels: [String: String] = [:]  // QMP label -> the scan's
            for q in active {
                guard let row = rows.first(where: { $0["desc"]?.uint64 == q.location.descriptors.rawValue }) else {
                    XCTFail("\(q.label) (desc \(q.location.descriptors)) not listed from the image")
                    continue
                }
                XCTAssertEqual(row["avail"]?.uint64, q.location.driverArea.rawValue, q.label)
                XCTAssertEqual(row["used"]?.uint64, q.location.deviceArea.rawValue, q.label)
                XCTAssertEqual(row["num"]?.uint64, UInt64(q.location.size), q.label)
                XCTAssertEqual(row["layout"]?.string, "split")
                XCTAssertEqual(row["path"], .null)
                XCTAssertNotNil(row["score"]?.int)
                labels[q.label] = "\(row["device"]?.string ?? "?"):\(row["index"]?.int ?? -1)"
            }
            XCTAssertLessThanOrEqual(rows.count - active.count, 2, "false finds")
            XCTAssertEqual(labels["virtio-blk:0"], "virtio-blk:0", "the block ring is recognized")
            let human = try Tool.run(["queues", "--image", path])
            XCTAssertEqual(human.status, 0, human.stderr)
            XCTAssertTrue(human.stdout.hasPrefix("found by a RAM scan of image "), human.stdout)

            // dump --image --queue (the scan's names) equals dump --pid (QMP's) on the paused guest.
            for q in active {
                guard let label = labels[q.label] else { continue }
                let fromImage = try Tool.json(["dump", "--image", path, "--queue", label])
                XCTAssertEqual(fromImage.status, 0, fromImage.stderr)
                let fromLive = try Tool.json(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "\(q.path):\(q.index)"])
                XCTAssertEqual(fromLive.status, 0, fromLive.stderr)
                XCTAssertEqual(fromImage.json["source"]?.string, "scan")
                XCTAssertEqual(fromImage.json["consistent"]?.bool, true)
                // Payloads are decoded when the scan recognized the ring's role.
                let payloads = !label.hasPrefix("unknown")
                XCTAssertTrue(comparable(fromImage.json, payloads: payloads) == comparable(fromLive.json, payloads: payloads),
                              "\(q.label) as \(label): image \(comparable(fromImage.json).text.prefix(600)) live \(comparable(fromLive.json).text.prefix(600))")
                // The same ring by its location, on either target.
                let loc = q.location
                let located = try Tool.json(["dump", "--image", path, "--desc", Hex.string(loc.descriptors.rawValue), "--num", String(loc.size),
                                             "--avail", Hex.string(loc.driverArea.rawValue), "--used", Hex.string(loc.deviceArea.rawValue)])
                XCTAssertEqual(located.status, 0, located.stderr)
                XCTAssertEqual(located.json["source"]?.string, "location")
                XCTAssertEqual(located.json["desc"], fromLive.json["desc"], q.label)
                XCTAssertEqual(located.json["inflight"]?.array?.map { $0["head"] }, fromLive.json["inflight"]?.array?.map { $0["head"] }, q.label)
            }

            // watch --image: the chains in flight when the image was written, once.
            let blk = try XCTUnwrap(active.first { $0.device == "virtio-blk" })
            let blkDump = try Tool.json(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0"])
            let watched = try Tool.run(["watch", "--image", path, "--queue", "virtio-blk:0", "--json"])
            XCTAssertEqual(watched.status, 0, watched.stderr)
            let lines = try watched.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
            XCTAssertEqual(lines.map { $0["head"] }, blkDump.json["inflight"]?.array?.map { $0["head"] } ?? [], blk.label)
            XCTAssertTrue(lines.allSatisfy { $0["event"]?.string == "inflight" && $0["time"] == .null })
        }
    }

    func testQueuesAndDumpWithoutQMPOnALiveGuest() throws {
        let guest = try guest
        try guest.paused {
            let listed = try Tool.json(["queues", "--pid", String(guest.pid), "--no-qmp"])
            XCTAssertEqual(listed.status, 0, listed.stderr)
            XCTAssertEqual(listed.json["source"]?.string, "scan")
            let blk = try XCTUnwrap(QMPVirtioSource.devices(client: guest.harness).first { $0.name == "virtio-blk" }?.queues.first)
            let row = try XCTUnwrap(listed.json["queues"]?.array?.first { $0["desc"]?.uint64 == blk.location.descriptors.rawValue })
            XCTAssertEqual(row["device"]?.string, "virtio-blk")
            let dumped = try Tool.json(["dump", "--pid", String(guest.pid), "--no-qmp", "--queue", "virtio-blk:0"])
            XCTAssertEqual(dumped.status, 0, dumped.stderr)
            XCTAssertEqual(dumped.json["desc_addr"]?.uint64, blk.location.descriptors.rawValue)
            // A name the scan does not know: one line, exit 2, saying where the names came from.
            let bad = try Tool.run(["dump", "--pid", String(guest.pid), "--no-qmp", "--queue", "virtio-gpu:0"])
            XCTAssertEqual(bad.status, 2)
            XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
            XCTAssertTrue(bad.stderr.contains("found by a RAM scan"), bad.stderr)
        }
    }

    func testDumpAtALocationNeedsWhatTheSpecDoesNotFix() throws {
        let guest = try guest
        let pid = String(guest.pid)
        var r = try Tool.run(["dump", "--pid", pid, "--no-qmp", "--desc", "0x1000", "--num", "256"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("a split ring needs --avail GPA and --used GPA"), r.stderr)
        r = try Tool.run(["dump", "--pid", pid, "--no-qmp", "--desc", "0x1000"])
        XCTAssertTrue(r.stderr.contains("--desc needs --num N"), r.stderr)
        r = try Tool.run(["dump", "--pid", pid, "--no-qmp", "--desc", "0x1000", "--num", "8", "--packed", "--avail", "0x2000"])
        XCTAssertTrue(r.stderr.contains("a packed ring has no avail and used rings"), r.stderr)
        r = try Tool.run(["dump", "--pid", pid, "--no-qmp"])
        XCTAssertTrue(r.stderr.contains("name the queue"), r.stderr)
        // The legacy layout the spec fixes, and a packed ring without its event areas, are accepted.
        let legacy = try Tool.json(["dump", "--pid", pid, "--no-qmp", "--desc", "0x1000", "--num", "16", "--legacy"])
        XCTAssertEqual(legacy.status, 0, legacy.stderr)
        XCTAssertEqual(legacy.json["avail_addr"]?.uint64, 0x1100)
        XCTAssertEqual(legacy.json["used_addr"]?.uint64, 0x2000)
        let packed = try Tool.json(["dump", "--pid", pid, "--no-qmp", "--desc", "0x1000", "--num", "8", "--packed"])
        XCTAssertEqual(packed.status, 0, packed.stderr)
        XCTAssertEqual(packed.json["driver_event"], .null)
        XCTAssertEqual(packed.json["avail_addr"], .null)
    }
}
