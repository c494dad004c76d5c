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
                              "--count", "12", "--seconds", "60", "--json"])
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
