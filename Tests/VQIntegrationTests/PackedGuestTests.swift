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

extension PackedGuestTests {
    /// `scan --no-qmp` finds every packed ring QMP lists that has been written, at the same
    /// addresses (ring and event areas) and with the driver's position and wrap counter of an
    /// independent read of the paused guest's ring.
    func testScanWithoutQMPFindsEveryActivePackedRing() throws {
        let guest = try guest
        try guest.paused {
            let packed = try QMPVirtioSource.devices(client: guest.harness).flatMap(\.queues).filter { $0.location.layout == .packed }
            let target = try guest.open(noQMP: true)
            let result = try RingScanner.scan(target)
            var active = 0
            for q in packed {
                let num = Int(q.location.size)
                let hva = try XCTUnwrap(try guest.gpa2hva(q.location.descriptors.rawValue))
                let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(guest.pid)/mem"))
                try mem.seek(toOffset: hva)
                let bytes = [UInt8](try mem.read(upToCount: 16 * num) ?? Data())
                try mem.close()
                guard bytes.prefix(16).contains(where: { $0 != 0 }) else { continue }  // never written: all zero
                active += 1
                // The driver's position: the first slot whose AVAIL bit differs from slot 0's.
                let availBits = (0..<num).map { bytes[16 * $0 + 14] & 0x80 != 0 }
                let change = availBits.firstIndex { $0 != availBits[0] } ?? num
                let wrap = change == num ? !availBits[0] : availBits[0]
                let driver = UInt16(change % num) | (wrap ? 0x8000 : 0)
                guard let ring = result.rings.first(where: { $0.location.descriptors == q.location.descriptors }) else {
                    XCTFail("\(q.label) (packed, desc \(q.location.descriptors), N=\(num)) not found")
                    continue
                }
                print("  \(q.label): N=\(ring.location.size) (QMP \(num)) driver \(Hex.string(UInt64(ring.availIndex))) used \(Hex.string(UInt64(ring.usedIndex))) score \(ring.score) stale \(ring.stale.map(String.init) ?? "?"): \(ring.reasons.joined(separator: "; "))")
                XCTAssertEqual(ring.location.layout, .packed)
                // A ring in its first lap with a zeroed tail does not show its size: any size that
                // holds the written slots fits (a power of two written slots look like a full lap).
                let firstLap = availBits[0] && (change..<num).allSatisfy { i in bytes[(16 * i)..<(16 * i + 16)].allSatisfy { $0 == 0 } }
                if firstLap {
                    XCTAssertGreaterThanOrEqual(Int(ring.location.size), change, q.label)
                } else {
                    XCTAssertEqual(Int(ring.location.size), num, q.label)
                }
                XCTAssertEqual(ring.location.driverArea, q.location.driverArea, q.label)
                XCTAssertEqual(ring.location.deviceArea, q.location.deviceArea, q.label)
                XCTAssertEqual(ring.availIndex, driver, "\(q.label): driver position and wrap counter")
            }
            XCTAssertGreaterThanOrEqual(active, 2, "net rx and rng have been written")
            let known = Set(packed.map(\.location.descriptors))
            let extra = result.rings.filter { $0.location.layout == .packed && !known.contains($0.location.descriptors) }
            for ring in extra { print("  packed, not in QMP's list: \(ring.location.descriptors) N=\(ring.location.size) score \(ring.score): \(ring.reasons)") }
            XCTAssertLessThanOrEqual(extra.count, 2, "false packed finds")
            print("packed scan: \(result.rings.count) rings in \(String(format: "%.3f", result.seconds)) s, \(result.anchors) anchors, \(result.candidatesVerified) verified")
            // What finding the event areas in QEMU's memory costs beside the scan itself.
            let start = Date()
            let areas = DeviceRingAreas.find(for: result.rings, reader: ProcessMemory(pid: guest.pid), mappings: try XCTUnwrap(target.process).mappings(),
                                             ram: target.memory.map, resident: try RingScanner.residentPages(pid: guest.pid))
            let seconds = Date().timeIntervalSince(start)
            for q in packed where result.rings.contains(where: { $0.location.descriptors == q.location.descriptors }) {
                XCTAssertEqual(areas[q.location.descriptors.rawValue],
                               DeviceRingAreas.Areas(driver: q.location.driverArea.rawValue, device: q.location.deviceArea.rawValue), q.label)
            }
            print("event areas from QEMU's memory: \(String(format: "%.3f", seconds)) s, \(String(format: "%.2f", seconds / result.seconds))x the scan")
        }
    }
}
