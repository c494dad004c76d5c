import Foundation
import VQCore
import XCTest

/// `vqscope capture` against QEMU's own record of the traffic: the bench guest's netdev carries
/// QEMU's `filter-dump`, which writes every frame that crosses it (both ways) to a pcap file.
/// Every frame vqscope writes must be, byte for byte, a frame of QEMU's dump; of QEMU's frames
/// in the capture window (the dump's growth between vqscope's start line and the stop), at least
/// 95% must be in vqscope's file; tshark must read the file and show the guest's pings.
class CaptureTestCase: GuestTestCase {
    /// QEMU's dump of the guest's netdev n0 (run-guest.sh's user networking).
    class var dumpPath: String { NSTemporaryDirectory() + "vqscope-filter-dump-\(tag ?? "capture")-\(getpid()).pcap" }
    override class var extraArguments: [String] { ["-object filter-dump,id=f0,netdev=n0,file=\(dumpPath)"] }

    override class func setUp() {
        try? FileManager.default.removeItem(atPath: dumpPath)
        super.setUp()
    }

    override class func tearDown() {
        super.tearDown()
        try? FileManager.default.removeItem(atPath: dumpPath)
    }

    /// The bench guest's MAC (QEMU's default for the first NIC).
    static let guestMAC: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
    /// Seconds of traffic compared (the guest pings twice a second).
    static let window: TimeInterval = 10

    /// A vqscope run in the background, its standard error in a file.
    struct Background {
        let process: Process
        let stderr: URL

        var errorText: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }

        /// Waits until standard error says `text` (the run's start line).
        func wait(for text: String, patience: TimeInterval = 90) throws {
            let deadline = Date().addingTimeInterval(patience)
            while !errorText.contains(text) {
                guard process.isRunning else { throw BenchError("vqscope exited (\(process.terminationStatus)) before saying '\(text)': \(errorText)") }
                guard Date() < deadline else { process.terminate(); throw BenchError("vqscope did not say '\(text)' in \(patience) s: \(errorText)") }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        /// Ctrl-C, then its exit status.
        func interrupt(patience: TimeInterval = 60) throws -> Int32 {
            process.interrupt()
            let deadline = Date().addingTimeInterval(patience)
            while process.isRunning {
                guard Date() < deadline else { process.terminate(); throw BenchError("vqscope did not stop on SIGINT in \(patience) s") }
                Thread.sleep(forTimeInterval: 0.02)
            }
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    func start(_ arguments: [String], in directory: URL) throws -> Background {
        let err = directory.appendingPathComponent("capture-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let p = Process()
        p.executableURL = Tool.executable
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        return Background(process: p, stderr: err)
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Captures `window` seconds of the guest's frames twice at once, through QMP and through a
    /// RAM scan (`--no-qmp`), and checks both files against QEMU's dump.
    func checkFramesAgainstQEMU(layout: String) throws {
        let guest = try guest
        let pid = String(guest.pid)
        let outputs = [guest.directory.appendingPathComponent("capture.pcapng"), guest.directory.appendingPathComponent("capture-scan.pcapng")]
        var runs: [Background] = []
        defer { for r in runs where r.process.isRunning { r.process.terminate() } }
        runs.append(try start(["capture", "--pid", pid, "--qmp", guest.toolSocket, "--events", "poll", "-w", outputs[0].path], in: guest.directory))
        if layout == "split" { // a RAM scan finds split rings only
            runs.append(try start(["capture", "--pid", pid, "--no-qmp", "--events", "poll", "-w", outputs[1].path], in: guest.directory))
        }
        for r in runs { try r.wait(for: "capturing frames") }
        let from = Self.fileSize(Self.dumpPath)
        Thread.sleep(forTimeInterval: Self.window)
        let to = Self.fileSize(Self.dumpPath)
        for r in runs {
            XCTAssertEqual(try r.interrupt(), 0, r.errorText)
            XCTAssertTrue(r.errorText.contains("frames captured"), r.errorText)
            XCTAssertTrue(r.errorText.contains("missed"), r.errorText)
        }
        let qemu = try CaptureFiles.pcap(Array(try Data(contentsOf: URL(fileURLWithPath: Self.dumpPath))))
        let inWindow = qemu.filter { $0.start >= from && $0.end <= to }
        XCTAssertGreaterThanOrEqual(inWindow.count, Int(Self.window) * 2,
                                    "QEMU saw pings both ways (two a second) during the window: \(inWindow.count) frames")
        for (k, r) in runs.enumerated() {
            try check(outputs[k], run: r, against: qemu, window: inWindow, what: k == 0 ? "\(layout), QMP" : "\(layout), RAM scan")
        }
    }

    /// One capture file against QEMU's dump: how many of the window's frames it holds, of how many.
    @discardableResult
    func check(_ output: URL, run: Background, against qemu: [FileFrame], window inWindow: [FileFrame], what: String,
               atLeast: Double = 0.95) throws -> (found: Int, of: Int) {
        let ours = try CaptureFiles.pcapng(Array(try Data(contentsOf: output)))
        XCTAssertEqual(ours.interfaces, 1, "\(what): one interface, the one virtio-net device")
        XCTAssertNotNil(ours.dropped[0], "\(what): the interface statistics block gives the frames missed")

        // Every frame vqscope wrote is one QEMU carried, and goes the way it says.
        let qemuFrames = Set(qemu.map(\.bytes))
        for f in ours.frames {
            XCTAssertTrue(qemuFrames.contains(f.bytes), "\(what): vqscope wrote a frame QEMU never carried (\(f.bytes.count) bytes, \(f.comment ?? "")): \(f.bytes.prefix(64).map { String($0, radix: 16) }.joined(separator: " "))")
            let fromGuest = f.bytes.count >= 12 && Array(f.bytes[6..<12]) == Self.guestMAC
            XCTAssertEqual(f.direction, fromGuest ? 2 : 1, "\(what): direction of \(f.comment ?? "")")
            XCTAssertTrue(f.comment?.hasPrefix(fromGuest ? "virtio-net tx queue 1" : "virtio-net rx queue 0") ?? false, "\(what): \(f.comment ?? "no comment")")
            XCTAssertTrue(f.comment?.contains("num_buffers") ?? false, f.comment ?? "no comment")
        }

        // At least 95% of what QEMU carried in the window is in vqscope's file.
        var left: [[UInt8]: Int] = [:]
        for f in ours.frames { left[f.bytes, default: 0] += 1 }
        var found = 0
        for f in inWindow where (left[f.bytes] ?? 0) > 0 {
            left[f.bytes]! -= 1
            found += 1
        }
        let share = Double(found) / Double(max(inWindow.count, 1))
        print("CaptureGuestTests (\(what)): QEMU carried \(inWindow.count) frames in \(Self.window) s; vqscope wrote \(ours.frames.count), \(found) of QEMU's (\(Int(share * 1000)) per mille); \(run.errorText.split(separator: "\n").suffix(2).joined(separator: "; "))")
        XCTAssertGreaterThanOrEqual(share, atLeast, "\(what): vqscope's file holds \(found) of the \(inWindow.count) frames QEMU carried in the window")

        // Wireshark's reader takes the file and sees the guest's pings both ways.
        let tshark = try Self.tshark(["-r", output.path, "-Y", "icmp"])
        XCTAssertTrue(tshark.contains("10.0.2.15 → 10.0.2.2") && tshark.contains("Echo (ping) request"), "\(what): \(tshark)")
        XCTAssertTrue(tshark.contains("10.0.2.2 → 10.0.2.15") && tshark.contains("Echo (ping) reply"), "\(what): \(tshark)")
        return (found, inWindow.count)
    }

    /// tshark's output (Debian's tshark; the test command installs it).
    static func tshark(_ arguments: [String]) throws -> String {
        guard let path = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BenchError("tshark is not installed (apt-get install tshark; scripts/test.sh installs it)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("tshark \(arguments.joined(separator: " ")) failed (\(p.terminationStatus))") }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Split rings (the basic bench guest with QEMU's dump on its netdev).
final class CaptureGuestTests: CaptureTestCase {
    override class var tag: String? { "capture" }

    func testFramesEqualQEMUsOwnDump() throws {
        try checkFramesAgainstQEMU(layout: "split")
    }

    /// The guest reads one sector of its disk four times a second, each 97 sectors after the
    /// last (modulo the disk), through its page cache: QEMU sees 4 KiB reads of the pages that
    /// hold them. The trace must show those reads, as many as QEMU counted (the ones it could not
    /// read soundly counted as missed), with sectors that follow the guest's stride.
    func testBlockTraceFollowsTheGuestsReads() throws {
        let guest = try guest
        let sectors = UInt64(Self.fileSize(BenchGuest.benchDirectory + "/disk.img") / 512)
        XCTAssertGreaterThan(sectors, 0)
        let output = guest.directory.appendingPathComponent("trace.jsonl")
        // The shortest poll interval: QEMU completes these reads within a fraction of a millisecond,
        // faster still on an idle host, and Linux frees each request's indirect table at once.
        let run = try start(["capture", "--pid", String(guest.pid), "--qmp", guest.toolSocket, "--device", "virtio-blk", "--interval", "0.05", "-w", output.path],
                            in: guest.directory)
        defer { if run.process.isRunning { run.process.terminate() } }
        try run.wait(for: "capturing requests")
        let before = try readOperations(guest)
        Thread.sleep(forTimeInterval: 8)
        let after = try readOperations(guest)
        XCTAssertEqual(try run.interrupt(), 0, run.errorText)

        let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map { try JSON.parse(String($0)) }
        let done = lines.filter { $0["completed"] != .null }
        XCTAssertLessThanOrEqual(lines.count - done.count, 1, "at most the read in flight at the stop is pending")
        let summary = run.errorText.split(separator: "\n").suffix(2).joined(separator: "; ")
        let missed = Int(summary.split(separator: ";").dropFirst().first?.split(separator: " ").first ?? "") ?? -1
        XCTAssertGreaterThanOrEqual(missed, 0, "the summary says how many were missed: \(summary)")
        var last: UInt64?
        var skipped = 0
        for r in done.sorted(by: { Self.seconds($0["submitted"]) < Self.seconds($1["submitted"]) }) {
            XCTAssertEqual(r["type"]?.string, "read", r.text)
            XCTAssertEqual(r["status"]?.string, "ok", r.text)
            XCTAssertEqual(r["queue"]?.string, "virtio-blk:0", r.text)
            let length = try XCTUnwrap(r["length"]?.uint64)
            XCTAssertTrue(length > 0 && length % 512 == 0, r.text)
            let submitted = Self.seconds(r["submitted"]), completed = Self.seconds(r["completed"])
            XCTAssertLessThanOrEqual(submitted, completed, r.text)
            XCTAssertEqual(Double(try XCTUnwrap(r["latency_us"]?.int)), (completed - submitted) * 1e6, accuracy: 2, r.text)
            let sector = try XCTUnwrap(r["sector"]?.uint64)
            XCTAssertLessThan(sector, sectors, r.text)
            if let last {
                // m strides on, within the 4 KiB page: the m - 1 reads between were ones vqscope
                // counted as missed, so all the gaps together take no more than that count.
                let step = (sector + sectors - last) % sectors
                let strides = (1...max(missed + 1, 1)).first { m in (UInt64(m) * 97 - 7...UInt64(m) * 97 + 7).contains(step) }
                XCTAssertNotNil(strides, "each read is a multiple of 97 sectors after the one before (\(step) here): \(r.text)")
                skipped += (strides ?? 1) - 1
            }
            last = sector
        }
        XCTAssertLessThanOrEqual(skipped, missed, "the reads between traced ones are all among those counted missed")
        let counted = after - before
        print("CaptureGuestTests: QEMU counted \(counted) reads in 8 s; vqscope traced \(done.count); \(summary)")
        XCTAssertGreaterThanOrEqual(counted, 16, "the guest reads four times a second")
        XCTAssertGreaterThanOrEqual(done.count + missed, counted - 1, "every read QEMU completed in the window is traced or counted missed")
        XCTAssertGreaterThanOrEqual(done.count * 2, counted, "most reads are traced")
        XCTAssertLessThanOrEqual(done.count, counted + 4, "and not many more (the trace runs a little longer than the window)")
    }

    /// Bad input: one line, non-zero, nothing written.
    func testRefusalsWriteNothing() throws {
        let guest = try guest
        let output = guest.directory.appendingPathComponent("refused.pcapng").path
        let pid = String(guest.pid)
        for (arguments, expected) in [
            (["--pid", pid, "--qmp", guest.toolSocket, "-w", output, "--device", "virtio-rng"], "neither frames nor block requests"),
            (["--pid", pid, "--qmp", guest.toolSocket, "-w", output, "--device", "no-such"], "no virtio device 'no-such'"),
            (["--pid", pid, "--no-qmp", "-w", output, "--device", "virtio-rng"], "no virtio device 'virtio-rng'"),
            (["--pid", "999999999", "-w", output], "999999999"),
            (["--pid", pid, "--qmp", guest.toolSocket, "-w", "/nonexistent-dir/x.pcapng"], "cannot write /nonexistent-dir/x.pcapng"),
        ] {
            let r = try Tool.run(["capture"] + arguments)
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(expected), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), "nothing is written for \(arguments)")
        }
    }

    /// A JSON number of seconds.
    static func seconds(_ value: JSON?) -> Double {
        switch value {
        case .double(let d)?: return d
        case .int(let i)?: return Double(i)
        case .uint(let u)?: return Double(u)
        default: return .nan
        }
    }

    /// QEMU's count of completed reads of the guest's disk.
    func readOperations(_ guest: BenchGuest) throws -> Int {
        let stats = try guest.harness.execute("query-blockstats")
        for entry in stats.array ?? [] where entry["device"]?.string == "d0" || entry["qdev"]?.string?.contains("virtio") == true {
            if let n = entry["stats"]?["rd_operations"]?.int { return n }
        }
        throw BenchError("query-blockstats has no rd_operations for d0: \(stats.text.prefix(400))")
    }
}

/// Packed rings (virtio-net with packed=on), mergeable receive buffers as Linux negotiates them.
final class PackedCaptureGuestTests: CaptureTestCase {
    override class var tag: String? { "capture-packed" }
    override class var packed: Bool { true }

    func testFramesEqualQEMUsOwnDump() throws {
        try checkFramesAgainstQEMU(layout: "packed")
    }
}
