import Foundation
import VQCore
import XCTest

/// The basic bench guest with packed=on for virtio-net and virtio-rng: packed rings.
final class PackedGuestTests: GuestTestCase {
    override class var packed: Bool { true }

    func testPackedQueuesAreListedAndDecodedConsistently() throws {
        let guest = try guest
        try guest.paused {
            let devices = try QMPVirtioSource.devices(client: guest.harness)
            let packed = devices.flatMap(\.queues).filter { $0.location.layout == .packed }
            XCTAssertEqual(Set(packed.map(\.device)), ["virtio-net", "virtio-rng"])
            for q in packed {
                let r = try Tool.json(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "\(q.path):\(q.index)"])
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertEqual(r.json["layout"]?.string, "packed")
                XCTAssertEqual(r.json["consistent"]?.bool, true)
                let num = Int(q.location.size)
                let rows = try XCTUnwrap(r.json["desc"]?.array)
                XCTAssertEqual(rows.count, num)
                // The descriptor ring equals an independent read of the same bytes.
                let hva = try XCTUnwrap(try guest.gpa2hva(q.location.descriptors.rawValue))
                let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(guest.pid)/mem"))
                try mem.seek(toOffset: hva)
                let bytes = [UInt8](try mem.read(upToCount: 16 * num) ?? Data())
                try mem.close()
                for (i, row) in rows.enumerated() {
                    let o = i * 16
                    XCTAssertEqual(row["addr"]?.uint64, (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[o + $1]) << (8 * $1) }, "\(q.label) \(i)")
                    XCTAssertEqual(row["id"]?.uint64, UInt64(bytes[o + 12]) | UInt64(bytes[o + 13]) << 8)
                    XCTAssertEqual(row["flags"]?.uint64, UInt64(bytes[o + 14]) | UInt64(bytes[o + 15]) << 8)
                }
                // Receive queues keep buffers posted for the device: available chains, device-writable.
                if q.device == "virtio-net" && q.index == 0 {
                    let inflight = try XCTUnwrap(r.json["inflight"]?.array)
                    XCTAssertFalse(inflight.isEmpty, "net rx has buffers posted")
                    for f in inflight { XCTAssertEqual(f["chain"]?.array?.first?["write"]?.bool, true) }
                }
                XCTAssertEqual(r.json["problems"]?.array?.count, 0, "\(q.label): \(r.json["problems"]?.text ?? "")")
            }
        }
    }

    func testQueuesCommandShowsPackedLayout() throws {
        let guest = try guest
        let r = try Tool.json(["queues", "--pid", String(guest.pid), "--qmp", guest.toolSocket])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try XCTUnwrap(r.json["queues"]?.array)
        let rng = try XCTUnwrap(rows.first { $0["device"]?.string == "virtio-rng" })
        XCTAssertEqual(rng["layout"]?.string, "packed")
        XCTAssertTrue(rng["features"]?.array?.contains(.string("ring_packed")) == true)
        XCTAssertEqual(rows.first { $0["device"]?.string == "virtio-blk" }?["layout"]?.string, "split")
    }
}
