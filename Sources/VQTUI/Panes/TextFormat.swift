import VQCore

/// Column formatting for the screens: padding and truncation counted in Unicode scalars (one scalar
/// is one cell of a ``ScreenGrid``), and numbers without Foundation.
enum TextFormat {
    /// Whether `text` holds `part`, compared as UTF-8 bytes (what a frame can afford; the standard
    /// library's `contains` goes through its string-processing machinery).
    static func contains(_ text: String, _ part: String) -> Bool {
        let t = Array(text.utf8), p = Array(part.utf8)
        guard !p.isEmpty else { return true }
        guard p.count <= t.count else { return false }
        return (0...(t.count - p.count)).contains { i in t[i..<i + p.count].elementsEqual(p) }
    }

    /// Cells `text` takes on the grid.
    static func width(_ text: String) -> Int {
        // Scalars are the UTF-8 bytes that do not continue one: counted over the bytes in place.
        text.utf8.withContiguousStorageIfAvailable { bytes in bytes.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) } }
            ?? text.unicodeScalars.count
    }

    /// `text` cut or padded with spaces on the right to exactly `width` cells; a cut ends in `…`.
    static func pad(_ text: String, _ width: Int) -> String {
        guard width > 0 else { return "" }
        let n = self.width(text)
        if n == width { return text }
        if n < width { return text + String(repeating: " ", count: width - n) }
        return truncate(text, width)
    }

    /// `text` padded with spaces on the left to `width` cells (numbers); longer text is kept whole.
    static func lpad(_ text: String, _ width: Int) -> String {
        let n = self.width(text)
        return n >= width ? text : String(repeating: " ", count: width - n) + text
    }

    /// `text` cut to at most `width` cells, ending in `…` when cut.
    static func truncate(_ text: String, _ width: Int) -> String {
        guard width > 0 else { return "" }
        let scalars = text.unicodeScalars
        guard scalars.count > width else { return text }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars.prefix(width - 1))
        view.append("…")
        return String(view)
    }

    /// `value` with `places` decimals, rounded (no Foundation).
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<max(0, places) { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e15 else { return value < 0 ? "-huge" : "huge" }
        let whole = Int(scaled) / Int(scale), fraction = Int(scaled) % Int(scale)
        let sign = value < 0 && scaled > 0 ? "-" : ""
        guard places > 0 else { return sign + String(whole) }
        return sign + String(whole) + "." + String(fraction).leftPadded(places)
    }

    /// A rate for the queue list: `0`, `7.5`, `153`, `12.3k`, `1.2M`.
    static func rate(_ perSecond: Double) -> String {
        switch perSecond {
        case ..<0.05: return "0"
        case ..<100: return decimal(perSecond, places: 1)
        case ..<10_000: return decimal(perSecond, places: 0)
        case ..<10_000_000: return decimal(perSecond / 1000, places: 1) + "k"
        default: return decimal(perSecond / 1_000_000, places: 1) + "M"
        }
    }

    /// Seconds since the inspector started, as event timestamps show them: `12.345`.
    static func timestamp(_ seconds: Double) -> String { decimal(max(0, seconds), places: 3) }

    /// `0x1f`.
    static func hex<T: BinaryInteger>(_ value: T) -> String { Hex.string(UInt64(truncatingIfNeeded: value)) }

    /// Hex digits only, at least `digits` wide: `0001f`.
    static func hexDigits<T: BinaryInteger>(_ value: T, _ digits: Int) -> String {
        String(UInt64(truncatingIfNeeded: value), radix: 16).leftPadded(digits)
    }
}
