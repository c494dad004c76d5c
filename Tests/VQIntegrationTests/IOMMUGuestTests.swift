import Foundation
import VQCore
import XCTest

/// The bench guest behind an Intel vIOMMU (variant `iommu`): every ring and buffer address its
/// devices use is an IOVA. vqscope's answers are held against a walk of the VT-d tables written
/// here from raw reads (QEMU's gpa2hva and /proc/PID/mem), not vqscope's walker.
class IOMMUGuestTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .iommu }

    /// The independent reference: raw guest-physical reads, and the VT-d walk over them.
    struct Reference {
        let guest: BenchGuest
        let mem: FileHandle

        init(_ guest: BenchGuest) throws {
            self.guest = guest
            mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(guest.pid)/mem"))
        }

        func bytes(_ gpa: UInt64, _ count: Int) throws -> [UInt8] {
            guard let hva = try guest.gpa2hva(gpa) else { throw BenchError("QEMU: no hva for \(Hex.string(gpa))") }
            try mem.seek(toOffset: hva)
            return [UInt8](try mem.read(upToCount: count) ?? Data())
        }

        func u64(_ gpa: UInt64) throws -> UInt64 {
            try bytes(gpa, 8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }

        func u16(_ gpa: UInt64) throws -> UInt16 {
            let b = try bytes(gpa, 2)
            return UInt16(b[0]) | UInt16(b[1]) << 8
        }

        /// One DMAR register, read with HMP `xp` at q35's DRHD base.
        func register(_ offset: UInt64) throws -> UInt64 {
            let reply = try guest.harness.humanMonitorCommand("xp /1gx \(Hex.string(0xFED9_0000 + offset))")
            guard let text = reply.split(separator: ":").last?.trimmingCharacters(in: .whitespacesAndNewlines),
                  let value = UInt64(text.dropFirst(2), radix: 16) else { throw BenchError("xp: \(reply)") }
            return value
        }

        /// The guest-physical address `iova` of device `devfn` on bus 0 maps to (legacy-mode tables),
        /// or nil when it is not mapped.
        func translate(_ iova: UInt64, devfn: Int) throws -> UInt64? {
            let rtaddr = try register(0x20)
            XCTAssertEqual((rtaddr >> 10) & 3, 0, "legacy translation mode")
            let address: (UInt64) -> UInt64 = { $0 & 0x000F_FFFF_FFFF_F000 }
            let root = try u64(address(rtaddr) + 0 * 16)
            guard root & 1 == 1 else { return nil }
            let contextLow = try u64(address(root) + UInt64(devfn) * 16)
            let contextHigh = try u64(address(root) + UInt64(devfn) * 16 + 8)
            guard contextLow & 1 == 1 else { return nil }
            XCTAssertEqual((contextLow >> 2) & 3, 0, "second-level translation")
            let levels = Int(contextHigh & 7) + 2
            var table = address(contextLow)
            for level in stride(from: levels, through: 1, by: -1) {
                let shift = UInt64(12 + 9 * (level - 1))
                let entry = try u64(table + ((iova >> shift) & 0x1FF) * 8)
                guard entry & 3 != 0 else { return nil }
                if level == 1 || (level <= 3 && entry & 0x80 != 0) {
                    let size: UInt64 = 1 << shift
                    return (address(entry) & ~(size - 1)) | (iova & (size - 1))
                }
                table = address(entry)
            }
            return nil
        }
    }

    private func devfn(_ pci: String?) throws -> Int {
        let parts = try XCTUnwrap(pci).split(separator: ":").last!.split(separator: ".")
        return Int(parts[0], radix: 16)! << 3 | Int(parts[1])!
    }

    func testRingsAndChainsMatchAnIndependentWalkOfTheTables() throws {
        let guest = try guest
        try guest.paused {
            let reference = try Reference(guest)
            defer { try? reference.mem.close() }
            let devices = try QMPVirtioSource.devices(client: guest.harness)
            XCTAssertEqual(Set(devices.map(\.name)), ["virtio-blk", "virtio-net", "virtio-rng", "virtio-serial"])
            let r = try Tool.json(["queues", "--pid", String(guest.pid), "--qmp", guest.toolSocket])
            XCTAssertEqual(r.status, 0, r.stderr)
            let rows = try XCTUnwrap(r.json["queues"]?.array)
            let queues = devices.flatMap(\.queues)
            XCTAssertEqual(rows.count, queues.count)
            for (row, q) in zip(rows, queues) {
                let device = try XCTUnwrap(devices.first { $0.path == q.path })
                let fn = try devfn(device.pciAddress)
                XCTAssertEqual(row["addressing"]?.string, "iova", q.label)
                XCTAssertEqual(row["iommu"]?.string, "intel-iommu", q.label)
                XCTAssertEqual(row["desc"]?.uint64, q.location.descriptors.rawValue, q.label)
                for (key, iova) in [("desc_gpa", q.location.descriptors.rawValue), ("avail_gpa", q.location.driverArea.rawValue),
                                    ("used_gpa", q.location.deviceArea.rawValue)] {
                    XCTAssertEqual(row[key]?.uint64, try reference.translate(iova, devfn: fn), "\(q.label) \(key)")
                }
                let avail = try XCTUnwrap(try reference.translate(q.location.driverArea.rawValue + 2, devfn: fn))
                let used = try XCTUnwrap(try reference.translate(q.location.deviceArea.rawValue + 2, devfn: fn))
                XCTAssertEqual(row["avail_idx"]?.uint64, UInt64(try reference.u16(avail)), q.label)
                XCTAssertEqual(row["used_idx"]?.uint64, UInt64(try reference.u16(used)), q.label)
                XCTAssertEqual(row["used_idx"]?.uint64, q.deviceState.map { UInt64($0.usedIndex) }, q.label)
            }

            // In-flight chains (virtio-net's receive buffers always are): decoded without problems,
            // each buffer's IOVA beside the guest-physical address the tables give.
            var checked = 0
            for label in ["virtio-net:0", "virtio-blk:0", "virtio-serial:2"] {
                let d = try Tool.json(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", label])
                XCTAssertEqual(d.status, 0, d.stderr)
                XCTAssertEqual(d.json["addressing"]?.string, "iova")
                let device = try XCTUnwrap(devices.first { $0.name == label.split(separator: ":")[0] })
                let fn = try devfn(device.pciAddress)
                for flight in d.json["inflight"]?.array ?? [] {
                    XCTAssertEqual(flight["problems"]?.array?.count, 0, "\(label): \(flight["problems"]?.text ?? "")")
                    for element in flight["chain"]?.array ?? [] {
                        let iova = try XCTUnwrap(element["addr"]?.uint64)
                        XCTAssertEqual(element["iova"]?.uint64, iova)
                        let gpa = try reference.translate(iova, devfn: fn)
                        XCTAssertNotNil(gpa, "\(label): \(Hex.string(iova)) is mapped")
                        XCTAssertEqual(element["gpa"]?.uint64, gpa, label)
                        if let gpa { XCTAssertEqual(element["hva"]?.uint64, try guest.gpa2hva(gpa), label) }
                        checked += 1
                    }
                }
            }
            XCTAssertGreaterThan(checked, 0, "some chain was in flight")
        }
    }

    func testDiagnoseJudgesTheQueuesAsWithoutAnIOMMU() throws {
        let guest = try guest
        let r = try Tool.json(["diagnose", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--seconds", "1", "--no-history"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let queues = try XCTUnwrap(r.json["queues"]?.array)
        XCTAssertFalse(queues.isEmpty)
        for q in queues {
            XCTAssertNotEqual(q["health"]?.string, "broken", q.text)
            XCTAssertEqual(q["addressing"]?.string, "iova", q.text)
            XCTAssertNotNil(q["health"]?.string, q.text)
        }
    }

    func testWatchFollowsTheBlockQueue() throws {
        let guest = try guest
        let r = try Tool.run(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", "virtio-blk:0",
                              "--count", "6", "--seconds", "60", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let events = try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
        XCTAssertEqual(events.count, 6)
        XCTAssertTrue(events.contains { $0["event"]?.string == "avail" }, r.stdout)
        XCTAssertTrue(events.contains { $0["event"]?.string == "used" }, r.stdout)
    }

    /// Without QMP nothing says which devices use the IOMMU, and its registers cannot be read: one
    /// line names it, and no ring is decoded from IOVAs read as guest-physical addresses.
    func testWithoutQMPOneLineNamesTheIOMMUAndNoRingIsDecoded() throws {
        let guest = try guest
        let queues = try Tool.json(["queues", "--pid", String(guest.pid), "--no-qmp"])
        let lines = queues.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, queues.stderr)
        XCTAssertTrue(queues.stderr.contains("Intel IOMMU"), queues.stderr)
        for row in queues.json["queues"]?.array ?? [] {
            XCTAssertNil(row["avail_idx"]?.uint64, row.text)
            XCTAssertEqual(row["addressing"]?.string, "unknown", row.text)
        }
        let diagnose = try Tool.json(["diagnose", "--pid", String(guest.pid), "--no-qmp", "--seconds", "0", "--no-history"])
        XCTAssertFalse(diagnose.json.text.contains("\"broken\""), diagnose.json.text)
        // One line on the IOMMU beside the line naming where events come from (said by every run).
        XCTAssertEqual(diagnose.stderr.split(separator: "\n").filter { !$0.hasPrefix("vqscope: events: ") }.count, 1, diagnose.stderr)
        XCTAssertTrue(diagnose.stderr.contains("vqscope: events: poll ("), diagnose.stderr)
        for label in (queues.json["queues"]?.array ?? []).prefix(1).compactMap({ r in r["device"]?.string.map { "\($0):\(r["index"]?.int ?? 0)" } }) {
            let dump = try Tool.run(["dump", "--pid", String(guest.pid), "--no-qmp", "--queue", label])
            XCTAssertEqual(dump.status, 1, dump.stdout)
            XCTAssertEqual(dump.stdout, "")
            XCTAssertEqual(dump.stderr.split(separator: "\n").count, 1, dump.stderr)
            XCTAssertTrue(dump.stderr.contains("Intel IOMMU"), dump.stderr)
        }
    }

    /// Block requests traced through the device's mappings: what is read is the guest's request.
    /// (Behind an IOMMU a request the guest unmaps before vqscope reads it is missed, so only some
    /// are expected.)
    func testCaptureTracesBlockRequestsThroughTheMappings() throws {
        let guest = try guest
        let r = try Tool.run(["capture", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--device", "virtio-blk",
                              "--seconds", "8", "-w", "-"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let requests = try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
        XCTAssertFalse(requests.isEmpty, r.stderr)
        for request in requests {
            XCTAssertEqual(request["type"]?.string, "read", request.text)
            XCTAssertEqual(request["length"]?.uint64, 4096, request.text)
            XCTAssertLessThan(try XCTUnwrap(request["sector"]?.uint64), 1 << 21, request.text)
        }
    }

    func testInspectorSaysTheMachineIsBehindTheIOMMUAndFollowsItsQueues() throws {
        let guest = try guest
        let session = try TmuxSession(["--pid", String(guest.pid), "--qmp", guest.toolSocket], width: 120, height: 40)
        let first = try session.wait(for: "the bench's queues behind intel-iommu", timeout: 60) { screen in
            ["virtio-blk:0", "virtio-net:0", "virtio-rng:0"].allSatisfy { DemoInspectorTests.queueRow(screen, $0) != nil }
                && screen.contains("behind intel-iommu") && screen.contains("LIVE")
        }
        let before = DemoInspectorTests.queueRow(first, "virtio-blk:0")?[3...4]
        let moved = try session.wait(for: "virtio-blk:0 moving", timeout: 60) { screen in
            DemoInspectorTests.queueRow(screen, "virtio-blk:0")?[3...4] != before
        }
        XCTAssertFalse(moved.lowercased().contains("broken"), moved)
        // virtio-net:0's receive buffers are in flight: their chains are read through the IOMMU.
        try session.send("]")
        let chains = try session.wait(for: "virtio-net:0 chains", timeout: 30) { $0.contains("┌ virtio-net:0") && $0.contains("W 1.5 KiB") }
        XCTAssertFalse(chains.contains("PROBLEM") || chains.contains("iova"), chains)
    }
}

/// The same checks with interrupt remapping on (`intel-iommu,intremap=on`, `-machine
/// q35,kernel-irqchip=split`): DMA remapping reads the same way.
final class IOMMUIntremapGuestTests: IOMMUGuestTests {
    override class var runGuestFlags: [String] { ["--intremap"] }
    override class var tag: String? { "iommu-intremap" }

    // Declared again so that test discovery on Linux, which lists a class's own methods, runs them here.
    override func testRingsAndChainsMatchAnIndependentWalkOfTheTables() throws { try super.testRingsAndChainsMatchAnIndependentWalkOfTheTables() }
    override func testDiagnoseJudgesTheQueuesAsWithoutAnIOMMU() throws { try super.testDiagnoseJudgesTheQueuesAsWithoutAnIOMMU() }
    override func testWatchFollowsTheBlockQueue() throws { try super.testWatchFollowsTheBlockQueue() }
}

extension IOMMUGuestTests {
    /// Without QMP the scan lists a ring only where QMP lists one (at the guest-physical address its
    /// IOVA maps to) or marks it stale: SeaBIOS's leftover virtio-blk ring, the one a scan finds here
    /// (Linux's rings hold IOVAs, no guest-physical RAM addresses), is stale.
    func testScanWithoutQMPMarksEveryRingQMPDoesNotListStale() throws {
        let guest = try guest
        let withQMP = try Tool.json(["queues", "--pid", String(guest.pid), "--qmp", guest.toolSocket])
        XCTAssertEqual(withQMP.status, 0, withQMP.stderr)
        let listed = Set((withQMP.json["queues"]?.array ?? []).compactMap { $0["desc_gpa"]?.uint64 })
        XCTAssertFalse(listed.isEmpty, withQMP.json.text)
        let scan = try Tool.json(["scan", "--pid", String(guest.pid), "--no-qmp"])
        XCTAssertEqual(scan.status, 0, scan.stderr)
        let rings = try XCTUnwrap(scan.json["rings"]?.array)
        for ring in rings {
            let desc = try XCTUnwrap(ring["desc"]?.uint64)
            XCTAssertTrue(listed.contains(desc) || ring["stale"]?.bool == true, "\(Hex.string(desc)): \(ring.text)")
        }
        let firmware = rings.filter { r in r["num"]?.uint64 == 256 && r["used"]?.uint64 == (r["desc"]?.uint64 ?? 0) + 0x2000 }
        XCTAssertFalse(firmware.isEmpty, "SeaBIOS's ring (used at +0x2000): \(scan.json.text)")
        for ring in firmware { XCTAssertEqual(ring["stale"]?.bool, true, ring.text) }
    }
}
