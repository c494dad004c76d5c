import VQCore
@testable import VQTUI
import XCTest

/// The screen at every size: laid out without overlaps, cut rather than wrapped, never crashing.
final class LayoutTests: InspectorTestCase {
    static let sizes = [(80, 24), (120, 40), (200, 60), (40, 10), (100, 12), (179, 30), (180, 30), (300, 100)]
    static let tinySizes = [(0, 0), (1, 1), (10, 3), (39, 9), (80, 5), (5, 40), (40, 9)]

    func testPanesNeverOverlapAndStayOnScreen() {
        for (w, h) in Self.sizes {
            for focus in [Focus.queues, .view, .hexdump] {
                for queueCount in [0, 1, 2, 6, 64] {
                    let layout = ScreenLayout(width: w, height: h, queueCount: queueCount, focus: focus)
                    let rects = [layout.header, layout.queues, layout.view, layout.hexdump, layout.status].filter { $0.width > 0 && $0.height > 0 }
                    for r in rects {
                        XCTAssertTrue(r.x >= 0 && r.y >= 0 && r.x + r.width <= w && r.y + r.height <= h, "\(r) off a \(w)x\(h) screen")
                    }
                    for (i, a) in rects.enumerated() {
                        for b in rects[(i + 1)...] {
                            let apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y
                            XCTAssertTrue(apart, "\(a) and \(b) overlap at \(w)x\(h)")
                        }
                    }
                    XCTAssertTrue(layout.view.height >= 3 || layout.hexdump.height >= 3, "no room for a pane at \(w)x\(h)")
                    XCTAssertGreaterThanOrEqual(layout.queueRows, 1)
                }
            }
        }
    }

    func testEightyByTwentyFourLooksRight() {
        press(.enter)
        let grid = frame(width: 80, height: 24)
        XCTAssertTrue(grid.line(0).hasPrefix(" vqscope  pid 4242"))
        XCTAssertTrue(grid.line(0).hasSuffix("LIVE"))
        // Queue box, view box and hexdump box, one under the other, each closed.
        let tops = (0..<24).filter { grid.line($0).hasPrefix("┌") }
        let bottoms = (0..<24).filter { grid.line($0).hasPrefix("└") }
        XCTAssertEqual(tops.count, 3, grid.text)
        XCTAssertEqual(bottoms.count, 3, grid.text)
        for (top, bottom) in zip(tops, bottoms) {
            XCTAssertLessThan(top, bottom)
            XCTAssertTrue(grid.line(top).hasSuffix("┐") && grid.line(bottom).hasSuffix("┘"), "\(grid.line(top))\n\(grid.line(bottom))")
            for y in top + 1..<bottom {
                let l = grid.line(y)
                XCTAssertTrue(l.hasPrefix("│") && (l.hasSuffix("│") || l.hasSuffix("↑") || l.hasSuffix("↓")), l)
                XCTAssertEqual(l.unicodeScalars.count, 80, l)
            }
        }
        XCTAssertEqual(zip(bottoms, tops.dropFirst()).map { $1 - $0 }, [1, 1], "boxes follow each other")
        XCTAssertTrue(grid.line(23).hasPrefix(" q quit  ? help"), grid.line(23))
        // A long line is cut with an ellipsis, not wrapped.
        XCTAssertTrue(grid.text.contains("…"), grid.text)
    }

    func testLongTitleIsCutAndTheStateStays() {
        source.summary.title = "pid 4242 (" + String(repeating: "a-very-long-vm-name-", count: 10) + ", kvm, 256 KiB)"
        let grid = frame(width: 80, height: 24)
        XCTAssertTrue(grid.line(0).hasSuffix("LIVE"), grid.line(0))
        XCTAssertEqual(grid[78, 0].scalar, " ")
        XCTAssertEqual(grid[77, 0].scalar, "E")
        XCTAssertTrue(grid.line(0).contains("…"), grid.line(0))
    }

    func testWideScreensPutTheHexdumpBesideTheView() {
        let grid = frame(width: 200, height: 60)
        guard let y = row(containing: "Buffer", in: grid) else { return XCTFail(grid.text) }
        XCTAssertTrue(grid.line(y).contains("Chains") || grid.line(y).contains("Descriptors"), grid.line(y))
        XCTAssertEqual(row(containing: "Descriptors", in: grid), y)
    }

    func testTinyScreensSaySoAndNeverCrash() {
        for (w, h) in Self.tinySizes {
            let grid = frame(width: w, height: h)
            XCTAssertEqual(grid.width, w)
            if w >= 7 && h >= 1 { XCTAssertTrue(grid.line(0).hasPrefix("vqscope"), "\(w)x\(h): \(grid.text)") }
        }
        let grid = frame(width: 30, height: 3)
        assertShows("terminal too small (30x3)", in: grid)
    }

    func testEveryViewAndOverlayAtEverySizeDoesNotCrash() {
        source.scriptedPolls = [PollResult(indexes: try! source.currentIndexes(), events: [
            event(0, .available(head: 0), index: 1), event(0, .used(id: 5, length: 64), index: 0),
            event(0, .lapped(ring: .avail, missed: 3), index: 7),
        ])]
        press(.enter)
        let sizes = [(80, 24), (200, 60), (40, 10), (0, 0), (10, 3), (41, 11), (150, 20)]
        for queue in 0..<2 {
            for _ in InspectorView.allCases {
                for (w, h) in sizes {
                    _ = frame(width: w, height: h, advance: 0.01)
                }
                press(.down, .enter)
                for (w, h) in sizes { _ = render(width: w, height: h) }
                press(.backspace, .right)
                for (w, h) in sizes { _ = render(width: w, height: h) }
                press(.left, .tab)
            }
            press(.character("?"))
            for (w, h) in sizes { _ = render(width: w, height: h) }
            press(.escape, .character("g"))
            typeText(String(repeating: "f", count: 60))
            for (w, h) in sizes { _ = render(width: w, height: h) }
            press(.escape)
            press(.character(queue == 0 ? "]" : "["))
        }
        // An empty target: no queues at all.
        source.queues = []
        press(.character("r"))
        for (w, h) in sizes { _ = frame(width: w, height: h) }
        press(.enter, .tab, .down, .end, .pageDown, .character("s"), .character("x"), .character("n"))
        assertShows("no active virtqueues found", in: frame())
    }

    func testPromptKeepsTheCursorVisibleOnANarrowLine() {
        press(.character("g"))
        typeText(String(repeating: "1", count: 40))
        let grid = frame(width: 40, height: 10)
        XCTAssertTrue(grid.line(9).hasSuffix("1"), grid.line(9))
        XCTAssertTrue(grid[grid.line(9).unicodeScalars.count, 9].style.reverse, "the cursor cell")
    }
}
