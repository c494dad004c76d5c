/// A run of text drawn in one style.
struct Span: Hashable, Sendable {
    var text: String
    var style: CellStyle

    init(_ text: String, _ style: CellStyle = .normal) {
        self.text = text
        self.style = style
    }
}

/// One line of styled text: what the renderers build and ``ScreenGrid/draw(_:x:y:width:)`` draws.
struct StyledLine: Hashable, Sendable {
    var spans: [Span]

    init(_ spans: [Span] = []) { self.spans = spans }

    /// A line in one style.
    init(_ text: String, _ style: CellStyle = .normal) { spans = [Span(text, style)] }

    /// Adds text at the end.
    mutating func append(_ text: String, _ style: CellStyle = .normal) { spans.append(Span(text, style)) }

    /// Adds text padded or cut to `width` cells.
    mutating func append(_ text: String, width: Int, _ style: CellStyle = .normal) {
        spans.append(Span(TextFormat.pad(text, width), style))
    }

    /// Adds text padded on the left to `width` cells (numbers).
    mutating func appendRight(_ text: String, width: Int, _ style: CellStyle = .normal) {
        spans.append(Span(TextFormat.lpad(text, width), style))
    }

    /// The text without styles.
    var text: String { spans.map(\.text).joined() }

    /// Cells the line takes.
    var width: Int { spans.reduce(0) { $0 + TextFormat.width($1.text) } }
}

extension CellStyle {
    static let dim = CellStyle(.dim)
    static let accent = CellStyle(.accent)
    static let good = CellStyle(.good)
    static let warning = CellStyle(.warning)
    static let error = CellStyle(.error)
    static let changed = CellStyle(.changed, bold: true)
    static let header = CellStyle(.header, bold: true)
    static let title = CellStyle(.title, bold: true)
    static let border = CellStyle(.border)
}

extension ScreenGrid {
    /// Draws `line` from column `x` of row `y` within `width` cells; a line that does not fit is cut
    /// and ends in `…`. Returns the column after the last cell drawn.
    @discardableResult
    mutating func draw(_ line: StyledLine, x: Int, y: Int, width: Int) -> Int {
        guard width > 0 else { return x }
        let overflows = line.width > width
        let room = overflows ? width - 1 : width
        var column = x
        for span in line.spans {
            let left = x + room - column
            guard left > 0 else { break }
            column = put(span.text, x: column, y: y, style: span.style, limit: left)
        }
        if overflows {
            let lastStyle = line.spans.last(where: { !$0.text.isEmpty })?.style ?? .normal
            column = put("…", x: x + width - 1, y: y, style: lastStyle, limit: 1)
        }
        return column
    }
}
