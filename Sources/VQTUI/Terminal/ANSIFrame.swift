/// A cell style as an ANSI terminal draws it: SGR attributes and colors (0–7, or nil for the
/// terminal's default).
struct ANSIStyle: Hashable, Sendable {
    var foreground: UInt8?
    var background: UInt8?
    var bold = false
    var dim = false
    var underline = false
    var reverse = false

    /// `ESC [ 0 ; … m`: every attribute reset, then this style's.
    var sgr: [UInt8] {
        var text = "\u{1b}[0"
        if bold { text += ";1" }
        if dim { text += ";2" }
        if underline { text += ";4" }
        if reverse { text += ";7" }
        if let foreground { text += ";3\(foreground)" }
        if let background { text += ";4\(background)" }
        return Array((text + "m").utf8)
    }
}

/// The bytes that take an ANSI terminal from one frame to the next: for each changed cell, the
/// cursor moved where it is not already, the style set where it changes, the character as UTF-8.
/// The first frame (or one of a new size) clears the screen and writes every cell that is not
/// blank. The bottom-right cell is never written: the cursor's advance there scrolls some terminals.
enum ANSIFrame {
    static let reset = Array("\u{1b}[0m".utf8)
    static let clear = Array("\u{1b}[0m\u{1b}[H\u{1b}[2J".utf8)

    /// `grid` written over `previous` (nil: a cleared screen); `sgr` gives each style's sequence.
    /// Empty when nothing changed.
    static func bytes(_ grid: ScreenGrid, over previous: ScreenGrid?, rows: [Int], sgr: (CellStyle) -> [UInt8]) -> [UInt8] {
        let old = previous.flatMap { $0.width == grid.width && $0.height == grid.height ? $0 : nil }
        var out: [UInt8] = old == nil ? clear : []
        let width = grid.width, height = grid.height
        let blank = Cell()
        var cursor = (x: -1, y: -1)
        var style: CellStyle?
        grid.cells.withUnsafeBufferPointer { cells in
            for y in rows where y >= 0 && y < height {
                for x in 0..<width where !(y == height - 1 && x == width - 1) {
                    let cell = cells[y * width + x]
                    if let old { if old.cells[y * width + x] == cell { continue } } else if cell == blank { continue }
                    if cursor.x != x || cursor.y != y { appendMove(to: x, y, &out) }
                    if style != cell.style {
                        out += sgr(cell.style)
                        style = cell.style
                    }
                    appendUTF8(cell.scalar, &out)
                    cursor = (x + 1, y)
                }
            }
        }
        if style != nil { out += reset }
        return out
    }

    /// `ESC [ row ; column H`, 1-based.
    static func appendMove(to x: Int, _ y: Int, _ out: inout [UInt8]) {
        out += [0x1b, UInt8(ascii: "[")]
        appendDecimal(y + 1, &out)
        out.append(UInt8(ascii: ";"))
        appendDecimal(x + 1, &out)
        out.append(UInt8(ascii: "H"))
    }

    static func appendDecimal(_ value: Int, _ out: inout [UInt8]) {
        out.append(contentsOf: String(max(0, value)).utf8)
    }

    static func appendUTF8(_ scalar: Unicode.Scalar, _ out: inout [UInt8]) {
        UTF8.encode(scalar) { out.append($0) }
    }
}
