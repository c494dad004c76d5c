/// What a cell is drawn as: a role the terminal maps to a color pair that also reads on a
/// 16-color terminal, and the attributes on top of it.
public struct CellStyle: Hashable, Sendable {
    /// The meaning of a piece of text; the terminal backend picks the colors.
    public enum Role: UInt8, Hashable, Sendable, CaseIterable {
        case normal, dim, title, header, border, accent, good, warning, error, changed, selected
    }

    public var role: Role
    public var bold: Bool
    public var reverse: Bool
    public var underline: Bool

    public init(_ role: Role = .normal, bold: Bool = false, reverse: Bool = false, underline: Bool = false) {
        self.role = role
        self.bold = bold
        self.reverse = reverse
        self.underline = underline
    }

    public static let normal = CellStyle()
}

/// One character cell: a single-width Unicode scalar and its style.
public struct Cell: Hashable, Sendable {
    public var scalar: Unicode.Scalar
    public var style: CellStyle

    public init(_ scalar: Unicode.Scalar = " ", style: CellStyle = .normal) {
        self.scalar = scalar
        self.style = style
    }
}

/// An in-memory screen: what the inspector renders into, what the terminal backend copies to the
/// real terminal, and what tests read back as text. Writes outside the grid are clipped.
public struct ScreenGrid: Hashable, Sendable {
    public private(set) var width: Int
    public private(set) var height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { contains(x: x, y: y) ? cells[y * width + x] : Cell() }
        set { if contains(x: x, y: y) { cells[y * width + x] = newValue } }
    }

    public func contains(x: Int, y: Int) -> Bool { x >= 0 && y >= 0 && x < width && y < height }

    /// Writes `text` from column `x` of row `y`, at most `limit` cells (default: to the right
    /// edge). Characters that are not single-width (wide, combining, control) are drawn as `?`.
    /// Returns the column after the last cell written.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: CellStyle = .normal, limit: Int? = nil) -> Int {
        guard y >= 0 && y < height else { return x }
        let end = min(width, limit.map { x + max(0, $0) } ?? width)
        var column = x
        let row = y * width
        cells.withUnsafeMutableBufferPointer { cells in
            for scalar in text.unicodeScalars {
                guard column < end else { break }
                if column >= 0 { cells[row + column] = Cell(Self.isSingleWidth(scalar) ? scalar : "?", style: style) }
                column += 1
            }
        }
        return column
    }

    /// Fills a rectangle with one character.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, with scalar: Unicode.Scalar = " ", style: CellStyle = .normal) {
        let cell = Cell(scalar, style: style)
        let width = self.width, columns = Self.span(x, w, width)
        cells.withUnsafeMutableBufferPointer { cells in
            for row in Self.span(y, h, height) {
                for column in columns { cells[row * width + column] = cell }
            }
        }
    }

    /// Restyles a row span without changing its characters (a selection bar, a highlight).
    public mutating func restyle(x: Int, y: Int, width w: Int, style: CellStyle) {
        guard y >= 0 && y < height else { return }
        let row = y * width
        cells.withUnsafeMutableBufferPointer { cells in
            for column in Self.span(x, w, width) { cells[row + column].style = style }
        }
    }

    /// Draws a box with Unicode line drawing, with an optional title in its top edge.
    public mutating func box(x: Int, y: Int, width w: Int, height h: Int, title: String? = nil, style: CellStyle = CellStyle(.border)) {
        guard w >= 2 && h >= 2 && w < 1 << 16 && h < 1 << 16 else { return }
        for column in x + 1..<x + w - 1 {
            self[column, y] = Cell("─", style: style)
            self[column, y + h - 1] = Cell("─", style: style)
        }
        for row in y + 1..<y + h - 1 {
            self[x, row] = Cell("│", style: style)
            self[x + w - 1, row] = Cell("│", style: style)
        }
        self[x, y] = Cell("┌", style: style)
        self[x + w - 1, y] = Cell("┐", style: style)
        self[x, y + h - 1] = Cell("└", style: style)
        self[x + w - 1, y + h - 1] = Cell("┘", style: style)
        if let title, w > 4 {
            put(" \(title) ", x: x + 1, y: y, style: CellStyle(.title, bold: true), limit: w - 2)
        }
    }

    /// The part of `start..<start+count` inside `0..<limit` (empty when none is).
    static func span(_ start: Int, _ count: Int, _ limit: Int) -> Range<Int> {
        let lower = max(0, start), upper = min(limit, start + max(0, count))
        return lower < upper ? lower..<upper : 0..<0
    }

    /// Row `y` as text, trailing spaces removed.
    public func line(_ y: Int) -> String {
        guard y >= 0 && y < height else { return "" }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: cells[y * width..<(y + 1) * width].map(\.scalar))
        var line = String(text)
        while line.last == " " { line.removeLast() }
        return line
    }

    /// The whole grid as text, one line a row: what unit tests compare.
    public var text: String { (0..<height).map(line).joined(separator: "\n") }

    /// Whether the grid has `text` anywhere on one row.
    public func contains(_ text: String) -> Bool { (0..<height).contains { line($0).contains(text) } }

    /// Printable ASCII and the box-drawing, block and Braille ranges used by the screens are single
    /// width; everything else is replaced so that columns stay aligned.
    static func isSingleWidth(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x20...0x7e, 0xa0...0x2ff, 0x2010...0x2027, 0x2030...0x205e, 0x2190...0x21ff, 0x2500...0x259f, 0x25a0...0x25ff, 0x2800...0x28ff, 0x2713, 0x2717:
            return true
        default:
            return false
        }
    }
}
