import VQCore
@testable import VQTUI
import XCTest

final class NavigationTests: InspectorTestCase {
    /// The text of the selected row of the view: the one drawn as a reversed selection bar.
    func selectedRow(_ grid: ScreenGrid) -> String? {
        for y in 0..<grid.height {
            let cell = grid[2, y]
            if cell.style.role == .selected && cell.style.reverse && !grid.line(y).contains("virtio-") { return grid.line(y) }
        }
        return nil
    }

    func testEnterFollowsQueueChainDescriptorAndBufferAndBackspaceReturns() {
        var grid = frame()
        XCTAssertTrue(grid.line(row(containing: "virtio-blk:0", in: grid)!).contains("▶"))
        // Queue → its chains: the first live chain is selected.
        press(.enter)
        grid = frame()
        XCTAssertTrue(isCurrentTab("Chains", in: grid))
        XCTAssertTrue(selectedRow(grid)?.contains("head 0") == true, selectedRow(grid) ?? grid.text)
        // Chain → its head descriptor in the table.
        press(.enter)
        grid = frame()
        XCTAssertTrue(isCurrentTab("Descriptors", in: grid))
        XCTAssertTrue(selectedRow(grid)?.contains("0  0x30000") == true, selectedRow(grid) ?? "")
        // A NEXT link → the next descriptor, twice.
        press(.enter)
        XCTAssertTrue(selectedRow(frame())?.contains("1  0x31000") == true)
        press(.enter)
        grid = frame()
        XCTAssertTrue(selectedRow(grid)?.contains("2  0x32000") == true)
        // The last one has no link: Enter hexdumps its buffer, with GPA and HVA.
        press(.enter)
        grid = frame()
        XCTAssertEqual(inspector.state.nav.focus, .hexdump)
        assertShows("Buffer · desc 2 · live chain @1", in: grid)
        assertShows("GPA 0x32000 → HVA 0x7f0000032000 (pc.ram) · 1 B · device-writable", in: grid)
        // Backspace: back through every step, to the queue list.
        press(.backspace)
        XCTAssertTrue(selectedRow(frame())?.contains("2  0x32000") == true)
        press(.backspace, .backspace)
        XCTAssertTrue(selectedRow(frame())?.contains("0  0x30000") == true)
        press(.backspace)
        grid = frame()
        XCTAssertTrue(isCurrentTab("Chains", in: grid))
        press(.backspace)
        XCTAssertEqual(inspector.state.nav.focus, .queues)
        press(.backspace)
        assertShows("nothing to go back to", in: frame())
    }

    func testEnterOnAnIndirectDescriptorOpensItsTable() {
        _ = open(.descriptors)
        press(.down, .down, .down)  // the chain of head 0 is selected at first; descriptor 3 is INDIRECT
        var grid = frame()
        XCTAssertTrue(selectedRow(grid)?.contains("3  0x33000") == true, selectedRow(grid) ?? "")
        // The hexdump pane says the bytes are a table of descriptors, not a buffer of data.
        assertShows("Buffer · indirect table of desc 3 · live chain @2", in: grid)
        assertShows("GPA 0x33000 → HVA 0x7f0000033000 (pc.ram) · 48 B · 3 descriptors (Enter opens them)", in: grid)
        XCTAssertFalse(grid.text.contains("48 B · device-readable"), grid.text)
        press(.enter)
        grid = frame()
        assertShows("Indirect table at 0x33000 · 3 entries · named by desc 3", in: grid)
        assertShows("0  0x30100                  16  NEXT                  →1", in: grid)
        assertShows("1  0x34000                4096  NEXT WRITE            →2", in: grid)
        // NEXT inside the table follows the table's own links.
        press(.enter)
        XCTAssertTrue(selectedRow(frame())?.contains("1  0x34000") == true)
        press(.enter, .enter)
        grid = frame()
        assertShows("Buffer · entry 2 of table 0x33000 · live chain @2", in: grid)
        assertShows("GPA 0x32010 → HVA 0x7f0000032010", in: grid)
        press(.backspace, .backspace, .backspace)
        XCTAssertTrue(selectedRow(frame())?.contains("0  0x30100") == true)
        press(.backspace)
        grid = frame()
        assertShows("Descriptor table at 0x10000", in: grid)
        XCTAssertTrue(selectedRow(grid)?.contains("3  0x33000") == true)
    }

    func testTabAndBackTabCycleTheViews() {
        press(.enter)
        XCTAssertTrue(isCurrentTab("Chains", in: frame()))
        press(.tab)
        XCTAssertTrue(isCurrentTab("Events", in: frame()))
        press(.tab)
        XCTAssertTrue(isCurrentTab("Slot map", in: frame()))
        press(.tab)
        XCTAssertTrue(isCurrentTab("Descriptors", in: frame()))
        press(.backTab)
        XCTAssertTrue(isCurrentTab("Slot map", in: frame()))
        press(.backTab, .backTab)
        XCTAssertTrue(isCurrentTab("Chains", in: frame()))
    }

    func testHexdumpPaneShowsGPAHVAPayloadAndBytesOfTheSelection() {
        press(.enter)  // chains; head 0 selected: its first buffer, the blk header
        var grid = frame()
        assertShows("Buffer · desc 0 · live chain @1", in: grid)
        assertShows("GPA 0x30000 → HVA 0x7f0000030000 (pc.ram) · 16 B · device-readable", in: grid)
        assertShows("virtio-blk read · sector 8 · data 512 B · status pending", in: grid)
        assertShows("00030000  00 00 00 00 00 00 00 00  08 00 00 00 00 00 00 00 |................|", in: grid)
        // The data buffer: text shows in the ASCII column.
        press(.down, .down)
        grid = frame()
        assertShows("GPA 0x31000 → HVA 0x7f0000031000 (pc.ram) · 512 B · device-writable", in: grid)
        assertShows("00031000  48 65 6c 6c 6f 2c 20 76  71 73 63 6f 70 65 21 00 |Hello, vqscope!.|", in: grid)
        // Focused, the hexdump scrolls by lines.
        press(.enter)
        XCTAssertEqual(inspector.state.nav.focus, .hexdump)
        press(.down)
        grid = frame()
        XCTAssertEqual(inspector.state.nav.hexOffset, 16)
        assertShows("00031010  00 00", in: grid)
        assertHides("00031000  48", in: grid)
        press(.home)
        assertShows("00031000  48", in: frame())
    }

    func testCompletedChainBufferIsMarkedStale() {
        press(.enter)
        var grid = frame()
        guard let y = row(containing: "id   5", in: grid) else { return XCTFail(grid.text) }
        for _ in 0..<20 where selectedRow(grid).map({ !$0.contains("id   5") }) ?? true {
            press(.down)
            grid = frame()
        }
        XCTAssertNotNil(selectedRow(grid)?.contains("id   5"))
        _ = y
        assertShows("Buffer · desc 5 · completed @0", in: grid)
        assertShows("completed chain: the buffer may have been reused since (stale)", in: grid)
    }

    func testLeftAndRightMoveTheFocusAndBracketsChangeQueue() {
        press(.right)
        XCTAssertEqual(inspector.state.nav.focus, .view)
        press(.right)
        XCTAssertEqual(inspector.state.nav.focus, .hexdump)
        press(.left, .left, .left)
        XCTAssertEqual(inspector.state.nav.focus, .queues)
        press(.character("]"))
        let grid = frame()
        XCTAssertTrue(grid.line(row(containing: "virtio-net:0", in: grid)!).contains("▶"))
        press(.character("["))
        XCTAssertEqual(inspector.state.nav.queue, 0)
    }

    func testPagingAndEndsInTheDescriptorTable() {
        _ = open(.descriptors, width: 80, height: 24)
        press(.home)
        XCTAssertTrue(selectedRow(frame(width: 80, height: 24))?.contains(" 0  0x30000") == true)
        press(.end)
        var grid = frame(width: 80, height: 24)
        XCTAssertTrue(selectedRow(grid)?.contains("15  0x0") == true, selectedRow(grid) ?? "")
        assertShows("16/16", in: grid)
        press(.pageUp)
        grid = frame(width: 80, height: 24)
        let visible = inspector.metrics.view.visibleRows
        XCTAssertGreaterThan(visible, 2)
        XCTAssertEqual(inspector.state.nav.selections[.descriptors], 15 - (visible - 1))
        assertShows("↑", in: grid)
        press(.pageUp)
        grid = frame(width: 80, height: 24)
        XCTAssertEqual(inspector.state.nav.selections[.descriptors], max(0, 15 - 2 * (visible - 1)))
        assertShows("↓", in: grid)
    }
}
