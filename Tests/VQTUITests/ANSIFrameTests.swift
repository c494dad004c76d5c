import XCTest
@testable import VQTUI

/// The bytes a frame is written as on an ANSI terminal: only changed cells, the cursor moved and
/// the style set only where needed, UTF-8, and never the bottom-right cell.
final class ANSIFrameTests: XCTestCase {
    private func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\u{1b}", with: "⎋")
    }

    private func sgr(_ style: CellStyle) -> [UInt8] {
        Array((style == .normal ? "<n>" : "<\(style.role.rawValue)\(style.bold ? "b" : "")>").utf8)
    }

    func testTheFirstFrameClearsTheScreenAndWritesWhatIsNotBlank() {
        var grid = ScreenGrid(width: 6, height: 2)
        grid.put("ab", x: 1, y: 0)
        grid.put("─┐", x: 3, y: 1, style: CellStyle(.border))
        XCTAssertEqual(text(ANSIFrame.bytes(grid, over: nil, rows: [0, 1], sgr: sgr)),
                       "⎋[0m⎋[H⎋[2J⎋[1;2H<n>ab⎋[2;4H<4>─┐⎋[0m")
    }

    func testTheBottomRightCellIsNeverWritten() {
        var grid = ScreenGrid(width: 3, height: 2)
        grid.put("xyz", x: 0, y: 1)
        XCTAssertEqual(text(ANSIFrame.bytes(grid, over: nil, rows: [0, 1], sgr: sgr)), "⎋[0m⎋[H⎋[2J⎋[2;1H<n>xy⎋[0m")
    }

    func testANextFrameWritesOnlyTheChangedCellsOfTheRowsGiven() {
        var before = ScreenGrid(width: 10, height: 3)
        before.put("used 41", x: 0, y: 1)
        var after = before
        after.put("used 42", x: 0, y: 1)
        after.put("!", x: 9, y: 1, style: CellStyle(.error, bold: true))
        XCTAssertEqual(text(ANSIFrame.bytes(after, over: before, rows: [1], sgr: sgr)), "⎋[2;7H<n>2⎋[2;10H<8b>!⎋[0m")
        XCTAssertEqual(ANSIFrame.bytes(after, over: after, rows: [0, 1, 2], sgr: sgr), [], "nothing changed: nothing written")
    }

    func testNeighbouringChangedCellsShareOneMoveAndOneStyle() {
        let before = ScreenGrid(width: 8, height: 2)
        var after = before
        after.put("abc", x: 2, y: 0, style: CellStyle(.accent))
        XCTAssertEqual(text(ANSIFrame.bytes(after, over: before, rows: [0], sgr: sgr)), "⎋[1;3H<5>abc⎋[0m")
    }

    func testAGridOfAnotherSizeIsWrittenWhole() {
        var small = ScreenGrid(width: 4, height: 2)
        small.put("ab", x: 0, y: 0)
        var large = ScreenGrid(width: 5, height: 2)
        large.put("ab", x: 0, y: 0)
        XCTAssertEqual(text(ANSIFrame.bytes(large, over: small, rows: [0, 1], sgr: sgr)), "⎋[0m⎋[H⎋[2J⎋[1;1H<n>ab⎋[0m")
    }

    func testStylesAreSGRWithCursesColorNumbers() {
        XCTAssertEqual(text(ANSIStyle().sgr), "⎋[0m")
        XCTAssertEqual(text(ANSIStyle(foreground: 0, background: 6, bold: true, reverse: true).sgr), "⎋[0;1;7;30;46m")
        XCTAssertEqual(text(ANSIStyle(foreground: 7, dim: true, underline: true).sgr), "⎋[0;2;4;37m")
    }

    func testScalarsAreUTF8() {
        var out: [UInt8] = []
        for s in ["a", "é", "─", "⣿", "😀"] as [Unicode.Scalar] { ANSIFrame.appendUTF8(s, &out) }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "aé─⣿😀")
        out = []
        ANSIFrame.appendMove(to: 159, 47, &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "\u{1b}[48;160H")
    }
}
