import Foundation
import VQCore
import XCTest

/// vqscope's promise that it never writes the guest and never ptrace-attaches QEMU, checked on a
/// paused basic bench guest: all of guest RAM read independently (QEMU's `gpa2hva` for the host
/// address, `/proc/PID/mem` for the bytes) before and after every command and the inspector, byte
/// for byte; QEMU's TracerPid sampled all along; the VM still paused at the end.
final class ReadOnlyGuaranteeTests: GuestTestCase {
    override class var variant: BenchGuest.Variant { .basic }

    static let ramSize: UInt64 = 256 << 20

    /// The host-virtual address of guest RAM (GPA 0 up to 256 MiB), from QEMU itself, checked to be
    /// one contiguous block (pc.ram) at a few points.
    func ramBase(_ guest: BenchGuest) throws -> UInt64 {
        let base = try XCTUnwrap(try guest.gpa2hva(0), "QEMU gives no host address for GPA 0")
        for gpa: UInt64 in [0x1000, 0x100000, 0x4000000, Self.ramSize - 0x1000] {
            XCTAssertEqual(try guest.gpa2hva(gpa), base + gpa, "pc.ram is not contiguous at \(Hex.string(gpa))")
        }
        XCTAssertNil(try guest.gpa2hva(Self.ramSize), "RAM goes past 256 MiB")
        return base
    }

    /// All guest RAM, read through /proc/PID/mem (not vqscope's code), 16 MiB at a time.
    func readRAM(pid: Int32, base: UInt64) throws -> Data {
        let fd = open("/proc/\(pid)/mem", O_RDONLY)
        guard fd >= 0 else { throw BenchError("cannot open /proc/\(pid)/mem: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var data = Data(count: Int(Self.ramSize))
        let chunk = 16 << 20
        try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            var done = 0
            while done < buffer.count {
                let n = pread(fd, buffer.baseAddress! + done, min(chunk, buffer.count - done), off_t(base) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw BenchError("reading /proc/\(pid)/mem at \(Hex.string(base + UInt64(done))) failed: \(n < 0 ? String(cString: strerror(errno)) : "end of file")")
                }
                done += n
            }
        }
        return data
    }

    /// The guest-physical pages whose bytes differ (at most `limit`), for a readable failure.
    func differingPages(_ a: Data, _ b: Data, limit: Int = 10) -> [String] {
        var pages: [String] = []
        a.withUnsafeBytes { (x: UnsafeRawBufferPointer) in
            b.withUnsafeBytes { (y: UnsafeRawBufferPointer) in
                var page = 0
                while page < min(x.count, y.count) && pages.count < limit {
                    if memcmp(x.baseAddress! + page, y.baseAddress! + page, 4096) != 0 { pages.append(Hex.string(UInt64(page))) }
                    page += 4096
                }
            }
        }
        return pages
    }

    /// QEMU's TracerPid, from /proc/PID/status.
    static func tracerPID(_ pid: Int32) -> Int32? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("TracerPid:") {
            return Int32(line.dropFirst("TracerPid:".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Samples QEMU's TracerPid every few milliseconds on its own thread until stopped.
    final class TracerSampler: @unchecked Sendable {
        let pid: Int32
        private let lock = NSLock()
        private var running = true
        private var samples = 0
        private var traced: [Int32] = []
        private let done = DispatchSemaphore(value: 0)

        init(pid: Int32) {
            self.pid = pid
            Thread.detachNewThread { [self] in
                while lock.withLock({ running }) {
                    let tracer = ReadOnlyGuaranteeTests.tracerPID(pid)
                    lock.withLock {
                        samples += 1
                        if let tracer, tracer != 0 { traced.append(tracer) }
                        if tracer == nil { traced.append(-1) }
                    }
                    usleep(2_000)
                }
                done.signal()
            }
        }

        /// Stops and returns how many samples were taken, and the non-zero tracers seen (-1: unreadable).
        func stop() -> (samples: Int, traced: [Int32]) {
            lock.withLock { running = false }
            done.wait()
            return lock.withLock { (samples, traced) }
        }

        var sampleCount: Int { lock.withLock { samples } }
    }

    func testNoCommandChangesGuestRAMOrTracesQEMU() throws {
        let guest = try guest
        let pid = guest.pid
        let p = String(pid)
        let qmp = ["--qmp", guest.toolSocket]
        XCTAssertEqual(Self.tracerPID(pid), 0, "QEMU is traced before vqscope ran")

        try guest.harness.execute("stop")
        defer { _ = try? guest.harness.execute("cont") }
        XCTAssertEqual(try guest.harness.execute("query-status")["status"]?.string, "paused")

        let base = try ramBase(guest)
        var clock = Date()
        let before = try readRAM(pid: pid, base: base)
        // The baseline must be steady: a paused guest's RAM does not change by itself.
        let again = try readRAM(pid: pid, base: base)
        XCTAssertTrue(before == again, "guest RAM changed while paused, with no vqscope run; pages \(differingPages(before, again))")
        print("ReadOnlyGuaranteeTests: two reads of 256 MiB of guest RAM took \(String(format: "%.2f", Date().timeIntervalSince(clock))) s")

        // Every command, with QEMU's TracerPid sampled the whole time.
        let sampler = TracerSampler(pid: pid)
        clock = Date()
        var ran: [String] = []
        func check(_ arguments: [String], input: Data? = nil, allowed: Set<Int32> = [0], timeout: TimeInterval = 180) throws -> Tool.Result {
            let r = try Tool.run(arguments, input: input, timeout: timeout)
            ran.append(arguments.prefix(2).joined(separator: " "))
            XCTAssertFalse(r.signaled, "vqscope \(arguments.joined(separator: " ")) was killed by signal \(r.status)")
            XCTAssertTrue(allowed.contains(r.status), "vqscope \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)")
            XCTAssertFalse(r.stdout.isEmpty && r.status == 0, "vqscope \(arguments.joined(separator: " ")) printed nothing")
            return r
        }
        _ = try check(["list"])
        _ = try check(["slots", "--pid", p] + qmp)
        _ = try check(["slots", "--pid", p, "--slots", "maps", "--no-qmp"])
        _ = try check(["slots", "--pid", p, "--slots", "kvm", "--no-qmp"], allowed: [0, 2])  // TCG: no KVM slots
        _ = try check(["translate", "--pid", p] + qmp + ["0x0", "0x1000", "0x100000", "0xffff000", "0xfebf8000"], allowed: [1])
        _ = try check(["translate", "--pid", p, "--hpa"] + qmp + ["0x1000", "0x100000", "0x4000000"])
        let lines = stride(from: UInt64(0), to: Self.ramSize, by: 4096).map { Hex.string($0) }.joined(separator: "\n") + "\n"
        let bulk = try check(["translate", "--pid", p] + qmp, input: Data(lines.utf8))
        XCTAssertEqual(bulk.stdout.split(separator: "\n").count, Int(Self.ramSize / 4096), "one line per address on stdin")
        _ = try check(["translate", "--pid", p, "--hpa", "--no-qmp"], input: Data("0x1000\n0x200000\n".utf8))
        _ = try check(["hexdump", "--pid", p] + qmp + ["0xffff0", "32"])
        _ = try check(["hexdump", "--pid", p, "--no-qmp", "0x100000", "65536"])
        let listed = try Tool.json(["queues", "--pid", p] + qmp)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        _ = try check(["queues", "--pid", p] + qmp)
        _ = try check(["queues", "--pid", p, "--no-qmp"])
        let rows = try XCTUnwrap(listed.json["queues"]?.array)
        XCTAssertGreaterThanOrEqual(rows.count, 8, "the bench's queues")
        for row in rows {
            let path = try XCTUnwrap(row["path"]?.string), index = try XCTUnwrap(row["index"]?.int)
            let r = try check(["dump", "--pid", p] + qmp + ["--queue", "\(path):\(index)"])
            XCTAssertFalse(r.stdout.isEmpty, "dump of \(path):\(index) printed nothing")
            _ = try check(["dump", "--pid", p] + qmp + ["--queue", "\(path):\(index)", "--json"])
        }
        _ = try check(["watch", "--pid", p] + qmp + ["--seconds", "1"])
        _ = try check(["watch", "--pid", p, "--no-qmp", "--seconds", "1"])
        let pcap = try check(["capture", "--pid", p] + qmp + ["-w", "-", "--seconds", "1"])
        XCTAssertTrue(pcap.stderr.contains("frames captured"), pcap.stderr)
        let trace = try Tool.run(["capture", "--pid", p] + qmp + ["--device", "virtio-blk", "-w", "-", "--seconds", "1"])
        ran.append("capture blk")
        XCTAssertEqual(trace.status, 0, trace.stderr)
        _ = try check(["scan", "--pid", p] + qmp)
        _ = try check(["scan", "--pid", p, "--no-qmp"])
        _ = try check(["diagnose", "--pid", p] + qmp + ["--seconds", "1", "--no-history"])
        _ = try check(["diagnose", "--pid", p, "--no-qmp", "--seconds", "1", "--no-history"])
        print("ReadOnlyGuaranteeTests: \(ran.count) commands took \(String(format: "%.1f", Date().timeIntervalSince(clock))) s")

        // The inspector, a few seconds with a few keys (not s or c: they run the VM).
        clock = Date()
        let session = try TmuxSession(["--pid", p] + qmp, width: 120, height: 40)
        try session.wait(for: "the bench's queues", timeout: 60) { screen in
            DemoInspectorTests.queueRow(screen, "virtio-blk:0") != nil && screen.contains("PAUSED")
        }
        let inspectorSamples = sampler.sampleCount
        for keys in [["Tab"], ["Enter"], ["Tab"], ["Enter"], ["BSpace"], ["]"], ["Enter"], ["x"], ["g"]] {
            try session.send(keys[0])
            Thread.sleep(forTimeInterval: 0.4)
        }
        try session.type("0x1000")
        try session.send("Enter")
        try session.wait(for: "the hexdump at 0x1000", timeout: 30) { $0.contains("0x1000") || $0.contains("00001000") }
        Thread.sleep(forTimeInterval: 3)
        XCTAssertNil(try session.exitStatus(), "the inspector exited early:\n\((try? session.screen()) ?? "")")
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(timeout: 30), 0)
        XCTAssertGreaterThan(sampler.sampleCount - inspectorSamples, 50, "TracerPid was hardly sampled under the inspector")
        print("ReadOnlyGuaranteeTests: the inspector ran \(String(format: "%.1f", Date().timeIntervalSince(clock))) s")

        let sampled = sampler.stop()
        XCTAssertGreaterThan(sampled.samples, 100)
        XCTAssertEqual(sampled.traced, [], "QEMU's TracerPid was not 0 in \(sampled.traced.count) of \(sampled.samples) samples: \(Set(sampled.traced))")
        XCTAssertEqual(Self.tracerPID(pid), 0)

        // Still paused, and not a byte changed.
        let status = try guest.harness.execute("query-status")
        XCTAssertEqual(status["status"]?.string, "paused", "\(status)")
        XCTAssertEqual(status["running"]?.bool, false, "\(status)")
        let after = try readRAM(pid: pid, base: base)
        XCTAssertTrue(before == after, "guest RAM changed under vqscope; pages \(differingPages(before, after))")
    }
}
