@testable import VQTUI
import VQCore
import XCTest

/// The Events view's kicks and interrupts a second per queue, from QEMU's own events.
final class QEMUEventRatesTests: XCTestCase {
    func event(_ kind: ProbeEvent.Kind) -> ProbeEvent {
        ProbeEvent(nanoseconds: 1, kind: kind, thread: 1, subject: .virtQueue(0x10), head: kind == .pop ? 3 : nil, outCount: 1, inCount: 2)
    }

    func testRatesAreTheLastFullSecondsCounts() {
        var log = EventLog()
        for t in stride(from: 10.0, to: 10.9, by: 0.1) {
            log.append(event(.kick), queue: 0, at: t)
            log.append(event(.interrupt), queue: 0, at: t)
        }
        log.append(event(.suppressed), queue: 2, at: 10.5)
        log.append(event(.pop), queue: 0, at: 10.5)
        XCTAssertNil(log.qemuRates.last[0], "no full second yet")
        log.rollRates(to: 11.2)
        XCTAssertEqual(log.qemuRates.last[0], QEMUEventRates.Counts(kicks: 9, interrupts: 9, suppressed: 0))
        XCTAssertEqual(log.qemuRates.last[2], QEMUEventRates.Counts(kicks: 0, interrupts: 0, suppressed: 1))
        // A second with nothing shows nothing.
        log.rollRates(to: 13.0)
        XCTAssertTrue(log.qemuRates.last.isEmpty)
        // The log keeps QEMU's events as rows, with what they carry.
        let kinds = log.entries.compactMap { e -> String? in
            if case .qemu(let kind, let detail) = e.kind { return "\(kind.rawValue) \(detail)" }
            return nil
        }
        XCTAssertEqual(kinds.count, 20)
        XCTAssertTrue(kinds.contains("pop head 3 out 1 in 2"), "\(kinds)")
    }
}
