import Foundation
import VQCore
import XCTest

/// The inspector end to end on `vqscope demo`: the real binary in tmux, keys in, screens out. The
/// demo's simulated guest needs no QEMU, so these run anywhere the package builds.
final class DemoInspectorTests: XCTestCase {
    /// The value in `column` (0 = label) of the queue list row labelled `label` and laid out as
    /// `layout`: `virtio-blk:0 split 128 692 676 16 ...`.
    static func queueRow(_ screen: String, _ label: String, layout: String = "split") -> [String]? {
        for line in screen.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "│" || $0 == "▶" }).map(String.init)
            if words.count >= 6, words[0] == label || bare(words[0]) == label, words[1] == layout { return words }
        }
        return nil
    }

    /// A label without the device's `[id]` or `@PCI` that tells devices of the same name apart:
    /// `virtio-net[net1]:0` → `virtio-net:0` (the demo has two virtio-net devices, told apart by layout here).
    static func bare(_ label: String) -> String {
        guard let colon = label.lastIndex(of: ":"),
              let cut = label[..<colon].firstIndex(where: { $0 == "[" || $0 == "@" }) else { return label }
        return String(label[..<cut] + label[colon...])
    }

    /// The simulated guest's PID, from the header (`demo: simulated guest, pid N, ...`).
    static func guestPID(_ screen: String) -> Int32? {
        guard let range = screen.range(of: "simulated guest, pid ") else { return nil }
        return Int32(screen[range.upperBound...].prefix(while: \.isNumber))
    }

    func startDemo(width: Int = 120, height: Int = 40) throws -> TmuxSession {
        let session = try TmuxSession(["demo"], width: width, height: height)
        try session.wait(for: "the demo's queues") { Self.queueRow($0, "virtio-blk:0") != nil && $0.contains("LIVE") }
        return session
    }

    func testShowsDevicesAndIndexesMove() throws {
        let session = try startDemo()
        let first = try session.screen()
        for label in ["virtio-net:0", "virtio-net:1", "virtio-blk:0"] {
            XCTAssertNotNil(Self.queueRow(first, label), "\(label) missing:\n\(first)")
        }
        XCTAssertNotNil(Self.queueRow(first, "virtio-net:0", layout: "packed"), "no packed queue:\n\(first)")
        let blk = try XCTUnwrap(Self.queueRow(first, "virtio-blk:0"))
        try session.wait(for: "virtio-blk:0's used index moving") { screen in
            Self.queueRow(screen, "virtio-blk:0").map { $0[4] != blk[4] } ?? false
        }
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }

    func testViewsNavigationHelpAndGoto() throws {
        let session = try startDemo()
        // The first view of a queue; Tab walks through the others and back.
        try session.send("]", "]", "]")   // to virtio-blk:0
        try session.wait(for: "virtio-blk:0 selected") { $0.contains("┌ virtio-blk:0") }
        var titles: [String] = []
        for _ in 0..<6 {
            try session.send("Tab")
            Thread.sleep(forTimeInterval: 0.3)
            let lines = try session.screen().split(separator: "\n").map(String.init)
            if let top = lines.firstIndex(where: { $0.contains("┌ virtio-blk:0") }), top + 1 < lines.count {
                titles.append(lines[top + 1])
            }
        }
        let joined = titles.joined(separator: "\n")
        for word in ["Descriptor table", "Available ring", "Used ring", "Chains", "Events", "Slot map"] {
            XCTAssertTrue(joined.contains(word), "Tab never showed \(word):\n\(joined)")
        }
        try session.send("?")
        try session.wait(for: "the help overlay") { $0.contains("Keys") && $0.contains("quit") }
        try session.send("Escape")
        try session.wait(for: "the help closed") { !$0.contains("┌ Keys") }
        try session.send("g")
        try session.type("0x1000")
        try session.send("Enter")
        try session.wait(for: "a hexdump of 0x1000") { $0.contains("GPA 0x1000") && $0.contains("HVA 0x") }
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }

    func testStepPausesAndContinueResumes() throws {
        let session = try startDemo()
        try session.send("s")
        let paused = try session.wait(for: "VM PAUSED") { $0.contains("VM PAUSED") }
        // While paused nothing moves: the queue rows stay as they are.
        let rows = { (screen: String) in ["virtio-net:0", "virtio-net:1", "virtio-blk:0"].compactMap { Self.queueRow(screen, $0)?[2...5].joined(separator: " ") } }
        Thread.sleep(forTimeInterval: 1.0)
        XCTAssertEqual(rows(try session.screen()), rows(paused))
        try session.send("c")
        try session.wait(for: "LIVE again") { $0.contains("LIVE") && !$0.contains("VM PAUSED") }
        let before = try XCTUnwrap(Self.queueRow(try session.screen(), "virtio-net:1"))
        try session.wait(for: "indexes moving after c") { Self.queueRow($0, "virtio-net:1").map { $0[3] != before[3] } ?? false }
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }

    func testQuitWhilePausedResumesAndEndsTheGuest() throws {
        let session = try startDemo()
        let pid = try XCTUnwrap(Self.guestPID(try session.screen()))
        try session.send("s")
        try session.wait(for: "VM PAUSED")
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
        let deadline = Date().addingTimeInterval(15)
        while kill(pid, 0) == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertNotEqual(kill(pid, 0), 0, "the simulated guest \(pid) outlived vqscope demo")
    }

    func testWorksAt80x24AndOnResize() throws {
        let session = try startDemo(width: 120, height: 40)
        try session.resize(width: 80, height: 24)
        let small = try session.wait(for: "an 80x24 frame") { screen in
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
            return screen.contains("LIVE") && screen.contains("virtio-blk:0") && lines.allSatisfy { $0.count <= 80 }
                && lines.contains { $0.hasPrefix("└") && $0.count == 80 }
        }
        XCTAssertTrue(small.contains("Queues"), small)
        try session.resize(width: 160, height: 50)
        try session.wait(for: "a 160x50 frame") { $0.split(separator: "\n").contains { $0.hasPrefix("┌") && $0.count == 160 } }
        try session.send("q")
        XCTAssertEqual(try session.waitForExit(), 0)
    }

    func testSIGTERMRestoresAndExits() throws {
        let session = try startDemo()
        let guest = try XCTUnwrap(Self.guestPID(try session.screen()))
        let vqscope = try XCTUnwrap(try session.vqscopePID())
        kill(vqscope, SIGTERM)
        let status = try session.waitForExit()
        XCTAssertEqual(status, 128 + SIGTERM)
        XCTAssertFalse(try session.screen().contains("LIVE"), "the terminal was not restored")
        let deadline = Date().addingTimeInterval(15)
        while kill(guest, 0) == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertNotEqual(kill(guest, 0), 0, "the simulated guest outlived a SIGTERM of vqscope")
    }

    func testWithoutATerminalItSaysSoAndExits() throws {
        let result = try Tool.run(["demo"], timeout: 60)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.hasPrefix("vqscope: ") && result.stderr.contains("terminal"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    }

    func testServeRunsTheGuestForOtherCommands() throws {
        // `demo --serve` prints the guest's PID; `queues --pid` then reads it like a QEMU.
        let process = Process()
        process.executableURL = Tool.executable
        process.arguments = ["demo", "--serve"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        let line = String(decoding: out.fileHandleForReading.availableDataOrLine(), as: UTF8.self)
        guard let range = line.range(of: "pid ") else { return XCTFail("no pid in '\(line)'") }
        let pid = try XCTUnwrap(Int32(line[range.upperBound...].prefix(while: \.isNumber)))
        let queues = try Tool.json(["queues", "--pid", "\(pid)"])
        XCTAssertEqual(queues.status, 0, queues.stderr)
        let devices = Set((queues.json["queues"]?.array ?? []).compactMap { $0["device"]?.string })
        XCTAssertTrue(devices.isSuperset(of: ["virtio-net", "virtio-blk"]), "\(devices)")
        let layouts = Set((queues.json["queues"]?.array ?? []).compactMap { $0["layout"]?.string })
        XCTAssertEqual(layouts, ["split", "packed"])
    }
}

extension FileHandle {
    /// The first line written (bounded to 30 s), for a child's ready line.
    func availableDataOrLine() -> Data {
        var data = Data()
        let deadline = Date().addingTimeInterval(30)
        while !data.contains(10) && Date() < deadline {
            let chunk = availableData
            if chunk.isEmpty { break }
            data.append(chunk)
        }
        return data
    }
}
