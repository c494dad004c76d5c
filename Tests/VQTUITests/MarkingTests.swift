import VQCore
@testable import VQTUI
import XCTest

/// What the decoder found wrong is marked; what changed since the last frame is highlighted.
final class MarkingTests: InspectorTestCase {
    func testProblemsAreMarkedWithTheirMessages() {
        // Chain of head 0: descriptor 1 gets length 0, and the indirect chain a table entry outside RAM.
        source.putSplit(Descriptor(address: GuestPhysicalAddress(0x31000), length: 0, flags: [.next, .write], next: 2), 1)
        source.putSplit(Descriptor(address: GuestPhysicalAddress(0x7000_0000), length: 16, flags: [.next], next: 1), table: 0x33000, 0)
        press(.enter)
        var grid = frame(width: 160, height: 50)
        assertShows("✗ chain 0: descriptor 1 has length 0", in: grid)
        XCTAssertEqual(style(of: "chain 0: descriptor 1 has length 0", in: grid)?.role, .error)
        assertShows("✗ chain 3: entry 0 of the indirect table at 0x33000 points at 0x70000000", in: grid)
        // The element rows themselves are marked.
        guard let y = row(containing: "#1      0x31000", in: grid) else { return XCTFail(grid.text) }
        XCTAssertTrue(grid.line(y).contains("✗"), grid.line(y))
        XCTAssertEqual(style(of: "0x31000  ", in: grid)?.role, .error)
        // The head row counts its problems.
        XCTAssertTrue(grid.line(row(containing: "head 0", in: grid)!).contains("✗ 1"))
        // The descriptor table marks the descriptor and sums up the problems at the top.
        grid = open(.descriptors, width: 160, height: 50)
        assertShows("✗ 2 problems", in: grid)
        guard let d = row(containing: "1  0x31000", in: grid) else { return XCTFail(grid.text) }
        XCTAssertTrue(grid.line(d).contains("✗"), grid.line(d))
    }

    func testRingProblemsAndTornSnapshots() {
        // avail.idx 40 ahead of used.idx 1 with 16 entries: an index jump.
        source.setIndexes(avail: 40, used: 1)
        press(.enter)
        let grid = frame(width: 160, height: 50)
        assertShows("✗ available index 40 is 39 ahead of used index 1, more than the queue size 16", in: grid)
        XCTAssertEqual(RingProblem.torn(attempts: 8).severity, .warning)
        XCTAssertEqual(RingProblem.torn(attempts: 8).mark, "!")
        XCTAssertEqual(RingProblem.zeroLength(head: 1, at: DescriptorPosition(index: 2)).severity, .error)
        XCTAssertEqual(RingProblem.zeroLength(head: 1, at: DescriptorPosition(index: 2)).position, DescriptorPosition(index: 2))
    }

    func testChangedDescriptorsAndBytesAreHighlighted() {
        _ = open(.descriptors)
        press(.home)  // descriptor 0 selected; the change below is to descriptor 5
        var grid = frame()
        XCTAssertEqual(style(of: "0x35000", in: grid)?.role, .normal)
        source.putSplit(Descriptor(address: GuestPhysicalAddress(0x35000), length: 96, flags: [.write]), 5)
        grid = frame()
        XCTAssertEqual(style(of: "0x35000", in: grid)?.role, .changed)
        XCTAssertEqual(style(of: "96", in: grid)?.role, .changed)
        guard let y = row(containing: "5  0x35000", in: grid) else { return XCTFail(grid.text) }
        XCTAssertTrue(grid.line(y).hasPrefix("│ • "), grid.line(y))
        grid = frame()
        XCTAssertEqual(style(of: "0x35000", in: grid)?.role, .normal, "unchanged since the last frame")

        // Hexdump of descriptor 0's buffer: a byte the guest writes is highlighted.
        grid = frame()
        assertShows("00030000  00 00 00 00 00 00 00 00  08", in: grid)
        source.put(UInt8(0xab), at: 0x30002)
        grid = frame()
        assertShows("00030000  00 00 ab 00", in: grid)
        XCTAssertEqual(style(of: "ab 00", in: grid)?.role, .changed)
        XCTAssertEqual(style(of: "00030000  ", in: grid)?.role, .dim)
    }

    func testChangedRingEntriesAndFields() {
        var grid = open(.deviceArea)
        press(.home)
        source.setUsedEntry(1, id: 0, length: 513)
        source.setIndexes(avail: 3, used: 2)
        grid = frame()
        XCTAssertEqual(style(of: "513", in: grid)?.role, .changed)
        XCTAssertEqual(style(of: "idx 2", in: grid).map { _ in grid }.flatMap { g in cellStyle(after: "idx ", in: g) }?.role, .changed)
    }

    /// The style of the cell right after `prefix`'s first occurrence.
    func cellStyle(after prefix: String, in grid: ScreenGrid) -> CellStyle? {
        for y in 0..<grid.height {
            let l = grid.line(y)
            if let r = l.range(of: prefix) {
                let x = l.unicodeScalars.distance(from: l.unicodeScalars.startIndex, to: r.upperBound.samePosition(in: l.unicodeScalars)!)
                return grid[x, y].style
            }
        }
        return nil
    }
}

final class NewChainMarkingTests: InspectorTestCase {
    func testANewChainInFlightIsMarked() {
        press(.enter)
        var grid = frame()
        assertHides("●", in: grid)
        // The guest adds head 5 at position 3.
        source.setAvailEntry(3, head: 5)
        source.setIndexes(avail: 4, used: 1)
        grid = frame()
        guard let y = row(containing: "head 5", in: grid) else { return XCTFail(grid.text) }
        XCTAssertTrue(grid.line(y).hasPrefix("│ ● head 5"), grid.line(y))
        XCTAssertEqual(grid[2, y].style.role, .changed)
        XCTAssertFalse(grid.line(row(containing: "head 0", in: grid)!).contains("●"))
        assertHides("●", in: frame())
    }

    func testALinkOutsideTheTableIsRefused() {
        source.putSplit(Descriptor(address: GuestPhysicalAddress(0x32000), length: 1, flags: [.write, .next], next: 40), 2)
        _ = open(.descriptors)
        press(.home, .down, .down, .enter)
        assertShows("the link names entry 40, outside the table of 16", in: frame())
        XCTAssertEqual(inspector.state.nav.selections[.descriptors], 2)
    }
}
