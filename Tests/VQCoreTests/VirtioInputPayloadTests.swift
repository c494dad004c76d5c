import VQCore
import XCTest

final class VirtioInputPayloadTests: XCTestCase {
    static func event(_ type: UInt16, _ code: UInt16, _ value: UInt32) -> [UInt8] { LE.u16(type) + LE.u16(code) + LE.u32(value) }

    func testEvdevNames() {
        XCTAssertEqual(InputEventCode.typeName(1), "EV_KEY")
        XCTAssertEqual(InputEventCode.typeName(0x11), "EV_LED")
        XCTAssertEqual(InputEventCode.typeName(0x1f), "EV_0x1f")
        XCTAssertEqual(InputEventCode.codeName(type: 0, code: 0), "SYN_REPORT")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 30), "KEY_A")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 16), "KEY_Q")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 50), "KEY_M")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 11), "KEY_0")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 28), "KEY_ENTER")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 88), "KEY_F12")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 103), "KEY_UP")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 0x110), "BTN_LEFT")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 0x14a), "BTN_TOUCH")
        XCTAssertEqual(InputEventCode.codeName(type: 1, code: 84), "0x54")
        XCTAssertEqual(InputEventCode.codeName(type: 2, code: 8), "REL_WHEEL")
        XCTAssertEqual(InputEventCode.codeName(type: 2, code: 10), "0xa")
        XCTAssertEqual(InputEventCode.codeName(type: 3, code: 1), "ABS_Y")
        XCTAssertEqual(InputEventCode.codeName(type: 3, code: 0x35), "ABS_MT_POSITION_X")
        XCTAssertEqual(InputEventCode.codeName(type: 4, code: 4), "MSC_SCAN")
        XCTAssertEqual(InputEventCode.codeName(type: 0x11, code: 1), "LED_CAPSL")
        XCTAssertEqual(InputEventCode.codeName(type: 0x15, code: 1), "0x1")
    }

    func testKeyPressAndPointerMotion() {
        let key = VirtioInputEvents(Self.event(4, 4, 0x1e) + Self.event(1, 30, 1) + Self.event(0, 0, 0), length: 24, fromDevice: true)
        XCTAssertEqual(key.count, 3)
        XCTAssertEqual(key.events[1], .init(type: 1, code: 30, value: 1))
        XCTAssertNil(key.defect)
        XCTAssertEqual(key.summary, "input EV_MSC MSC_SCAN 30, EV_KEY KEY_A 1, EV_SYN SYN_REPORT")
        let motion = VirtioInputEvents(Self.event(2, 0, UInt32(bitPattern: -3)) + Self.event(2, 8, 1) + Self.event(3, 1, 32767),
                                       length: 24, fromDevice: true)
        XCTAssertEqual(motion.summary, "input EV_REL REL_X -3, EV_REL REL_WHEEL 1, EV_ABS ABS_Y 32767")
        let led = VirtioInputEvents(Self.event(0x11, 0, 1) + Self.event(0, 0, 0), length: 16, fromDevice: false)
        XCTAssertEqual(led.summary, "input status EV_LED LED_NUML 1, EV_SYN SYN_REPORT")
    }

    func testManyShortAndRaggedBuffers() {
        let many = (0..<40).flatMap { _ in Self.event(1, 0x110, 1) }
        let events = VirtioInputEvents(many, length: 40 * 8 + 4, fromDevice: true)
        XCTAssertEqual(events.events.count, VirtioInputEvents.maxEvents)
        XCTAssertEqual(events.count, 40)
        XCTAssertEqual(events.defect, .malformed("324 bytes is not a whole number of 8-byte events"))
        XCTAssertTrue(events.summary.contains("(+34 more)"), events.summary)
        let short = VirtioInputEvents([1, 0, 30], length: 3, fromDevice: true)
        XCTAssertEqual(short.events, [])
        XCTAssertEqual(short.summary, "input (truncated: 3 of 8 bytes)")
        let huge = VirtioInputEvents(Self.event(1, 1, 0), length: UInt64(UInt32.max) * 4, fromDevice: false)
        XCTAssertEqual(huge.events.count, 1, "never more events than bytes")
    }

    func testThroughTheDecoder() {
        let guest = PayloadTestGuest([.init(at: 0x100, Self.event(1, 0x111, 0), writable: true)])
        // A posted event buffer holds nothing yet: named for what it is, its stale bytes unread.
        XCTAssertEqual(guest.decode("virtio-input", queue: 0)?.summary, "input: room for 1 event, posted for the device to fill")
        let wide = PayloadTestGuest([.init(at: 0x100, [UInt8](repeating: 0xff, count: 20), writable: true)])
        XCTAssertEqual(wide.decode("virtio-input", queue: 0)?.summary,
                       "input: room for 2 events, posted for the device to fill (malformed: 20 bytes is not a whole number of 8-byte events)")
        XCTAssertEqual(guest.decode("virtio-input", queue: 0, completed: 8)?.summary, "input EV_KEY BTN_RIGHT 0")
        let status = PayloadTestGuest([.init(at: 0x100, Self.event(0x11, 1, 1))])
        XCTAssertEqual(status.decode("virtio-input", queue: 1)?.summary, "input status EV_LED LED_CAPSL 1")
    }
}
