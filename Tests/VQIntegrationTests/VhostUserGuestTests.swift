import Foundation
import VQCore
import XCTest

/// A guest whose disk is served over vhost-user by qemu-storage-daemon: vqscope shows the back-end for
/// what it is, reads the rings right, and opens the back-end process by its own PID. (That no command
/// stops the back-end's ring is VhostUserKeepsRunningTests, on a guest of its own.)
final class VhostUserGuestTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .vhostUser }

    var backendPID: Int32 {
        get throws { try XCTUnwrap(try guest.backend?.processIdentifier) }
    }

    func bytes(pid: Int32, at address: UInt64, count: Int) throws -> [UInt8] {
        let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/mem"))
        defer { try? mem.close() }
        try mem.seek(toOffset: address)
        return [UInt8](try mem.read(upToCount: count) ?? Data())
    }

    /// The disk is listed as vhost-user with the rings QEMU's vhost code uses; its health is judged
    /// from the ring alone.
    func testQueuesNameTheBackendAndDiagnoseReadsTheRingAlone() throws {
        let guest = try guest
        try guest.waitForVhostUser()
        let r = try Tool.json(["queues", "--pid", String(guest.pid), "--qmp", guest.toolSocket])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try XCTUnwrap(r.json["queues"]?.array)
        let blk = try XCTUnwrap(rows.first { $0["device"]?.string == "virtio-blk" })
        XCTAssertEqual(blk["backend"]?.string, "vhost-user")
        XCTAssertTrue(rows.filter { $0["device"]?.string != "virtio-blk" }.allSatisfy { $0["backend"]?.string == "qemu" })
        // The ring QEMU's vhost code maps is where vqscope reads it.
        let path = try XCTUnwrap(blk["path"]?.string)
        let vhost = try guest.harness.execute("x-query-virtio-vhost-queue-status", arguments: .object([("path", .string(path)), ("queue", .int(0))]))
        XCTAssertEqual(blk["desc"]?.uint64, vhost["desc-phys"]?.uint64)
        XCTAssertEqual(blk["desc_hva"]?.uint64, vhost["desc"]?.uint64)
        XCTAssertEqual(blk["used_hva"]?.uint64, vhost["used"]?.uint64)

        let d = try Tool.json(["diagnose", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0", "--seconds", "1"])
        XCTAssertEqual(d.status, 0, d.stderr)
        let q = try XCTUnwrap(d.json["queues"]?.array?.first)
        XCTAssertEqual(q["backend"]?.string, "vhost-user")
        XCTAssertEqual(q["health"]?.string, "busy", "\(q)")
        XCTAssertEqual(q["device_fetched"], .null, "QEMU's stale indexes are not used")
        XCTAssertEqual(q["device_inuse"], .null)
    }

    /// On the paused guest `dump` equals an independent read; the back-end's own view lists the same
    /// rings at the back-end's addresses, where its memory holds the same bytes.
    func testPausedDumpAndTheBackendsViewEqualIndependentReads() throws {
        let guest = try guest
        let backend = try backendPID
        try guest.waitForVhostUser()
        try guest.paused {
            let r = try Tool.json(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.json["consistent"]?.bool, true)
            let desc = try XCTUnwrap(r.json["desc_addr"]?.uint64), used = try XCTUnwrap(r.json["used_addr"]?.uint64)
            let avail = try XCTUnwrap(r.json["avail_addr"]?.uint64)
            let num = try XCTUnwrap(r.json["num"]?.int)
            let table = try bytes(pid: guest.pid, at: try XCTUnwrap(try guest.gpa2hva(desc)), count: 16 * num)
            for (i, row) in try XCTUnwrap(r.json["desc"]?.array).enumerated() {
                let o = i * 16
                let addr = table[o..<o + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let len = table[o + 8..<o + 12].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                XCTAssertEqual(row["addr"]?.uint64, addr, "desc \(i)")
                XCTAssertEqual(row["len"]?.uint64, len, "desc \(i)")
            }
            let availIdx = try bytes(pid: guest.pid, at: try XCTUnwrap(try guest.gpa2hva(avail + 2)), count: 2)
            let usedIdx = try bytes(pid: guest.pid, at: try XCTUnwrap(try guest.gpa2hva(used + 2)), count: 2)
            XCTAssertEqual(r.json["avail"]?["idx"]?.uint64, UInt64(availIdx[0]) | UInt64(availIdx[1]) << 8)
            XCTAssertEqual(r.json["used"]?["idx"]?.uint64, UInt64(usedIdx[0]) | UInt64(usedIdx[1]) << 8)

            // The back-end's view: the same rings, at the back-end's addresses, holding the same bytes.
            let ours = try Tool.json(["queues", "--pid", String(guest.pid), "--qmp", guest.toolSocket])
            let theirs = try Tool.json(["queues", "--pid", String(backend)])
            XCTAssertEqual(theirs.status, 0, theirs.stderr)
            let mine = try XCTUnwrap(ours.json["queues"]?.array), back = try XCTUnwrap(theirs.json["queues"]?.array)
            XCTAssertEqual(back.count, mine.count)
            for (a, b) in zip(mine, back) {
                for key in ["device", "index", "desc", "avail", "used", "num", "avail_idx", "used_idx"] {
                    XCTAssertEqual(a[key], b[key], "\(key) of \(a["device"]?.string ?? "?"):\(a["index"]?.int ?? -1)")
                }
                let qemuHVA = try XCTUnwrap(a["desc_hva"]?.uint64), backendHVA = try XCTUnwrap(b["desc_hva"]?.uint64)
                XCTAssertNotEqual(qemuHVA, backendHVA, "the back-end maps guest RAM at its own addresses")
                let size = 16 * (try XCTUnwrap(a["num"]?.int))
                XCTAssertEqual(try bytes(pid: backend, at: backendHVA, count: size), try bytes(pid: guest.pid, at: qemuHVA, count: size))
            }
            let dump = try Tool.json(["dump", "--pid", String(backend), "--queue", "virtio-blk:0"])
            XCTAssertEqual(dump.status, 0, dump.stderr)
            XCTAssertEqual(dump.json["desc"], r.json["desc"], "the back-end's memory holds the same descriptors")
        }
        // A process that maps no guest RAM: one line, exit 2.
        let none = try Tool.run(["queues", "--pid", String(getpid())])
        XCTAssertEqual(none.status, 2)
        XCTAssertEqual(none.stderr.split(separator: "\n").count, 1, none.stderr)
        XCTAssertTrue(none.stderr.contains("maps no QEMU's guest RAM"), none.stderr)
    }
}

extension BenchGuest {
    /// Waits until QEMU has handed the disk to its vhost back-end: a moment after the guest starts
    /// (or after `cont`), not before.
    func waitForVhostUser() throws {
        let disk = try XCTUnwrap(try QMPVirtioSource.devices(client: harness).first { $0.backend == .vhostUser })
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let status = try harness.execute("x-query-virtio-status", arguments: .object([("path", .string(disk.path))]))
            if status["vhost-started"]?.bool == true { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw BenchError("the vhost-user disk's vhost did not start within 60 s")
    }
}
