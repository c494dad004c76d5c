@testable import VQTUI
import VQCore
import XCTest

/// The hexdump pane's line for each payload family: the device's name, then the summary.
final class PayloadTextTests: XCTestCase {
    func testEveryNewFamilyIsTitledByItsDevice() throws {
        let gpu = VirtioGPUExchange(readable: LE32.bytes(0x0104) + [UInt8](repeating: 0, count: 20), written: nil)
        let event = try XCTUnwrap(VirtioVsockEvent([0, 0, 0, 0]))
        let cases: [(DevicePayload, String)] = [
            (.gpu(gpu), "virtio-gpu gpu RESOURCE_FLUSH"),
            (.socketEvent(event), "virtio-vsock vsock-event TRANSPORT_RESET"),
            (.input(VirtioInputEvents([1, 0, 30, 0, 1, 0, 0, 0], length: 8, fromDevice: true)), "virtio-input input EV_KEY KEY_A 1"),
            (.balloon(.hintCommand(0)), "virtio-balloon balloon free-page-hint command stop"),
        ]
        for (payload, text) in cases {
            let lines = PayloadText.lines(payload)
            XCTAssertEqual(lines.map(\.text), [text])
            XCTAssertEqual(lines.first?.spans.first?.style, CellStyle(.title, bold: true))
        }
        let broken = PayloadText.lines(.undecodable(family: "vsock", defect: .truncated(needed: 44, present: 3)))
        XCTAssertEqual(broken.map(\.text), ["vsock truncated: 3 of 44 bytes"])
        XCTAssertEqual(broken.first?.spans.first?.style, CellStyle(.error))
    }
}

private enum LE32 {
    static func bytes(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}
