/// A rectangle of the screen, in cells.
struct Rect: Hashable, Sendable {
    var x: Int, y: Int, width: Int, height: Int

    static let zero = Rect(x: 0, y: 0, width: 0, height: 0)

    /// The rectangle inside a one-cell border.
    var inner: Rect { Rect(x: x + 1, y: y + 1, width: max(0, width - 2), height: max(0, height - 2)) }
    var bottom: Int { y + height }
}

/// Where each pane goes at a given terminal size. The header takes the top row and the status line
/// the bottom one; the queue list takes up to a quarter of the rest; the view and the hexdump share
/// what is left: side by side from 180 columns, stacked otherwise (the focused one taller), and on
/// short terminals the hexdump only shows while it has the focus.
struct ScreenLayout: Hashable, Sendable {
    /// Smallest size that gets the full screen; anything smaller says it is too small.
    static let minimumWidth = 40
    static let minimumHeight = 10
    /// Width of the hexdump box when it sits beside the view (16 bytes a line).
    static let sideHexWidth = 81

    var width: Int
    var height: Int
    var header = Rect.zero
    var queues = Rect.zero
    var view = Rect.zero
    var hexdump = Rect.zero
    var status = Rect.zero

    /// Whether the terminal is below the minimum size.
    var isTiny: Bool { width < Self.minimumWidth || height < Self.minimumHeight }

    init(width: Int, height: Int, queueCount: Int, focus: Focus) {
        self.width = max(0, width)
        self.height = max(0, height)
        guard !isTiny else { return }
        header = Rect(x: 0, y: 0, width: width, height: 1)
        status = Rect(x: 0, y: height - 1, width: width, height: 1)
        let body = height - 2
        let maxQueueRows = max(1, body / 4)
        let queueRows = min(max(1, queueCount), maxQueueRows)
        queues = Rect(x: 0, y: 1, width: width, height: queueRows + 3)
        let top = queues.bottom
        let middle = status.y - top
        if width >= 180 {
            let hexWidth = min(Self.sideHexWidth, width / 2)
            view = Rect(x: 0, y: top, width: width - hexWidth, height: middle)
            hexdump = Rect(x: width - hexWidth, y: top, width: hexWidth, height: middle)
        } else if middle >= 12 {
            let hexHeight = focus == .hexdump ? max(6, middle - 6) : (middle >= 20 ? middle * 2 / 5 : 6)
            view = Rect(x: 0, y: top, width: width, height: middle - hexHeight)
            hexdump = Rect(x: 0, y: top + middle - hexHeight, width: width, height: hexHeight)
        } else if focus == .hexdump {
            hexdump = Rect(x: 0, y: top, width: width, height: middle)
        } else {
            view = Rect(x: 0, y: top, width: width, height: middle)
        }
    }

    /// Rows of queues the list shows.
    var queueRows: Int { max(0, queues.height - 3) }
}

/// Keeps a selected row inside a scrolling window.
enum Scroll {
    /// The first row to show so that `selection` is visible, moving as little as possible from
    /// `top`, and never leaving empty rows at the end when there are enough rows to fill them.
    static func top(selection: Int, count: Int, visible: Int, previous top: Int) -> Int {
        guard visible > 0, count > visible else { return 0 }
        var result = min(max(0, top), count - visible)
        if selection < result { result = selection }
        if selection >= result + visible { result = selection - visible + 1 }
        return min(max(0, result), count - visible)
    }
}
