import Foundation
import VQCore
import XCTest

/// A hostile guest, made on a real one: on a paused basic bench guest the test (never vqscope)
/// rewrites virtio-blk:0's split ring through its own write access to QEMU's memory
/// (`/proc/PID/mem` at the host address QEMU's `gpa2hva` gives), runs every ring command against
/// each broken ring, and puts the exact original bytes back before the guest runs again.
final class HostileGuestTests: GuestTestCase {
    /// The queue the cases break: the bench reads its disk steadily, and 256 entries leave room.
    static let queueLabel = "virtio-blk:0"

    // MARK: Writing QEMU's memory (the test's own access; vqscope only reads)

    /// Guest RAM through `/proc/PID/mem`, opened for writing, at the addresses QEMU's `gpa2hva` gives.
    final class GuestRAMWriter {
        let fd: Int32
        let guest: BenchGuest
        private var hvaCache: [UInt64: UInt64] = [:]

        init(_ guest: BenchGuest) throws {
            self.guest = guest
            fd = open("/proc/\(guest.pid)/mem", O_RDWR)
            guard fd >= 0 else { throw BenchError("cannot open /proc/\(guest.pid)/mem for writing: \(String(cString: strerror(errno)))") }
        }

        deinit { close(fd) }

        /// The host address of `gpa`, by QEMU's own answer (per 4 KiB page, so ranges may cross pages).
        func hva(_ gpa: UInt64) throws -> UInt64 {
            let page = gpa & ~0xfff
            if let base = hvaCache[page] { return base + (gpa - page) }
            guard let base = try guest.gpa2hva(page) else { throw BenchError("QEMU: no hva for \(Hex.string(page))") }
            hvaCache[page] = base
            return base + (gpa - page)
        }

        func read(_ gpa: UInt64, _ count: Int) throws -> [UInt8] {
            var result: [UInt8] = []
            var address = gpa
            while result.count < count {
                let chunk = min(count - result.count, Int(0x1000 - (address & 0xfff)))
                var bytes = [UInt8](repeating: 0, count: chunk)
                let offset = try hva(address)
                let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, chunk, off_t(offset)) }
                guard n == chunk else { throw BenchError("read of \(Hex.string(address)) failed: \(String(cString: strerror(errno)))") }
                result += bytes
                address += UInt64(chunk)
            }
            return result
        }

        func write(_ gpa: UInt64, _ bytes: [UInt8]) throws {
            var done = 0
            var address = gpa
            while done < bytes.count {
                let chunk = min(bytes.count - done, Int(0x1000 - (address & 0xfff)))
                let offset = try hva(address)
                let n = bytes[done..<done + chunk].withUnsafeBytes { pwrite(fd, $0.baseAddress, chunk, off_t(offset)) }
                guard n == chunk else { throw BenchError("write of \(Hex.string(address)) failed: \(String(cString: strerror(errno)))") }
                done += chunk
                address += UInt64(chunk)
            }
        }
    }

    /// A change to guest RAM: bytes at a guest-physical address.
    struct Patch {
        var gpa: UInt64
        var bytes: [UInt8]
    }

    /// The ring under attack.
    struct Ring {
        var size: Int
        var desc: UInt64
        var avail: UInt64
        var used: UInt64
        var usedIndex: UInt16

        var descBytes: Int { 16 * size }
        var availBytes: Int { 6 + 2 * size }

        /// Descriptor `index` as `addr`, `len`, `flags`, `next`.
        func descriptor(_ index: Int, addr: UInt64, len: UInt32, flags: UInt16, next: UInt16 = 0) -> Patch {
            var b: [UInt8] = []
            b += withUnsafeBytes(of: addr.littleEndian, Array.init)
            b += withUnsafeBytes(of: len.littleEndian, Array.init)
            b += withUnsafeBytes(of: flags.littleEndian, Array.init)
            b += withUnsafeBytes(of: next.littleEndian, Array.init)
            return Patch(gpa: desc + 16 * UInt64(index), bytes: b)
        }

        func availIndex(_ value: UInt16) -> Patch {
            Patch(gpa: avail + 2, bytes: withUnsafeBytes(of: value.littleEndian, Array.init))
        }

        func availEntry(position: UInt16, head: UInt16) -> Patch {
            Patch(gpa: avail + 4 + 2 * UInt64(Int(position) % size), bytes: withUnsafeBytes(of: head.littleEndian, Array.init))
        }

        /// Makes `head` the one chain in flight: the entry at `used.idx`, and `avail.idx = used.idx + 1`.
        func inFlight(_ head: UInt16) -> [Patch] {
            [availEntry(position: usedIndex, head: head), availIndex(usedIndex &+ 1)]
        }

        /// The last descriptor: the crafted head.
        var head: Int { size - 1 }
        /// Where crafted indirect tables live: entries `size - 8 ...` of the ring's own table.
        var table: Int { size - 8 }
        var tableAddress: UInt64 { desc + 16 * UInt64(table) }
        /// A harmless buffer: the ring's own descriptor table (guest RAM, 16 bytes).
        var buffer: UInt64 { desc }
    }

    static let next: UInt16 = 1, writeOnly: UInt16 = 2, indirect: UInt16 = 4

    /// One hostile ring: the patches that make it, the problem codes it must be named by (any of
    /// them), and a piece of a problem's message the inspector must show.
    struct Case {
        var name: String
        var codes: [String]
        var message: String
        var patches: @Sendable (Ring) -> [Patch]
    }

    static let cases: [Case] = [
        Case(name: "a NEXT loop", codes: ["loop"], message: "the chain loops") { r in
            [r.descriptor(r.head, addr: r.buffer, len: 16, flags: next, next: UInt16(r.head - 1)),
             r.descriptor(r.head - 1, addr: r.buffer, len: 16, flags: next, next: UInt16(r.head))] + r.inFlight(UInt16(r.head))
        },
        Case(name: "a descriptor linking to itself", codes: ["loop"], message: "the chain loops") { r in
            [r.descriptor(r.head, addr: r.buffer, len: 16, flags: next, next: UInt16(r.head))] + r.inFlight(UInt16(r.head))
        },
        Case(name: "NEXT out of range", codes: ["next_out_of_range"], message: "outside its table of") { r in
            [r.descriptor(r.head, addr: r.buffer, len: 16, flags: next, next: 0xfff0)] + r.inFlight(UInt16(r.head))
        },
        Case(name: "INDIRECT inside an indirect table", codes: ["nested_indirect"], message: "points at another indirect table") { r in
            [r.descriptor(r.head, addr: r.tableAddress, len: 32, flags: indirect),
             r.descriptor(r.table, addr: r.desc, len: 32, flags: indirect | next, next: 1),
             r.descriptor(r.table + 1, addr: r.buffer, len: 16, flags: 0)] + r.inFlight(UInt16(r.head))
        },
        Case(name: "an indirect table pointing at itself", codes: ["nested_indirect"], message: "points at another indirect table") { r in
            [r.descriptor(r.head, addr: r.tableAddress, len: 16, flags: indirect),
             r.descriptor(r.table, addr: r.tableAddress, len: 16, flags: indirect)] + r.inFlight(UInt16(r.head))
        },
        Case(name: "an indirect table looping through NEXT", codes: ["loop"], message: "the chain loops") { r in
            [r.descriptor(r.head, addr: r.tableAddress, len: 32, flags: indirect),
             r.descriptor(r.table, addr: r.buffer, len: 16, flags: next, next: 1),
             r.descriptor(r.table + 1, addr: r.buffer, len: 16, flags: next, next: 0)] + r.inFlight(UInt16(r.head))
        },
        Case(name: "INDIRECT with NEXT", codes: ["indirect_with_next"], message: "both INDIRECT and NEXT") { r in
            [r.descriptor(r.head, addr: r.tableAddress, len: 16, flags: indirect | next, next: UInt16(r.head - 1)),
             r.descriptor(r.table, addr: r.buffer, len: 16, flags: 0),
             r.descriptor(r.head - 1, addr: r.buffer, len: 16, flags: writeOnly)] + r.inFlight(UInt16(r.head))
        },
        Case(name: "an indirect length not a multiple of 16", codes: ["indirect_length"], message: "not a multiple of 16") { r in
            [r.descriptor(r.head, addr: r.tableAddress, len: 24, flags: indirect),
             r.descriptor(r.table, addr: r.buffer, len: 16, flags: 0)] + r.inFlight(UInt16(r.head))
        },
        Case(name: "a buffer far outside RAM", codes: ["address_unmapped"], message: "is not guest RAM") { r in
            [r.descriptor(r.head, addr: 0x7000_0000_0000, len: 512, flags: 0)] + r.inFlight(UInt16(r.head))
        },
        Case(name: "a 4 GiB length", codes: ["huge_length"], message: "too large to be a real buffer") { r in
            [r.descriptor(r.head, addr: r.buffer, len: 0xffff_ffff, flags: writeOnly)] + r.inFlight(UInt16(r.head))
        },
        Case(name: "the avail index jumping past the ring size", codes: ["avail_idx_jump"], message: "more than the queue size") { r in
            [r.availIndex(r.usedIndex &+ UInt16(r.size) &+ 5)]
        },
        Case(name: "an avail ring head out of range", codes: ["ring_entry_out_of_range"], message: "not below the queue size") { r in
            r.inFlight(UInt16(r.size + 7))
        },
    ]

    // MARK: The test

    func testEveryCommandNamesEachHostileRingAndTheGuestRecovers() throws {
        XCTAssertEqual(Set(Self.cases.flatMap(\.codes)).subtracting(RingProblem.allCodes), [], "a case expects a code vqscope does not have")
        let guest = try guest
        let devices = try QMPVirtioSource.devices(client: guest.harness)
        let queue = try XCTUnwrap(devices.flatMap(\.queues).first { $0.label == Self.queueLabel })
        XCTAssertEqual(queue.location.layout, .split)
        let writer = try GuestRAMWriter(guest)

        try guest.paused {
            let usedIndex = UInt16(littleEndian: try writer.read(queue.location.deviceArea.rawValue + 2, 2).withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) })
            let ring = Ring(size: Int(queue.location.size), desc: queue.location.descriptors.rawValue,
                            avail: queue.location.driverArea.rawValue, used: queue.location.deviceArea.rawValue, usedIndex: usedIndex)
            XCTAssertGreaterThanOrEqual(ring.size, 16)
            // The exact original bytes of both areas the cases write; put back whatever happens.
            let originalDesc = try writer.read(ring.desc, ring.descBytes)
            let originalAvail = try writer.read(ring.avail, ring.availBytes)
            let originalUsed = try writer.read(ring.used, 6 + 8 * ring.size)
            defer {
                do {
                    try writer.write(ring.desc, originalDesc)
                    try writer.write(ring.avail, originalAvail)
                } catch {
                    XCTFail("could not restore the ring: \(error)")
                }
            }
            // A sane start: the untouched ring has no problem.
            let clean = try dump(guest)
            XCTAssertEqual(clean.codes, [], "the untouched ring already has problems: \(clean.json.text.prefix(2000))")

            for c in Self.cases {
                do {
                    let patches = c.patches(ring)
                    // Originals of exactly the patched ranges, put back after the case.
                    let saved = try patches.map { Patch(gpa: $0.gpa, bytes: try writer.read($0.gpa, $0.bytes.count)) }
                    var restored = false
                    defer {
                        if !restored {
                            for p in saved.reversed() { try? writer.write(p.gpa, p.bytes) }
                        }
                    }
                    // A watch already running sees the ring turn hostile, and still ends cleanly.
                    let live = try runWhile(["watch", "--pid", String(guest.pid), "--qmp", guest.toolSocket,
                                             "--queue", Self.queueLabel, "--seconds", "3", "--json"], after: 1.5) {
                        for p in patches { try writer.write(p.gpa, p.bytes) }
                    }
                    XCTAssertEqual(live.status, 0, "\(c.name): watch across the change: \(live.stderr)")
                    let events = live.stdout.split(separator: "\n").map(String.init)
                    for line in events {
                        let e = try? JSON.parse(line)
                        XCTAssertNotNil(e, "\(c.name): watch printed '\(line)'")
                        XCTAssertTrue(["avail", "used", "lapped", "stall", "recover"].contains(e?["event"]?.string ?? ""), "\(c.name): \(line)")
                    }
                    print("hostile case '\(c.name)': watch across the change: \(events.map { $0.replacingOccurrences(of: #""time":[0-9.]+,"#, with: "", options: .regularExpression) })")
                    // What it saw (when it was reading before the change: its start is not synchronized):
                    // the crafted head made available at used.idx, or the avail ring lapped.
                    if let first = events.first.flatMap({ try? JSON.parse($0) }) {
                        if let entry = patches.first(where: { $0.gpa >= ring.avail + 4 && $0.gpa < ring.avail + 4 + 2 * UInt64(ring.size) }) {
                            XCTAssertEqual(first["event"]?.string, "avail", "\(c.name): \(first.text)")
                            XCTAssertEqual(first["idx"]?.uint64, UInt64(ring.usedIndex), "\(c.name): \(first.text)")
                            XCTAssertEqual(first["head"]?.uint64, UInt64(entry.bytes[0]) | UInt64(entry.bytes[1]) << 8, "\(c.name): \(first.text)")
                        } else {
                            XCTAssertEqual(first["event"]?.string, "lapped", "\(c.name): \(first.text)")
                        }
                    }
                    for p in patches {
                        XCTAssertEqual(try writer.read(p.gpa, p.bytes.count), p.bytes, "\(c.name): the patch did not land")
                    }

                    try checkCommands(guest, c)

                    for p in saved.reversed() { try writer.write(p.gpa, p.bytes) }
                    restored = true
                    // The restore, verified by re-reading both areas whole.
                    XCTAssertEqual(try writer.read(ring.desc, ring.descBytes), originalDesc, "\(c.name): descriptor table not restored")
                    XCTAssertEqual(try writer.read(ring.avail, ring.availBytes), originalAvail, "\(c.name): avail ring not restored")
                    XCTAssertEqual(try writer.read(ring.used, 6 + 8 * ring.size), originalUsed, "\(c.name): the used ring changed on a paused guest")
                } catch {
                    XCTFail("\(c.name): \(error)")
                }
            }

            // Back to the original ring: no problem left on the queue.
            let after = try dump(guest)
            XCTAssertEqual(after.codes, [], "problems after the restore: \(after.json.text.prefix(2000))")
            XCTAssertEqual(after.json["avail"]?["idx"]?.uint64, UInt64(originalAvail[2]) | UInt64(originalAvail[3]) << 8)
        }

        // The guest runs again and keeps using the queue: its indexes move.
        let availBefore = try writer.read(queue.location.driverArea.rawValue + 2, 2)
        let usedBefore = try writer.read(queue.location.deviceArea.rawValue + 2, 2)
        let deadline = Date().addingTimeInterval(90)
        var moved = false
        while Date() < deadline && !moved {
            Thread.sleep(forTimeInterval: 0.2)
            moved = try writer.read(queue.location.driverArea.rawValue + 2, 2) != availBefore
                && writer.read(queue.location.deviceArea.rawValue + 2, 2) != usedBefore
        }
        XCTAssertTrue(moved, "\(Self.queueLabel)'s indexes did not move after cont")
        XCTAssertEqual(try guest.harness.execute("query-status")["status"]?.string, "running")
        let final = try dump(guest)
        XCTAssertTrue(final.status == 0 || final.status == 1, "dump after cont: \(final.status)")
    }

    // MARK: Commands against one hostile ring

    struct Dump {
        var status: Int32
        var json: JSON
        var codes: Set<String>
    }

    /// `vqscope dump --json` of the queue: status, output and every problem code (ring and chains).
    func dump(_ guest: BenchGuest, timeout: TimeInterval = 60) throws -> Dump {
        let started = Date()
        let r = try Tool.run(["dump", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", Self.queueLabel, "--json"],
                             timeout: timeout)
        XCTAssertLessThan(Date().timeIntervalSince(started), timeout)
        let json: JSON
        do { json = try JSON.parse(r.stdout) } catch {
            throw BenchError("dump printed no JSON (status \(r.status)): \(r.stdout.prefix(500)) \(r.stderr)")
        }
        var codes = Set((json["problems"]?.array ?? []).compactMap { $0["code"]?.string })
        for f in json["inflight"]?.array ?? [] {
            codes.formUnion((f["problems"]?.array ?? []).compactMap { $0["code"]?.string })
        }
        return Dump(status: r.status, json: json, codes: codes)
    }

    /// Runs vqscope like ``Tool/run``, doing `action` `after` seconds into the run.
    func runWhile(_ arguments: [String], after delay: TimeInterval, timeout: TimeInterval = 60,
                  _ action: () throws -> Void) throws -> Tool.Result {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vqscope-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = Tool.executable
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        Thread.sleep(forTimeInterval: delay)
        try action()
        while process.isRunning {
            if Date() > deadline { throw BenchError("vqscope \(arguments.joined(separator: " ")) did not finish in \(timeout) s") }
            Thread.sleep(forTimeInterval: 0.01)
        }
        process.waitUntilExit()
        return Tool.Result(status: process.terminationStatus,
                           stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                           stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    func checkCommands(_ guest: BenchGuest, _ c: Case) throws {
        let target = ["--pid", String(guest.pid), "--qmp", guest.toolSocket, "--queue", Self.queueLabel]

        // dump: exits 0 or 1, within the bound, and names the problem.
        let d = try dump(guest)
        XCTAssertTrue(d.status == 0 || d.status == 1, "\(c.name): dump exited \(d.status)")
        XCTAssertFalse(d.codes.isDisjoint(with: c.codes), "\(c.name): dump named \(d.codes.sorted()), not \(c.codes): \(d.json.text.prefix(3000))")
        XCTAssertTrue(d.codes.isSubset(of: RingProblem.allCodes), "\(c.name): unknown codes \(d.codes.sorted())")

        // diagnose: broken, or the problem named; does not hang.
        let diagnose = try Tool.run(["diagnose"] + target + ["--seconds", "0.5", "--no-history", "--json"], timeout: 60)
        XCTAssertTrue(diagnose.status == 0 || diagnose.status == 1, "\(c.name): diagnose exited \(diagnose.status): \(diagnose.stderr)")
        let report = try JSON.parse(diagnose.stdout)
        let row = try XCTUnwrap(report["queues"]?.array?.first, "\(c.name): \(diagnose.stdout.prefix(500))")
        let diagnosed = Set((row["problems"]?.array ?? []).compactMap { $0["code"]?.string })
        XCTAssertTrue(row["health"]?.string == "broken" || !diagnosed.isDisjoint(with: c.codes),
                      "\(c.name): diagnose says \(row["health"]?.string ?? "nil"), problems \(diagnosed.sorted()): \(row.text.prefix(2000))")

        // watch: ends by itself after --seconds, every line JSON.
        let watchStarted = Date()
        let watch = try Tool.run(["watch"] + target + ["--seconds", "1", "--json"], timeout: 60)
        XCTAssertEqual(watch.status, 0, "\(c.name): watch: \(watch.stderr)")
        XCTAssertLessThan(Date().timeIntervalSince(watchStarted), 30, "\(c.name): watch --seconds 1 took too long")
        for line in watch.stdout.split(separator: "\n") {
            XCTAssertNoThrow(try JSON.parse(String(line)), "\(c.name): watch printed '\(line)'")
        }

        // capture: records what is in flight, ends after --seconds, every line JSON.
        let capture = try Tool.run(["capture", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--device", "virtio-blk",
                                    "-w", "-", "--seconds", "1"], timeout: 60)
        XCTAssertEqual(capture.status, 0, "\(c.name): capture: \(capture.stderr)")
        for line in capture.stdout.split(separator: "\n") {
            XCTAssertNoThrow(try JSON.parse(String(line)), "\(c.name): capture printed '\(line)'")
        }

        print("hostile case '\(c.name)': dump status \(d.status) codes \(d.codes.sorted()); diagnose \(row["health"]?.string ?? "nil") \(diagnosed.sorted()); watch \(watch.stdout.split(separator: "\n").count) lines")

        // The inspector: the queue selected, its problem marked in the views, and q quits.
        try checkInspector(guest, c)
    }

    func checkInspector(_ guest: BenchGuest, _ c: Case) throws {
        let session = try TmuxSession(["--pid", String(guest.pid), "--qmp", guest.toolSocket], width: 200, height: 50)
        try session.wait(for: "the queue list", timeout: 60) { DemoInspectorTests.queueRow($0, Self.queueLabel) != nil }
        for _ in 0..<16 where !(try session.screen().contains("┌ \(Self.queueLabel)")) {
            try session.send("]")
            Thread.sleep(forTimeInterval: 0.3)
        }
        try session.wait(for: "\(Self.queueLabel) selected") { $0.contains("┌ \(Self.queueLabel)") }
        var screens = [try session.wait(for: "a problem mark", timeout: 30) { $0.contains("✗") }]
        for _ in 0..<6 {
            try session.send("Tab")
            Thread.sleep(forTimeInterval: 0.4)
            screens.append(try session.screen())
            XCTAssertNil(try session.exitStatus(), "\(c.name): the inspector exited on Tab:\n\(screens.last!)")
        }
        XCTAssertTrue(screens.contains { $0.contains(c.message) },
                      "\(c.name): no view showed '\(c.message)':\n\(screens.joined(separator: "\n-----\n"))")
        try session.send("q")
        let status = try session.waitForExit(timeout: 30)
        XCTAssertEqual(status, 0, "\(c.name): the inspector did not quit cleanly:\n\((try? session.screen()) ?? "")")
    }
}
