import VQCore
import VQDemo
import XCTest

/// `vqscope demo-guest`'s command line: QEMU's syntax, read back the same by vqscope's own
/// QEMU command-line reader.
final class DemoGuestOptionsTests: XCTestCase {
    func testTheLaunchersCommandLineReadsAsAQEMUs() throws {
        let options = DemoGuestOptions(qmpSockets: ["/tmp/d/qmp.sock", "/tmp/d/qmp-2.sock"])
        XCTAssertEqual(options.arguments, ["-name", "vqscope-demo", "-machine", "pc", "-m", "64M",
                                           "-qmp", "unix:/tmp/d/qmp.sock,server=on,wait=off", "-qmp", "unix:/tmp/d/qmp-2.sock,server=on,wait=off"])
        XCTAssertEqual(try DemoGuestOptions(arguments: options.arguments), options)

        let commandLine = QEMUCommandLine(arguments: ["/work/.build/debug/vqscope", "demo-guest"] + options.arguments)
        XCTAssertEqual(commandLine.name, "vqscope-demo")
        XCTAssertEqual(commandLine.ramSize, 64 << 20)
        XCTAssertEqual(commandLine.machineFamily, "pc")
        XCTAssertEqual(commandLine.qmpSockets, options.qmpSockets)
        XCTAssertNil(commandLine.accelerator)
        XCTAssertTrue(QEMUProcess.isSimulatedGuest(executable: "/work/.build/debug/vqscope", arguments: ["vqscope", "demo-guest"]))
        XCTAssertTrue(QEMUProcess.isSimulatedGuest(executable: "/x/vqscope (deleted)", arguments: ["vqscope", "demo-guest"]))
        XCTAssertFalse(QEMUProcess.isSimulatedGuest(executable: "/x/vqscope", arguments: ["vqscope", "list"]))
        XCTAssertFalse(QEMUProcess.isSimulatedGuest(executable: "/usr/bin/python3", arguments: ["python3", "demo-guest"]))
    }

    func testOptionsAndTheirMistakes() throws {
        let parsed = try DemoGuestOptions(arguments: ["--name", "guest=lab,debug-threads=on", "-M", "pc-i440fx-7.2", "-m", "size=128",
                                                      "-qmp", "unix:/s,server,nowait", "-seed", "42"])
        XCTAssertEqual(parsed.configuration.name, "lab")
        XCTAssertEqual(parsed.configuration.ramSize, 128 << 20)
        XCTAssertEqual(parsed.configuration.seed, 42)
        XCTAssertEqual(parsed.qmpSockets, ["/s"])
        XCTAssertEqual(try DemoGuestOptions(arguments: parsed.arguments), parsed)

        func mistake(_ arguments: [String]) -> String {
            do { _ = try DemoGuestOptions(arguments: arguments); return "accepted" } catch { return error.description }
        }
        XCTAssertTrue(mistake([]).contains("at least one -qmp"))
        XCTAssertTrue(mistake(["-qmp", "tcp:localhost:4444"]).contains("unix:PATH"))
        XCTAssertTrue(mistake(["-qmp", "unix:/s", "-machine", "q35"]).contains("'pc' machine"))
        XCTAssertTrue(mistake(["-qmp", "unix:/s", "-m"]).contains("needs a value"))
        XCTAssertTrue(mistake(["-qmp", "unix:/s", "-m", "lots"]).contains("not a size"))
        XCTAssertTrue(mistake(["-qmp", "unix:/s", "-enable-kvm", "x"]).contains("unknown option -enable-kvm"))
        XCTAssertThrowsError(try SimulatedGuest(configuration: .init(ramSize: 8 << 20)))
        XCTAssertThrowsError(try SimulatedGuest(configuration: .init(ramSize: (64 << 20) + 4096)))
    }
}
