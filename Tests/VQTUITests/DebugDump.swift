import Foundation
@testable import VQTUI

/// Writes a screen to /tmp for debugging a failing test by eye.
func debugDump(_ grid: ScreenGrid, _ name: String = "screen") {
    try? grid.text.write(toFile: "/tmp/tui-\(name).txt", atomically: true, encoding: .utf8)
}
