import VQCore
import XCTest

final class VirtioConsoleControlTests: XCTestCase {
    static func control(port: UInt32, event: UInt16, value: UInt16) -> [UInt8] { LE.u32(port) + LE.u16(event) + LE.u16(value) }

    func testEvents() throws {
        let ready = try XCTUnwrap(VirtioConsoleControl(Self.control(port: 0, event: 0, value: 1), fromDevice: false))
        XCTAssertEqual(ready.eventName, "DEVICE_READY")
        XCTAssertEqual(ready.summary, "console-ctrl DEVICE_READY 1")
        let names = (0..<9).map { try? XCTUnwrap(VirtioConsoleControl(Self.control(port: 1, event: UInt16($0), value: 0), fromDevice: true)).eventName }
        XCTAssertEqual(names, ["DEVICE_READY", "PORT_ADD", "PORT_REMOVE", "PORT_READY", "CONSOLE_PORT", "RESIZE", "PORT_OPEN", "PORT_NAME", "event 8"])
        XCTAssertEqual(VirtioConsoleControl(Self.control(port: 2, event: 6, value: 1), fromDevice: true)?.summary, "console-ctrl port 2 PORT_OPEN 1")
        XCTAssertEqual(VirtioConsoleControl(Self.control(port: 1, event: 3, value: 1), fromDevice: false)?.summary, "console-ctrl port 1 PORT_READY 1")
    }

    func testPortNameAndResize() throws {
        let name = try XCTUnwrap(VirtioConsoleControl(Self.control(port: 1, event: 7, value: 1) + Array("org.qemu.guest_agent.0".utf8) + [0],
                                                      fromDevice: true))
        XCTAssertEqual(name.name, "org.qemu.guest_agent.0")
        XCTAssertEqual(name.summary, "console-ctrl port 1 PORT_NAME \"org.qemu.guest_agent.0\"")
        let hostile = try XCTUnwrap(VirtioConsoleControl(Self.control(port: 1, event: 7, value: 1) + [0x1b, 0x5b, 0x0a] + [UInt8](repeating: 0x41, count: 100),
                                                         fromDevice: true))
        XCTAssertEqual(hostile.name?.hasPrefix(".[.AAA"), true, "control characters are not passed through")
        XCTAssertEqual(hostile.name?.count, 65, "64 characters and the cut mark")
        let resize = try XCTUnwrap(VirtioConsoleControl(Self.control(port: 0, event: 5, value: 0) + LE.u16(132) + LE.u16(43), fromDevice: true))
        XCTAssertEqual(resize.columns, 132)
        XCTAssertEqual(resize.rows, 43)
        XCTAssertEqual(resize.summary, "console-ctrl port 0 RESIZE 132x43")
        XCTAssertEqual(VirtioConsoleControl(Self.control(port: 0, event: 5, value: 0) + [1], fromDevice: true)?.summary,
                       "console-ctrl port 0 RESIZE (no size)")
        XCTAssertNil(VirtioConsoleControl([1, 0, 0, 0, 6, 0, 1], fromDevice: true), "seven bytes")
    }

    func testControlQueuesThroughTheDecoder() {
        let rx = PayloadTestGuest([.init(at: 0x100, Self.control(port: 1, event: 1, value: 0), length: 4096, writable: true)])
        XCTAssertNil(rx.decode("virtio-serial", queue: 2, queueCount: 64), "a posted control buffer holds nothing yet")
        XCTAssertEqual(rx.decode("virtio-serial", queue: 2, queueCount: 64, completed: 8)?.summary, "console-ctrl port 1 PORT_ADD 0")
        XCTAssertEqual(rx.decode("virtio-serial", queue: 2, queueCount: 64, completed: 5),
                       .undecodable(family: "console-ctrl", defect: .truncated(needed: 8, present: 5)))
        let tx = PayloadTestGuest([.init(at: 0x100, Self.control(port: 1, event: 6, value: 1))])
        XCTAssertEqual(tx.decode("virtio-serial", queue: 3, queueCount: 64)?.summary, "console-ctrl port 1 PORT_OPEN 1")
        guard case .console(let text)? = tx.decode("virtio-serial", queue: 5, queueCount: 64) else { return XCTFail("port data is text") }
        XCTAssertEqual(text.count, 8)
    }
}
