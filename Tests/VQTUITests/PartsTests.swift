import VQCore
@testable import VQTUI
import XCTest

/// The small pieces on their own.
final class PartsTests: XCTestCase {
    func testSparkline() {
        XCTAssertEqual(Sparkline.render([0, 1, 2, 3, 4, 5, 6, 7, 8]), "·▁▂▃▄▅▆▇█")
        XCTAssertEqual(Sparkline.render([0, 0, 0]), "···")
        XCTAssertEqual(Sparkline.render([1, 1000]), "▁█", "a single buffer next to a burst still shows")
        XCTAssertEqual(Sparkline.render([]), "")
    }

    func testQueueActivityRatesAndBuckets() {
        var a = QueueActivity()
        a.update(RingIndexes(available: 10, used: 7), at: 0)
        XCTAssertEqual(a.inFlight, 3)
        XCTAssertEqual(a.rate(at: 0), 0)
        for i in 0..<50 { a.record(.used(id: 1, length: 1), at: 10 + Double(i) * 0.04) }  // 25 a second for 2 s
        XCTAssertEqual(a.rate(at: 11.99), 25, accuracy: 1)
        XCTAssertEqual(a.completions, 50)
        let seconds = a.perSecond(last: 5, at: 11.99)
        XCTAssertEqual(seconds, [0, 0, 0, 25, 25])
        XCTAssertEqual(a.rate(at: 20), 0, "nothing in the last two seconds")
        XCTAssertEqual(a.perSecond(last: 30, at: 60), [Int](repeating: 0, count: 30), "old buckets are forgotten")
        a.record(.lapped(ring: .used, missed: 40), at: 61)
        XCTAssertEqual(a.completions, 90)
        a.record(.available(head: 1), at: 61)
        XCTAssertEqual(a.additions, 1)
        // Index wrap: in flight counts modulo 2^16.
        a.update(RingIndexes(available: 2, used: 65534), at: 62)
        XCTAssertEqual(a.inFlight, 4)
    }

    func testHexInput() {
        XCTAssertEqual(HexInput.parse("0x1000"), 0x1000)
        XCTAssertEqual(HexInput.parse("1000h"), 0x1000)
        XCTAssertEqual(HexInput.parse("1000"), 0x1000)
        XCTAssertEqual(HexInput.parse(" 0X1_0000 "), 0x10000)
        XCTAssertEqual(HexInput.parse("ffffffffffffffff"), .max)
        XCTAssertNil(HexInput.parse(""))
        XCTAssertNil(HexInput.parse("0x"))
        XCTAssertNil(HexInput.parse("xyz"))
        XCTAssertNil(HexInput.parse("1ffffffffffffffff"))
    }

    func testPromptEditing() {
        var p = Prompt(purpose: .find)
        XCTAssertEqual(p.handle(.character("a")), .editing)
        XCTAssertEqual(p.handle(.character("b")), .editing)
        XCTAssertEqual(p.handle(.backspace), .editing)
        XCTAssertEqual(p.handle(.up), .editing)
        XCTAssertEqual(p.handle(.character("é")), .editing, "not ASCII: ignored")
        XCTAssertEqual(p.text, "a")
        XCTAssertEqual(p.handle(.enter), .confirmed("a"))
        XCTAssertEqual(p.handle(.escape), .cancelled)
        for _ in 0..<100 { _ = p.handle(.character("1")) }
        XCTAssertEqual(p.text.count, Prompt.maxLength)
    }

    func testRefreshRateSteps() {
        var r = RefreshRate(hz: 10)
        r.faster()
        XCTAssertEqual(r.hz, 20)
        r = RefreshRate(hz: 15)
        r.slower()
        XCTAssertEqual(r.hz, 10)
        r = RefreshRate(hz: 0)
        XCTAssertEqual(r.hz, 0.1, "clamped")
        XCTAssertEqual(r.label, "0.1 Hz")
        r.faster()
        XCTAssertEqual(r.hz, 1)
        XCTAssertEqual(RefreshRate(hz: .nan).hz, 10)
        XCTAssertEqual(RefreshRate(hz: 1000).hz, 60)
    }

    func testScrollKeepsTheSelectionVisible() {
        XCTAssertEqual(Scroll.top(selection: 0, count: 100, visible: 10, previous: 0), 0)
        XCTAssertEqual(Scroll.top(selection: 15, count: 100, visible: 10, previous: 0), 6)
        XCTAssertEqual(Scroll.top(selection: 8, count: 100, visible: 10, previous: 6), 6, "no move while visible")
        XCTAssertEqual(Scroll.top(selection: 2, count: 100, visible: 10, previous: 6), 2)
        XCTAssertEqual(Scroll.top(selection: 99, count: 100, visible: 10, previous: 0), 90)
        XCTAssertEqual(Scroll.top(selection: 5, count: 8, visible: 10, previous: 3), 0, "everything fits")
        XCTAssertEqual(Scroll.top(selection: 3, count: 100, visible: 0, previous: 50), 0)
    }

    func testEventLogKeepsTheNewestAndCountsWhatFellOff() {
        var log = EventLog(capacity: 3)
        for i in 0..<5 { log.append(RingEvent(queue: i % 2, kind: .available(head: UInt16(i)), index: UInt16(i)), at: Double(i)) }
        XCTAssertEqual(log.entries.map(\.index), [2, 3, 4])
        XCTAssertEqual(log.nextSequence, 5)
        XCTAssertEqual(log.dropped, 2)
        XCTAssertEqual(log.entries(before: 4, queue: nil).map(\.index), [2, 3])
        XCTAssertEqual(log.entries(before: 10, queue: 0).map(\.index), [2, 4])
    }

    func testTextFormat() {
        XCTAssertEqual(TextFormat.pad("abc", 5), "abc  ")
        XCTAssertEqual(TextFormat.pad("abcdef", 4), "abc…")
        XCTAssertEqual(TextFormat.lpad("7", 3), "  7")
        XCTAssertEqual(TextFormat.decimal(2.25, places: 1), "2.3")
        XCTAssertEqual(TextFormat.decimal(-0.04, places: 1), "0.0")
        XCTAssertEqual(TextFormat.rate(0), "0")
        XCTAssertEqual(TextFormat.rate(153.4), "153")
        XCTAssertEqual(TextFormat.rate(12_345), "12.3k")
        XCTAssertEqual(TextFormat.timestamp(12.3456), "12.346")
    }

    func testStyledLineIsCutWithAnEllipsis() {
        var grid = ScreenGrid(width: 10, height: 1)
        grid.draw(StyledLine([Span("abcdef", .accent), Span("ghijkl", .error)]), x: 0, y: 0, width: 8)
        XCTAssertEqual(grid.line(0), "abcdefg…")
        XCTAssertEqual(grid[0, 0].style.role, .accent)
        XCTAssertEqual(grid[6, 0].style.role, .error)
        grid.draw(StyledLine("zz"), x: 0, y: 0, width: 0)
        XCTAssertEqual(grid.line(0), "abcdefg…")
    }
}
