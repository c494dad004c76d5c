import Foundation
import VQCore
import XCTest

/// Virtqueues of the basic bench guest against QEMU's own view and an independent read.
extension BasicGuestTests {
    /// A little-endian u16 at `gpa`, read through QEMU's gpa2hva and /proc/PID/mem: independent of
    /// vqscope's slot map and readers.
    func independentU16(_ guest: BenchGuest, _ gpa: UInt64) throws -> UInt16 {
        guard let hva = try guest.gpa2hva(gpa) else { throw BenchError("QEMU: no hva for \(Hex.string(gpa))") }
        let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(guest.pid)/mem"))
        defer { try? mem.close() }
        try mem.seek(toOffset: hva)
        let bytes = [UInt8](try mem.read(upToCount: 2) ?? Data())
        return UInt16(bytes[0]) | UInt16(bytes[1]) << 8
    }

    func testQueuesCommandMatchesQEMUAndMemory() throws {
        let guest = try guest
        try guest.paused {
            let reference = try QMPVirtioSource.devices(client: guest.harness)
            let names = Set(reference.map(\.name))
            XCTAssertEqual(names, ["virtio-blk", "virtio-net", "virtio-rng", "virtio-serial"])
            let r = try Tool.json(["queues", "--pid", String(guest.pid), "--qmp", guest.toolSocket])
            XCTAssertEqual(r.status, 0, r.stderr)
            let rows = try XCTUnwrap(r.json["queues"]?.array)
            let queues = reference.flatMap(\.queues)
            XCTAssertEqual(rows.count, queues.count)
            XCTAssertGreaterThanOrEqual(rows.count, 4 + 2 + 1 + 1)
            for (row, q) in zip(rows, queues) {
                XCTAssertEqual(row["device"]?.string, q.device)
                XCTAssertEqual(row["index"]?.int, q.index)
                XCTAssertEqual(row["layout"]?.string, "split")
                XCTAssertEqual(row["num"]?.uint64, UInt64(q.location.size))
                XCTAssertEqual(row["desc"]?.uint64, q.location.descriptors.rawValue)
                XCTAssertEqual(row["avail"]?.uint64, q.location.driverArea.rawValue)
                XCTAssertEqual(row["used"]?.uint64, q.location.deviceArea.rawValue)
                // The driver's avail index and the device's used index, as an independent read sees them.
                XCTAssertEqual(row["avail_idx"]?.uint64, UInt64(try independentU16(guest, q.location.driverArea.rawValue + 2)), q.label)
                XCTAssertEqual(row["used_idx"]?.uint64, UInt64(try independentU16(guest, q.location.deviceArea.rawValue + 2)), q.label)
                // QEMU's device model has consumed up to the used index it published, on a paused guest.
                XCTAssertEqual(row["used_idx"]?.uint64, q.deviceState.map { UInt64($0.usedIndex) }, q.label)
            }
            let blk = try XCTUnwrap(rows.first { $0["device"]?.string == "virtio-blk" })
            XCTAssertNotEqual(blk["avail_idx"]?.uint64, 0, "the guest keeps reading the disk")
        }
    }

    func testQueueSelectorNamesDevicesUniquely() throws {
        let guest = try guest
        let devices = try QMPVirtioSource.devices(client: guest.harness)
        let blk = try XCTUnwrap(devices.first { $0.name == "virtio-blk" })
        XCTAssertEqual(try QueueSelector("virtio-blk:0")!.select(from: devices).path, blk.path)
        XCTAssertEqual(try QueueSelector("\(blk.path):0")!.select(from: devices).path, blk.path)
        let pci = try XCTUnwrap(blk.pciAddress)
        XCTAssertEqual(try QueueSelector("\(pci):0")!.select(from: devices).path, blk.path)
        XCTAssertEqual(try QueueSelector("vser0:5")!.select(from: devices).device, "virtio-serial")
        XCTAssertThrowsError(try QueueSelector("virtio-blk:7")!.select(from: devices)) {
            XCTAssertTrue("\($0)".contains("has no active queue 7"), "\($0)")
        }
        XCTAssertThrowsError(try QueueSelector("virtio-gpu:0")!.select(from: devices)) {
            XCTAssertTrue("\($0)".contains("no virtio device 'virtio-gpu'"), "\($0)")
        }
    }
}

extension BasicGuestTests {
    func testWatchFollowsTheBlockQueueWithoutGaps() throws {
        let guest = try guest
        let r = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0",
                              "--count", "12", "--seconds", "60", "--json", "--events", "poll"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let events = try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
        XCTAssertEqual(events.count, 12)
        var lastAvail: UInt64?, lastUsed: UInt64?
        for e in events {
            XCTAssertEqual(e["queue"]?.string, "virtio-blk:0")
            switch e["event"]?.string {
            case "avail":
                let idx = try XCTUnwrap(e["idx"]?.uint64)
                if let lastAvail { XCTAssertEqual(idx, (lastAvail + 1) & 0xffff, "no avail entry missed") }
                lastAvail = idx
                XCTAssertLessThan(try XCTUnwrap(e["head"]?.uint64), 256)
            case "used":
                let idx = try XCTUnwrap(e["idx"]?.uint64)
                if let lastUsed { XCTAssertEqual(idx, (lastUsed + 1) & 0xffff, "no used entry missed") }
                lastUsed = idx
                XCTAssertLessThan(try XCTUnwrap(e["id"]?.uint64), 256)
                // The bench reads 4 KiB at a time: the device writes 4096 bytes and the status byte.
                XCTAssertEqual(e["len"]?.uint64, 4097)
            default:
                XCTFail("unexpected event \(e.text)")
            }
        }
        XCTAssertNotNil(lastAvail)
        XCTAssertNotNil(lastUsed)
    }

    func testWatchReportsTheTargetExitingAsOneLine() throws {
        // A process that is gone before watch starts: one line, non-zero.
        let r = try Tool.run(["watch", "--pid", "999999", "--count", "1"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
    }
}

extension BasicGuestTests {
    /// Bytes at `gpa` through QEMU's gpa2hva and /proc/PID/mem, independent of vqscope.
    func independentBytes(_ guest: BenchGuest, _ gpa: UInt64, _ count: Int) throws -> [UInt8] {
        guard let hva = try guest.gpa2hva(gpa) else { throw BenchError("QEMU: no hva for \(Hex.string(gpa))") }
        let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(guest.pid)/mem"))
        defer { try? mem.close() }
        try mem.seek(toOffset: hva)
        return [UInt8](try mem.read(upToCount: count) ?? Data())
    }

    func testDumpOfEverySplitQueueEqualsAnIndependentRead() throws {
        let guest = try guest
        try guest.paused {
            let queues = try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues)
            for q in queues.prefix(12) {
                let r = try Tool.json(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "\(q.path):\(q.index)"])
                XCTAssertEqual(r.status, 0, r.stderr)
                let d = r.json
                XCTAssertEqual(d["consistent"]?.bool, true, "a paused guest reads consistently")
                let num = Int(q.location.size)
                XCTAssertEqual(d["num"]?.int, num)
                let desc = try independentBytes(guest, q.location.descriptors.rawValue, 16 * num)
                let rows = try XCTUnwrap(d["desc"]?.array)
                XCTAssertEqual(rows.count, num)
                for (i, row) in rows.enumerated() {
                    let v = Array(desc[i * 16..<i * 16 + 16])
                    let addr = (0..<8).reduce(UInt64(0)) { $0 | UInt64(v[$1]) << (8 * $1) }
                    let len = (0..<4).reduce(UInt64(0)) { $0 | UInt64(v[8 + $1]) << (8 * $1) }
                    XCTAssertEqual(row["addr"]?.uint64, addr, "\(q.label) desc \(i)")
                    XCTAssertEqual(row["len"]?.uint64, len, "\(q.label) desc \(i)")
                    XCTAssertEqual(row["flags"]?.uint64, UInt64(v[12]) | UInt64(v[13]) << 8)
                    XCTAssertEqual(row["next"]?.uint64, UInt64(v[14]) | UInt64(v[15]) << 8)
                }
                let avail = try independentBytes(guest, q.location.driverArea.rawValue, 4 + 2 * num)
                let availIdx = UInt64(avail[2]) | UInt64(avail[3]) << 8
                XCTAssertEqual(d["avail"]?["idx"]?.uint64, availIdx)
                let ring = try XCTUnwrap(d["avail"]?["ring"]?.array)
                for i in 0..<num { XCTAssertEqual(ring[i].uint64, UInt64(avail[4 + 2 * i]) | UInt64(avail[5 + 2 * i]) << 8) }
                let used = try independentBytes(guest, q.location.deviceArea.rawValue, 4 + 8 * num)
                let usedIdx = UInt64(used[2]) | UInt64(used[3]) << 8
                XCTAssertEqual(d["used"]?["idx"]?.uint64, usedIdx)
                let usedRing = try XCTUnwrap(d["used"]?["ring"]?.array)
                for i in 0..<num {
                    let o = 4 + 8 * i
                    XCTAssertEqual(usedRing[i]["id"]?.uint64, (0..<4).reduce(UInt64(0)) { $0 | UInt64(used[o + $1]) << (8 * $1) })
                    XCTAssertEqual(usedRing[i]["len"]?.uint64, (0..<4).reduce(UInt64(0)) { $0 | UInt64(used[o + 4 + $1]) << (8 * $1) })
                }
                // In flight: the entries between the device's used index and the driver's avail index.
                let inflight = try XCTUnwrap(d["inflight"]?.array)
                XCTAssertEqual(UInt64(inflight.count), (availIdx &- usedIdx) & 0xffff, q.label)
                for (k, f) in inflight.enumerated() {
                    let position = Int((usedIdx + UInt64(k)) & 0xffff) % num
                    XCTAssertEqual(f["head"]?.uint64, ring[position].uint64, "\(q.label) in-flight \(k)")
                    XCTAssertEqual(f["problems"]?.array?.count, 0, "\(q.label): \(f.text)")
                }
            }
        }
    }

    func testScanCommandWithoutQMPFindsTheBlockRing() throws {
        let guest = try guest
        let blk = try XCTUnwrap(QMPVirtioSource.devices(client: guest.harness).first { $0.name == "virtio-blk" }?.queues.first)
        let r = try Tool.json(["scan", "--pid", String(guest.pid), "--no-qmp"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rings = try XCTUnwrap(r.json["rings"]?.array)
        let found = try XCTUnwrap(rings.first { $0["desc"]?.uint64 == blk.location.descriptors.rawValue })
        XCTAssertEqual(found["avail"]?.uint64, blk.location.driverArea.rawValue)
        XCTAssertEqual(found["used"]?.uint64, blk.location.deviceArea.rawValue)
        XCTAssertEqual(found["device_guess"]?.string, "virtio-blk")
        XCTAssertGreaterThan(try XCTUnwrap(r.json["bytes_scanned"]?.uint64), 0)
    }

    func testDumpNamesABadQueue() throws {
        let guest = try guest
        let r = try Tool.run(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:9"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("has no active queue 9"), r.stderr)
    }
}
