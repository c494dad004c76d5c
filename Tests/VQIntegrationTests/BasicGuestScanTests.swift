import Foundation
import Glibc
import VQCore
import XCTest

/// `vqscope scan --no-qmp`'s core: finding split rings in RAM with no help from QEMU, checked
/// against QEMU's own list of queues.
extension BasicGuestTests {
    /// The split queues QMP reports that have ever moved (an index in guest memory ≠ 0): the ones a
    /// scan can find. Queues set up but never used are all-zero rings, which a scan never reports.
    private func activeSplitQueues(_ guest: BenchGuest, memory: GuestMemory) throws -> (active: [Virtqueue], all: [Virtqueue]) {
        let devices = try QMPVirtioSource.devices(client: guest.harness)
        let all = devices.flatMap(\.queues).filter { $0.location.layout == .split }
        let active = try all.filter { q in
            let idx = try RingIndexes.read(q.location, from: memory)
            return idx.available != 0 || idx.used != 0
        }
        return (active, all)
    }

    private func checkScan(_ result: RingScanResult, active: [Virtqueue], all: [Virtqueue], what: String, live: Bool) {
        print("\(what): \(result.rings.count) rings in \(String(format: "%.3f", result.seconds)) s, \(result.bytesScanned >> 20) MiB scanned, "
              + "\(result.pagesSkipped) pages skipped, \(result.anchors) anchors, \(result.candidatesVerified) verified, \(result.candidatesPassed) passed")
        for q in active {
            guard let ring = result.rings.first(where: { $0.location.descriptors == q.location.descriptors }) else {
                XCTFail("\(what): \(q.label) (desc \(q.location.descriptors), N=\(q.location.size)) not found")
                continue
            }
            XCTAssertEqual(ring.location.size, q.location.size, "\(what): \(q.label)")
            XCTAssertEqual(ring.location.driverArea, q.location.driverArea, "\(what): \(q.label)")
            XCTAssertEqual(ring.location.deviceArea, q.location.deviceArea, "\(what): \(q.label)")
            XCTAssertEqual(ring.location.layout, .split)
            print("  \(q.label): \(ring.location.descriptors) N=\(ring.location.size) score \(ring.score) guess \(ring.deviceGuess ?? "-")")
            if q.device == "virtio-blk" {
                XCTAssertEqual(ring.deviceGuess, "virtio-blk", "\(what): \(ring.reasons)")
            }
        }
        let known = Set(all.map(\.location.descriptors))
        let extra = result.rings.filter { !known.contains($0.location.descriptors) }
        for ring in extra {
            print("  not in QMP's list: \(ring.location.descriptors) N=\(ring.location.size) avail \(ring.location.driverArea) used \(ring.location.deviceArea) score \(ring.score) stale \(ring.stale.map(String.init) ?? "?") (\(ring.liveness ?? "-")): \(ring.reasons.joined(separator: "; "))")
        }
        XCTAssertLessThanOrEqual(extra.count, 2, "\(what): false finds")
        if live {
            // Every ring listed without QMP is one QMP lists or is marked stale; QMP's active rings are not.
            for ring in extra { XCTAssertEqual(ring.stale, true, "\(what): \(ring.location.descriptors) \(ring.liveness ?? "-")") }
            for q in active {
                let ring = result.rings.first { $0.location.descriptors == q.location.descriptors }
                XCTAssertEqual(ring?.stale, false, "\(what): \(q.label) \(ring?.liveness ?? "-")")
            }
            // Live rings first: no stale ring before a live one.
            let flags = result.rings.map { $0.stale == true }
            XCTAssertEqual(flags, flags.sorted { !$0 && $1 }, "\(what): stale rings last")
        } else {
            XCTAssertTrue(result.rings.allSatisfy { $0.stale == nil }, "\(what): an image's rings are not judged")
        }
    }

    func testScanWithoutQMPFindsEveryActiveSplitQueue() throws {
        let guest = try guest
        let target = try guest.open(noQMP: true)
        XCTAssertNil(target.qmp)
        try guest.paused {
            let (active, all) = try activeSplitQueues(guest, memory: target.memory)
            // blk, net rx/tx/ctrl, rng, and the serial control and port queues that carry traffic.
            XCTAssertGreaterThanOrEqual(active.count, 7, "\(active.map(\.label))")
            XCTAssertTrue(active.contains { $0.device == "virtio-blk" })
            let result = try RingScanner.scan(target)
            XCTAssertEqual(result.notes, [])
            checkScan(result, active: active, all: all, what: "live scan", live: true)
        }
    }

    func testScanOfADumpFindsTheSameRings() throws {
        let guest = try guest
        let path = guest.directory.appendingPathComponent("scan-dump.elf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let live = try guest.open(noQMP: true)
        try guest.paused {
            try guest.harness.execute("dump-guest-memory", arguments: .object([("paging", .bool(false)), ("protocol", .string("file:" + path))]))
            let (active, all) = try activeSplitQueues(guest, memory: live.memory)
            let image = try Target.open(TargetSpec(imagePath: path))
            let result = try RingScanner.scan(image)
            XCTAssertEqual(result.pagesSkipped, 0, "an image has no page map: everything is read")
            checkScan(result, active: active, all: all, what: "image scan", live: false)
        }
    }

    /// Scan time against one plain read (`pread` of /proc/PID/mem) of the same resident bytes.
    /// Printed; asserted (within 3x) only in optimized builds, where the figure means something.
    func testScanTimeAgainstPlainRead() throws {
        let guest = try guest
        let target = try guest.open(noQMP: true)
        let pid = guest.pid
        let resident = try RingScanner.residentPages(pid: pid)
        // The resident runs of every RAM slot (host address, bytes).
        var runs: [(UInt64, Int)] = []
        for slot in target.memory.map.slots where slot.kind == .ram {
            let pages = resident(slot.host, Int((slot.size + 4095) / 4096))
            var i = 0
            while i < pages.count {
                guard pages[i] else { i += 1; continue }
                var j = i
                while j < pages.count && pages[j] { j += 1 }
                runs.append((slot.host + UInt64(i) * 4096, min(Int(slot.size) - i * 4096, (j - i) * 4096)))
                i = j
            }
        }
        let fd = open("/proc/\(pid)/mem", O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 8 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        memset(buffer, 0, 8 << 20)
        func plainRead() -> (bytes: Int, seconds: Double) {
            let start = Date()
            var total = 0
            for (address, count) in runs {
                var done = 0
                while done < count {
                    let n = pread(fd, buffer, min(8 << 20, count - done), off_t(address + UInt64(done)))
                    guard n > 0 else { break }
                    done += n
                }
                total += done
            }
            return (total, Date().timeIntervalSince(start))
        }
        var plain: [Double] = [], scan: [Double] = []
        var bytes = 0
        for _ in 0..<5 {
            let p = plainRead()
            bytes = p.bytes
            plain.append(p.seconds)
            scan.append(try RingScanner.scan(target).seconds)
        }
        plain.sort()
        scan.sort()
        let ratio = scan[2] / plain[2]
        print("plain read of \(bytes >> 20) MiB resident: \(String(format: "%.3f", plain[2])) s; scan: \(String(format: "%.3f", scan[2])) s; ratio \(String(format: "%.2f", ratio)) (medians of 5)")
        #if !DEBUG
        XCTAssertLessThan(ratio, 3, "a scan must stay within 3x of one plain read")
        #endif
    }
}
