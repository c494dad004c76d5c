import Foundation
import VQCore
import XCTest

/// The bench guest as a transient libvirt domain (TCG, virtio-blk, packed virtio-net, virtio-rng,
/// virtio-serial): libvirt holds QEMU's only monitor and writes its command line in JSON syntax.
/// vqscope finds the domain, talks QMP through libvirt's pass-through, and without QMP builds the
/// slot map from the JSON command line. The test command starts virtlogd and libvirtd.
final class LibvirtGuestTests: XCTestCase {
    /// The domain of the class, booted once.
    final class Domain: @unchecked Sendable {
        let name = "vqscope-test-libvirt-\(getpid())"
        let directory: URL
        let pid: Int32
        /// The harness's own route to QEMU (libvirt's pass-through, any command).
        let harness: QMPClient

        init() throws {
            try BenchGuest.buildBench()
            directory = URL(fileURLWithPath: "/tmp/vqscope-libvirt-\(getpid())")
            try? FileManager.default.removeItem(at: directory)
            let bench = directory.appendingPathComponent("bench")
            try FileManager.default.createDirectory(at: bench, withIntermediateDirectories: true)
            // libvirt runs QEMU as its own user: the files must be reachable without /root.
            chmod(directory.path, 0o755)
            chmod(bench.path, 0o755)
            for file in ["vmlinuz", "initramfs.gz", "disk.img"] {
                let source = BenchGuest.benchDirectory + "/" + file, target = bench.appendingPathComponent(file).path
                if link(source, target) != 0 { try FileManager.default.copyItem(atPath: source, toPath: target) }
            }
            let serial = directory.appendingPathComponent("serial.log").path
            let xml = try Self.run([BenchGuest.packageRoot.appendingPathComponent("Samples/bench/libvirt-domain.sh").path,
                                    "--name", name, "--dir", bench.path, "--serial", serial])
            let xmlPath = directory.appendingPathComponent("domain.xml").path
            try xml.write(toFile: xmlPath, atomically: true, encoding: .utf8)
            _ = try Self.run(["virsh", "create", xmlPath])
            let deadline = Date().addingTimeInterval(BenchGuest.bootTimeout)
            while true {
                let text = (try? String(contentsOfFile: serial, encoding: .isoLatin1)) ?? ""
                if text.contains("VQSCOPE-READY") { break }
                if text.contains("VQSCOPE-ERROR") || Date() > deadline {
                    _ = try? Self.run(["virsh", "destroy", name])
                    throw BenchError("libvirt domain \(name) did not become ready: \(text.suffix(1500))")
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
            let wanted = name
            guard let process = QEMUProcess.all().first(where: { $0.libvirtDomain?.name == wanted }) else {
                throw BenchError("no QEMU process for domain \(wanted)")
            }
            pid = process.pid
            harness = try QMPClient(libvirtDomain: name, timeoutMilliseconds: 30_000, policy: .unrestricted)
        }

        func shutdown() {
            _ = try? Domain.run(["virsh", "destroy", name])
            try? FileManager.default.removeItem(at: directory)
        }

        /// Runs a helper and returns what it printed; throws on a non-zero exit.
        static func run(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let output = out.fileHandleForReading.readDataToEndOfFile(), errors = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw BenchError("\(arguments.joined(separator: " ")): \(String(decoding: errors, as: UTF8.self))")
            }
            return String(decoding: output, as: UTF8.self)
        }

        /// QEMU's own gpa2hva, through libvirt.
        func gpa2hva(_ gpa: UInt64) throws -> UInt64? {
            QMPSlotSource.parseHostAddress(try harness.humanMonitorCommand("gpa2hva \(Hex.string(gpa))"))
        }

        func bytes(at gpa: UInt64, count: Int) throws -> [UInt8] {
            guard let hva = try gpa2hva(gpa) else { throw BenchError("QEMU: no hva for \(Hex.string(gpa))") }
            let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/mem"))
            defer { try? mem.close() }
            try mem.seek(toOffset: hva)
            return [UInt8](try mem.read(upToCount: count) ?? Data())
        }
    }

    nonisolated(unsafe) static var booted: Result<Domain, Error>?

    override class func setUp() {
        super.setUp()
        booted = Result { try Domain() }
    }

    override class func tearDown() {
        (try? booted?.get())?.shutdown()
        booted = nil
        super.tearDown()
    }

    var domain: Domain {
        get throws { try XCTUnwrap(Self.booted).get() }
    }

    func testListNamesTheDomainAndTheLibvirtRoute() throws {
        let domain = try domain
        let r = try Tool.json(["list"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let entry = try XCTUnwrap(r.json["processes"]?.array?.first { $0["pid"]?.int == Int(domain.pid) })
        XCTAssertEqual(entry["libvirt"]?["domain"]?.string, domain.name)
        XCTAssertEqual(entry["qmp_access"]?.string, "libvirt")
    }

    /// Every queue libvirt's pass-through reports, packed included, at the same addresses and sizes.
    func testQueuesThroughLibvirtMatchQEMUsAnswers() throws {
        let domain = try domain
        let r = try Tool.json(["queues", "--pid", String(domain.pid)])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.json["source"]?.string, "qmp")
        XCTAssertTrue(r.stderr.contains("libvirt's monitor pass-through") && r.stderr.contains("tainted"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "said once: \(r.stderr)")
        let rows = try XCTUnwrap(r.json["queues"]?.array)
        // QEMU's own answers, raw, through libvirt.
        var expected: [(desc: UInt64, avail: UInt64, used: UInt64, num: UInt64)] = []
        for device in try XCTUnwrap(domain.harness.execute("x-query-virtio").array) {
            let path = try XCTUnwrap(device["path"]?.string)
            let status = try domain.harness.execute("x-query-virtio-status", arguments: .object([("path", .string(path))]))
            for queue in 0..<(status["num-vqs"]?.int ?? 0) {
                let q = try domain.harness.execute("x-query-virtio-queue-status", arguments: .object([("path", .string(path)), ("queue", .int(Int64(queue)))]))
                guard let desc = q["vring-desc"]?.uint64, desc != 0 else { continue }
                expected.append((desc, q["vring-avail"]?.uint64 ?? 0, q["vring-used"]?.uint64 ?? 0, q["vring-num"]?.uint64 ?? 0))
            }
        }
        XCTAssertEqual(rows.count, expected.count)
        for e in expected {
            let row = try XCTUnwrap(rows.first { $0["desc"]?.uint64 == e.desc }, "no row for the ring at \(Hex.string(e.desc))")
            XCTAssertEqual(row["avail"]?.uint64, e.avail)
            XCTAssertEqual(row["used"]?.uint64, e.used)
            XCTAssertEqual(row["num"]?.uint64, e.num)
        }
        let packed = rows.filter { $0["layout"]?.string == "packed" }
        XCTAssertEqual(Set(packed.compactMap { $0["device"]?.string }), ["virtio-net"], "the packed rings are listed")
        XCTAssertTrue(rows.contains { $0["device"]?.string == "virtio-blk" })

        // --no-libvirt forbids the route: then a RAM scan, said why.
        let scan = try Tool.json(["queues", "--pid", String(domain.pid), "--no-libvirt"])
        XCTAssertEqual(scan.json["source"]?.string, "scan", scan.stderr)
    }

    /// On the suspended domain, dump equals an independent read of the same memory.
    func testDumpOfTheSuspendedDomainEqualsAnIndependentRead() throws {
        let domain = try domain
        _ = try Domain.run(["virsh", "suspend", domain.name])
        defer { _ = try? Domain.run(["virsh", "resume", domain.name]) }
        let r = try Tool.json(["dump", "--libvirt", domain.name, "--queue", "virtio-blk:0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.json["consistent"]?.bool, true)
        let desc = try XCTUnwrap(r.json["desc_addr"]?.uint64), num = try XCTUnwrap(r.json["num"]?.int)
        let table = try domain.bytes(at: desc, count: 16 * num)
        for (i, row) in try XCTUnwrap(r.json["desc"]?.array).enumerated() {
            let o = i * 16
            XCTAssertEqual(row["addr"]?.uint64, table[o..<o + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }, "desc \(i)")
            XCTAssertEqual(row["len"]?.uint64, table[o + 8..<o + 12].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }, "desc \(i)")
        }
        let avail = try XCTUnwrap(r.json["avail_addr"]?.uint64), used = try XCTUnwrap(r.json["used_addr"]?.uint64)
        let a = try domain.bytes(at: avail + 2, count: 2), u = try domain.bytes(at: used + 2, count: 2)
        XCTAssertEqual(r.json["avail"]?["idx"]?.uint64, UInt64(a[0]) | UInt64(a[1]) << 8)
        XCTAssertEqual(r.json["used"]?["idx"]?.uint64, UInt64(u[0]) | UInt64(u[1]) << 8)
    }

    /// Without QMP the slot map comes from the JSON command line and agrees with QEMU's gpa2hva.
    func testWithoutQMPTheSlotMapFromTheJSONCommandLineAgreesWithQEMU() throws {
        let domain = try domain
        let r = try Tool.json(["slots", "--pid", String(domain.pid), "--no-qmp"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.json["source"]?.string, "maps")
        let slots = try XCTUnwrap(r.json["slots"]?.array)
        XCTAssertFalse(slots.isEmpty)
        for slot in slots {
            let gpa = try XCTUnwrap(slot["gpa"]?.uint64), size = try XCTUnwrap(slot["size"]?.uint64), hva = try XCTUnwrap(slot["hva"]?.uint64)
            for offset in [0, size / 2 / 4096 * 4096, size - 1] {
                XCTAssertEqual(try domain.gpa2hva(gpa + offset), hva + offset, "gpa \(Hex.string(gpa + offset))")
            }
        }
    }

    func testTheInspectorOpensTheDomainByName() throws {
        let domain = try domain
        let session = try TmuxSession(["--libvirt", domain.name], width: 140, height: 40)
        let screen = try session.wait(for: "the domain's queues through libvirt", timeout: 90) { screen in
            // 69 queues (virtio-serial has 64): the packed net queues and the first serial ones show.
            screen.contains("LIVE") && screen.contains("qmp libvirt") && DemoInspectorTests.queueRow(screen, "virtio-serial:0") != nil
                && DemoInspectorTests.queueRow(screen, "virtio-net:0", layout: "packed") != nil
        }
        XCTAssertTrue(screen.contains("pid \(domain.pid)"), screen)
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }
}
