import Foundation
import VQCore
import XCTest

/// The real vqscope against the basic guest (this suite's, booted once) whose QMP socket hangs,
/// closes in the middle of a reply, or lies: `--qmp` names a ``QMPFaultServer`` in front of the
/// guest's own QMP socket, which passes QEMU's answers on except for the fault under test. The
/// guest's memory is real, so what catches a lie is vqscope's own checks against it. Every run must
/// end within ``QMPFaultRunner/bound``, and a failure must be one `vqscope: ...` line on stderr
/// naming the problem, with a non-zero status.
extension BasicGuestTests {
    // MARK: Honest

    /// The fault server passing everything on changes nothing: every command works through it.
    func testQMPFaultHonestServerChangesNothing() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let server = try f.server()
        defer { server.stop() }
        let runs = try f.runEach(through: server)
        for (_, run) in runs { f.expectSuccess(run) }
        XCTAssertTrue(runs["slots"]?.stdout.contains("from qmp") == true, runs["slots"]?.stdout ?? "")
        XCTAssertTrue(runs["dump"]?.stdout.contains("virtio-blk:0") == true, runs["dump"]?.stdout ?? "")
        XCTAssertEqual(server.problems, [])
    }

    // MARK: Hangs

    /// A socket that accepts and never greets is held by another client: vqscope waits 300 ms for
    /// the greeting (not the whole 2000 ms time-out) and says so.
    func testQMPFaultSilentSocket() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let server = try f.server(greeting: .silent)
        defer { server.stop() }
        for (_, run) in try f.runEach(through: server, qmpTimeout: nil) {
            f.expectFailure(run, "did not send the greeting within 300 ms: it is held by another client")
        }
    }

    /// A socket that greets and never answers `qmp_capabilities`.
    func testQMPFaultHangAfterTheGreeting() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let server = try f.server { $0.command == "qmp_capabilities" ? .hang : .pass }
        defer { server.stop() }
        for (_, run) in try f.runEach(through: server, qmpTimeout: nil) {
            f.expectFailure(run, "did not send the reply to qmp_capabilities within 2000 ms")
        }
    }

    /// QMP stops answering at `info mtree -f`, the first question of every command. The slot map
    /// falls back to /proc/PID/maps, but the device list needs QMP: its question fails at once with
    /// the first time-out, which names the question that hung (not a second time-out naming
    /// x-query-virtio).
    func testQMPFaultHangOnTheFlatView() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let server = try f.server { $0.hmp == "info mtree -f" ? .hang : .pass }
        defer { server.stop() }
        for (_, run) in try f.runEach(through: server, qmpTimeout: nil) {
            f.expectFailure(run, "did not send the reply to HMP `info mtree -f` within 2000 ms")
        }
    }

    /// QMP stops answering at the first queue's status, in the middle of listing devices.
    func testQMPFaultHangOnQueueStatus() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let server = try f.server { $0.command == "x-query-virtio-queue-status" ? .hang : .pass }
        defer { server.stop() }
        let runs = try f.runEach(through: server, qmpTimeout: nil)
        f.expectSuccess(runs["slots"])
        for name in ["queues", "dump", "watch", "diagnose"] {
            f.expectFailure(runs[name], "did not send the reply to x-query-virtio-queue-status within 2000 ms")
        }
    }

    /// Replies that never complete, though bytes keep coming: events without end, the reply a byte
    /// at a time, the reply under another id again and again. Each is bounded by the time-out for
    /// the whole reply (a time-out per read never fired on these).
    func testQMPFaultRepliesThatNeverComplete() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let faults: [(QMPFaultServer.Action, String)] = [
            (.events, "did not send the reply to x-query-virtio, only "),
            (.drip, "did not send the reply to x-query-virtio within 2000 ms"),
            (.wrongID, "did not send the reply to x-query-virtio, only "),
        ]
        for (action, needle) in faults {
            let server = try f.server { $0.command == "x-query-virtio" ? action : .pass }
            defer { server.stop() }
            for (name, run) in try f.runEach(["queues", "dump", "watch", "diagnose"], through: server, qmpTimeout: nil) {
                f.expectFailure(run, needle)
                XCTAssertTrue(run.stderr.contains("events or replies to other ids") || action.isDrip, "\(action) \(name): \(run.stderr)")
            }
        }
    }

    /// QMP answers the device list, then stops answering (or closes) when `diagnose` asks QEMU
    /// for its indexes at the end of the window: the diagnosis, from guest memory, still comes,
    /// after one time-out at most, not one for each of the guest's ~70 queues.
    func testQMPFaultLostInTheMiddleOfDiagnose() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        for action in [QMPFaultServer.Action.hang, .closeMidReply] {
            let server = try f.server { r in
                r.repeats > 0 && (r.command == "x-query-virtio-queue-status" || r.command == "x-query-virtio-status") ? action : .pass
            }
            defer { server.stop() }
            let run = try f.run(["diagnose", "--seconds", "1", "--no-history", "--json"], through: server, qmpTimeout: nil)
            XCTAssertTrue(server.requests.contains { $0.repeats > 0 }, "QEMU was never asked again: the fault was not reached")
            f.expectSuccess(run)
            XCTAssertLessThan(run.seconds, 1 + 2 + QMPFaultRunner.bound / 2, "\(action)")
            let json = try JSON.parse(run.stdout)
            let queues = try XCTUnwrap(json["queues"]?.array)
            XCTAssertGreaterThan(queues.count, 60, run.stdout.prefix(300).description)
            XCTAssertTrue(queues.allSatisfy { $0["health"]?.string != nil }, run.stdout.prefix(2000).description)
        }
    }

    // MARK: Closing mid-reply

    /// The connection closes in the middle of the greeting.
    func testQMPFaultCloseInTheGreeting() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let server = try f.server(greeting: .half)
        defer { server.stop() }
        for (_, run) in try f.runEach(through: server) {
            f.expectFailure(run, "closed the connection")
        }
    }

    /// The connection closes in the middle of the flat view, or of a queue's status.
    func testQMPFaultCloseMidReply() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let flat = try f.server { $0.hmp == "info mtree -f" ? .closeMidReply : .pass }
        defer { flat.stop() }
        for (_, run) in try f.runEach(through: flat) { f.expectFailure(run, "closed the connection") }

        let status = try f.server { $0.command == "x-query-virtio-queue-status" && $0.arguments?["queue"]?.int == 0 ? .closeMidReply : .pass }
        defer { status.stop() }
        let runs = try f.runEach(through: status)
        f.expectSuccess(runs["slots"])
        for name in ["queues", "dump", "watch", "diagnose"] { f.expectFailure(runs[name], "closed the connection") }
    }

    // MARK: Lies

    /// gpa2hva says guest RAM lives at host address 0x1000, where nothing is ever mapped (below
    /// mmap_min_addr), or the flat view claims 1 GiB of RAM on the 256 MiB guest: every slot must
    /// lie in the process's own mappings, so vqscope refuses the map; asked for QMP's map only it fails
    /// with that, else it builds the map from /proc/PID/maps and every command works on the real RAM.
    /// An error reply to gpa2hva, and a flat view without the "memory" address space, likewise.
    func testQMPFaultLyingSlotMapIsCaughtAndReplaced() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let guest = try guest
        let lies: [(String, @Sendable (QMPFaultServer.Request) -> QMPFaultServer.Action, String)] = [
            ("gpa2hva at unmapped memory", { r in
                r.hmp.hasPrefix("gpa2hva ") ? .reply { $0.returning(.string("Host virtual address for \(r.hmp.dropFirst(8)) (pc.ram) is 0x1000\r\n")) } : .pass
            }, "which the process has not mapped whole"),
            ("a flat view with four times the RAM", { r in
                r.hmp == "info mtree -f" ? .reply { real in
                    real.returning(.string((real["return"]?.string ?? "").replacingOccurrences(
                        of: "0000000000100000-000000000fffffff (prio 0, ram): pc.ram", with: "0000000000100000-000000003fffffff (prio 0, ram): pc.ram")))
                } : .pass
            }, "which the process has not mapped whole"),
            ("gpa2hva fails", { r in
                r.hmp.hasPrefix("gpa2hva ") ? .reply { $0.failing("GenericError", "No memory is mapped at this address") } : .pass
            }, "QMP command human-monitor-command failed: No memory is mapped at this address (GenericError)"),
            ("no memory address space", { r in
                r.hmp == "info mtree -f" ? .reply { $0.returning(.string("FlatView #0\r\n AS \"I/O\", root: io\r\n")) } : .pass
            }, "QEMU's flat view has no address space \"memory\""),
        ]
        let truth = try XCTUnwrap(try guest.gpa2hva(0x100000))
        for (lie, rule, needle) in lies {
            let server = try f.server(rule)
            defer { server.stop() }
            let runs = try f.runEach(through: server)
            f.expectFailure(runs["slots"], needle)
            for name in ["queues", "dump", "watch", "diagnose"] { f.expectSuccess(runs[name]) }
            XCTAssertTrue(runs["dump"]?.stdout.contains("  snapshot: ") == true, "\(lie): \(runs["dump"]?.stdout ?? "")")

            let auto = try f.run(["slots", "--json"], through: server)
            f.expectSuccess(auto)
            let json = try JSON.parse(auto.stdout)
            XCTAssertEqual(json["source"]?.string, "maps", lie)
            XCTAssertTrue(json["notes"]?.array?.contains { $0.string?.contains(needle) == true } == true, "\(lie): \(auto.stdout)")
            let slot = try XCTUnwrap(json["slots"]?.array?.first { ($0["gpa"]?.uint64 ?? .max) <= 0x100000 && 0x100000 - $0["gpa"]!.uint64! < $0["size"]!.uint64! })
            XCTAssertEqual(slot["hva"]!.uint64! + (0x100000 - slot["gpa"]!.uint64!), truth, "\(lie): the map from /proc/PID/maps disagrees with QEMU")
        }
    }

    /// x-query-virtio-queue-status puts every ring beyond the end of guest RAM: reading them fails
    /// with the address and why; `queues` lists what QEMU said with no indexes (none were read),
    /// `diagnose` marks every queue unreadable; both exit 1 with one line saying which queues
    /// could not be read and why.
    func testQMPFaultRingAddressesOutsideRAM() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let server = try f.server { r in
            r.command == "x-query-virtio-queue-status" ? .reply { reply in
                reply.returning(["vring-desc": .uint(0x7f_0000_0000), "vring-avail": .uint(0x7f_0000_1000), "vring-used": .uint(0x7f_0000_2000)])
            } : .pass
        }
        defer { server.stop() }
        let runs = try f.runEach(through: server)
        f.expectSuccess(runs["slots"])
        f.expectFailure(runs["dump"], status: 1, "guest-physical address 0x7f0000")
        f.expectFailure(runs["watch"], status: 1, "guest-physical address 0x7f0000")
        XCTAssertTrue(runs["dump"]?.stderr.contains("is not backed by RAM: past the end of guest memory") == true, runs["dump"]?.stderr ?? "")

        let diagnose = try XCTUnwrap(runs["diagnose"])
        f.expectFailure(diagnose, status: 1, "could not read the rings of ")
        XCTAssertTrue(diagnose.stderr.contains(" more): ") && diagnose.stderr.contains("is not backed by RAM"), diagnose.stderr)
        let rows = diagnose.stdout.split(separator: "\n").dropFirst(2)
        XCTAssertGreaterThan(rows.count, 60, diagnose.stdout.prefix(500).description)
        XCTAssertTrue(rows.allSatisfy { $0.contains("unreadable") && $0.contains("is not backed by RAM") }, diagnose.stdout.prefix(2000).description)

        f.expectFailure(runs["queues"], status: 1, "could not read the indexes of ")
        XCTAssertTrue(runs["queues"]?.stderr.contains("is not backed by RAM") == true, runs["queues"]?.stderr ?? "")
        XCTAssertTrue(runs["queues"]?.stdout.contains("0x7f00000000") == true, "the list was not printed: \(runs["queues"]?.stdout ?? "")")

        let queues = try f.run(["queues", "--json"], through: server)
        f.expectFailure(queues, status: 1, "could not read the indexes of ")
        let list = try XCTUnwrap(try JSON.parse(queues.stdout)["queues"]?.array)
        XCTAssertGreaterThan(list.count, 60)
        XCTAssertTrue(queues.stderr.contains("\(list.count) queues"), queues.stderr)
        for q in list {
            XCTAssertEqual(q["desc"]?.uint64, 0x7f_0000_0000)
            XCTAssertEqual(q["avail_idx"], .null, "an index was made up: \(q.text)")
            XCTAssertEqual(q["used_idx"], .null, "an index was made up: \(q.text)")
            XCTAssertTrue(q["error"]?.string?.contains("is not backed by RAM") == true, q.text)
        }
    }

    /// x-query-virtio-queue-status gives a split ring of 255 entries (not a power of two): `dump`
    /// decodes nothing on it and names the problem, `diagnose` calls the queue broken for it.
    func testQMPFaultQueueSizeNotAPowerOfTwo() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let server = try f.server { r in
            r.command == "x-query-virtio-queue-status" ? .reply { $0.returning(["vring-num": .uint(255)]) } : .pass
        }
        defer { server.stop() }
        let runs = try f.runEach(through: server)
        for (_, run) in runs where run.command.hasPrefix("watch") == false { f.expectSuccess(run) }
        // watch names each such ring and leaves it out; with every ring so, nothing is left to watch.
        XCTAssertFalse(runs["watch"]?.result.signaled ?? true)
        XCTAssertTrue(runs["watch"]?.result.stderr.contains("virtio-blk:0 has size 255, not a power of two as a split ring's must be: not watched") == true,
                      runs["watch"]?.result.stderr ?? "")
        XCTAssertLessThan(runs["watch"]?.seconds ?? .infinity, QMPFaultRunner.bound)
        let dump = runs["dump"]?.stdout ?? ""
        XCTAssertTrue(dump.contains("split ring, 255 entries"), dump)
        XCTAssertTrue(dump.contains("PROBLEM queue size 255 is not allowed"), dump)
        XCTAssertTrue(dump.contains("in flight: 0"), dump)
        let blk = runs["diagnose"]?.stdout.split(separator: "\n").first { $0.hasPrefix("virtio-blk:0 ") } ?? ""
        XCTAssertTrue(blk.contains("broken") && blk.contains("queue size 255 is not allowed"), String(blk))
    }

    /// x-query-virtio-queue-status gives a queue size of 0, or one past what virtio allows (65536),
    /// with a ring address: no queue is taken from it, so `dump` and `watch` of it fail with one line;
    /// `watch`, `queues` and `diagnose` name QEMU's answer as the reason (`queues` lists each queue
    /// left out), and `queues` and `diagnose` exit 1.
    func testQMPFaultQueueSizeZeroOrHuge() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        for size: UInt64 in [0, 65536] {
            let server = try f.server { r in
                r.command == "x-query-virtio-queue-status" ? .reply { $0.returning(["vring-num": .uint(size)]) } : .pass
            }
            defer { server.stop() }
            let reason = "x-query-virtio-queue-status gives size \(size), which virtio does not allow (1 to 32768)"
            let runs = try f.runEach(through: server)
            f.expectSuccess(runs["slots"])
            f.expectFailure(runs["dump"], "virtio-blk has no active queue 0")
            f.expectFailure(runs["watch"], "has no active virtqueue: nothing to watch; left out ")
            XCTAssertTrue(runs["watch"]?.stderr.contains(reason) == true, runs["watch"]?.stderr ?? "")
            f.expectFailure(runs["queues"], status: 1, reason)
            let stderr = runs["queues"]?.stderr ?? ""
            XCTAssertTrue(stderr.hasPrefix("vqscope: left out ") && stderr.contains(" more) because of QEMU's answers: "), stderr)
            let listed = runs["queues"]?.stdout ?? ""
            XCTAssertTrue(listed.contains("no active virtqueues") && listed.contains("LEFT OUT"), listed)
            XCTAssertTrue(listed.split(separator: "\n").contains { $0.hasPrefix("virtio-blk:0 ") && $0.hasSuffix(reason) }, listed)
            f.expectFailure(runs["diagnose"], status: 1, reason)

            let one = try f.run(["diagnose", "--queue", "virtio-blk:0", "--seconds", "0", "--no-history"], through: server)
            f.expectFailure(one, "virtio-blk has no active queue 0 (active: none): QEMU's answer left it out: " + reason)
            let json = try f.run(["queues", "--json"], through: server)
            f.expectFailure(json, status: 1, reason)
            let leftOut = try XCTUnwrap(try JSON.parse(json.stdout)["left_out"]?.array)
            XCTAssertGreaterThan(leftOut.count, 60)
            XCTAssertTrue(leftOut.contains { $0["device"]?.string == "virtio-blk" && $0["index"]?.int == 0 && $0["reason"]?.string == reason },
                          json.stdout.prefix(1000).description)
        }
    }

    /// x-query-virtio-queue-status answers with something that is not an object, or
    /// x-query-virtio-status does for virtio-blk: the queues (or the device's queues) are left out
    /// and the commands say so, naming QEMU's answer.
    func testQMPFaultStatusRepliesNotObjects() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let queue = try f.server { r in
            r.command == "x-query-virtio-queue-status" ? .reply { $0.returning(.string("vring-desc")) } : .pass
        }
        defer { queue.stop() }
        let runs = try f.runEach(["queues", "watch", "diagnose"], through: queue)
        f.expectFailure(runs["queues"], status: 1, "x-query-virtio-queue-status did not return an object")
        f.expectFailure(runs["watch"], "nothing to watch; left out ")
        XCTAssertTrue(runs["watch"]?.stderr.contains("x-query-virtio-queue-status did not return an object") == true, runs["watch"]?.stderr ?? "")
        f.expectFailure(runs["diagnose"], status: 1, "x-query-virtio-queue-status did not return an object")

        let blkPath = try XCTUnwrap(try QMPVirtioSource.devices(client: try guest.harness).first { $0.name == "virtio-blk" }?.path)
        let device = try f.server { r in
            r.command == "x-query-virtio-status" && r.arguments?["path"]?.string == blkPath ? .reply { $0.returning(.array([])) } : .pass
        }
        defer { device.stop() }
        let blk = try f.run(["dump", "--queue", "virtio-blk:0"], through: device)
        f.expectFailure(blk, "virtio-blk has no active queue 0")
        let listed = try f.run(["queues"], through: device)
        f.expectFailure(listed, status: 1, "x-query-virtio-status did not return an object")
        XCTAssertTrue(listed.stderr.contains("left out virtio-blk because of QEMU's answer: "), listed.stderr)
        XCTAssertTrue(listed.stdout.contains("virtio-net"), "the other devices' queues are still listed: \(listed.stdout)")
    }

    /// Error replies to commands that work on this QEMU, and replies of the wrong shape: each
    /// named in one line.
    func testQMPFaultErrorRepliesAndWrongShapes() throws {
        let f = try QMPFaultRunner(guest)
        defer { f.finish() }
        let faults: [(String, [String], @Sendable (QMPFaultServer.Request) -> QMPFaultServer.Action, String)] = [
            ("x-query-virtio", ["queues", "dump", "watch", "diagnose"], { r in
                r.command == "x-query-virtio" ? .reply { $0.failing("CommandNotFound", "The command x-query-virtio has not been found") } : .pass
            }, "QMP command x-query-virtio failed: The command x-query-virtio has not been found (CommandNotFound)"),
            ("x-query-virtio-queue-status", ["queues", "dump", "watch", "diagnose"], { r in
                r.command == "x-query-virtio-queue-status" ? .reply { $0.failing("GenericError", "Invalid virtqueue number 0") } : .pass
            }, "QMP command x-query-virtio-queue-status failed: Invalid virtqueue number 0 (GenericError)"),
            ("x-query-virtio-status", ["queues", "dump", "watch", "diagnose"], { r in
                r.command == "x-query-virtio-status" ? .reply { $0.failing("GenericError", "No such device") } : .pass
            }, "QMP command x-query-virtio-status failed: No such device (GenericError)"),
            ("list as an object", ["queues", "dump", "watch", "diagnose"], { r in
                r.command == "x-query-virtio" ? .reply { $0.returning(.object([("name", .string("virtio-blk"))])) } : .pass
            }, "answered something that is not QMP: x-query-virtio did not return a list"),
            // On the flat view (what `slots --slots qmp` needs) and on the device list (what the
            // others need: without QMP's slot map they fall back to /proc/PID/maps).
            ("neither return nor error", ["slots", "queues", "dump", "watch", "diagnose"], { r in
                r.hmp == "info mtree -f" || r.command == "x-query-virtio"
                    ? .reply { .object([("id", $0["id"] ?? .null), ("retrun", $0["return"] ?? .null)]) } : .pass
            }, "answered something that is not QMP: reply without return"),
            ("not JSON", ["slots", "queues", "dump", "watch", "diagnose"], { r in
                r.hmp == "info mtree -f" || r.command == "x-query-virtio" ? .raw("{\"return\": [tru\r\n") : .pass
            }, "answered something that is not QMP: invalid JSON"),
        ]
        for (what, names, rule, needle) in faults {
            let server = try f.server(rule)
            defer { server.stop() }
            let runs = try f.runEach(names, through: server)
            XCTAssertEqual(runs.count, names.count)
            for (_, run) in runs { f.expectFailure(run, needle) }
            XCTAssertEqual(server.problems, [], what)
        }
    }
}
