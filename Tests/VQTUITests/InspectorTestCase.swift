import VQCore
@testable import VQTUI
import XCTest

/// Shared set-up: a fake source, an inspector started on it, and helpers to run frames and keys.
class InspectorTestCase: XCTestCase {
    var source: FakeSource!
    var inspector: Inspector!
    /// The fake clock, in seconds.
    var now = 100.0

    override func setUp() {
        super.setUp()
        source = FakeSource()
        inspector = Inspector(source: source)
        now = 100
        inspector.start(now: now)
        inspector.poll(now: now)
    }

    /// Advances the clock, polls, refreshes and renders a frame of the given size.
    @discardableResult
    func frame(width: Int = 120, height: Int = 40, advance: Double = 0.1) -> ScreenGrid {
        now += advance
        inspector.poll(now: now)
        inspector.refresh(now: now)
        return render(width: width, height: height)
    }

    /// Renders without reading anything.
    func render(width: Int = 120, height: Int = 40) -> ScreenGrid {
        var grid = ScreenGrid(width: width, height: height)
        inspector.render(into: &grid, now: now)
        return grid
    }

    /// Presses keys in order; returns the last action.
    @discardableResult
    func press(_ keys: Key...) -> InspectorAction {
        var action = InspectorAction.none
        for key in keys { action = inspector.handle(key, now: now) }
        return action
    }

    /// Types text, one character a key.
    func typeText(_ text: String) {
        for c in text { _ = inspector.handle(.character(c), now: now) }
    }

    /// The first row holding `text`, if any.
    func row(containing text: String, in grid: ScreenGrid) -> Int? {
        (0..<grid.height).first { grid.line($0).contains(text) }
    }

    /// The style of the first cell of `text` on the screen.
    func style(of text: String, in grid: ScreenGrid, file: StaticString = #filePath, line: UInt = #line) -> CellStyle? {
        for y in 0..<grid.height {
            let l = grid.line(y)
            if let range = l.range(of: text) {
                let x = l.unicodeScalars.distance(from: l.unicodeScalars.startIndex, to: range.lowerBound.samePosition(in: l.unicodeScalars)!)
                return grid[x, y].style
            }
        }
        XCTFail("'\(text)' is not on the screen (\(saved(grid, line: line)))", file: file, line: line)
        return nil
    }

    /// Saves a screen a failing assertion looked at, and says where (long messages get lost).
    func saved(_ grid: ScreenGrid, line: UInt) -> String {
        let name = "\(Swift.type(of: self))-\(line)"
        debugDump(grid, name)
        return "screen in /tmp/tui-\(name).txt"
    }

    /// Asserts the screen shows `text` somewhere.
    func assertShows(_ text: String, in grid: ScreenGrid, file: StaticString = #filePath, line: UInt = #line) {
        guard !grid.contains(text) else { return }
        XCTFail("'\(text)' is not on the screen (\(saved(grid, line: line)))", file: file, line: line)
    }

    func assertHides(_ text: String, in grid: ScreenGrid, file: StaticString = #filePath, line: UInt = #line) {
        guard grid.contains(text) else { return }
        XCTFail("'\(text)' should not be on the screen (\(saved(grid, line: line)))", file: file, line: line)
    }

    /// Tabs to `view` (Tab from the current one) and returns a fresh frame.
    func open(_ view: InspectorView, width: Int = 120, height: Int = 40) -> ScreenGrid {
        for _ in 0..<InspectorView.allCases.count where inspector.state.nav.view != view { press(.tab) }
        XCTAssertEqual(inspector.state.nav.view, view)
        return frame(width: width, height: height)
    }

    /// Whether the tab `title` is drawn highlighted (the current view).
    func isCurrentTab(_ title: String, in grid: ScreenGrid) -> Bool {
        guard row(containing: " \(title) ", in: grid) != nil else { return false }
        return style(of: " \(title) ", in: grid).map { $0.reverse } ?? false
    }
}
