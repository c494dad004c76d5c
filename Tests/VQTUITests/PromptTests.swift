import VQCore
@testable import VQTUI
import XCTest

/// `g` (go to an address) and `/` (find a value), typed on the bottom line.
final class PromptTests: InspectorTestCase {
    func testGotoAddressHexdumpsItWithGPAAndHVA() {
        press(.character("g"))
        var grid = frame()
        XCTAssertTrue(grid.line(grid.height - 1).hasPrefix("Go to guest-physical address (hex): "), grid.line(grid.height - 1))
        typeText("0x3100x")
        press(.backspace)  // typo
        typeText("8")
        XCTAssertTrue(frame().line(39).contains("address (hex): 0x31008"))
        press(.enter)
        grid = frame()
        XCTAssertEqual(inspector.state.nav.focus, .hexdump)
        assertShows("Buffer · address 0x31008", in: grid)
        assertShows("GPA 0x31008 → HVA 0x7f0000031008 (pc.ram)", in: grid)
        assertShows("00031008  71 73 63 6f 70 65 21 00", in: grid)
        // Backspace returns to where `g` was pressed.
        press(.backspace)
        XCTAssertEqual(inspector.state.nav.focus, .queues)
        XCTAssertNil(inspector.state.nav.pinned)
    }

    func testGotoTakesTheHSuffixAndBareHex() {
        press(.character("g"))
        typeText("31000h")
        press(.enter)
        assertShows("GPA 0x31000 → HVA", in: frame())
        press(.character("g"))
        typeText("30100")
        press(.enter)
        assertShows("GPA 0x30100 → HVA", in: frame())
    }

    func testGotoAnUnmappedAddressSaysWhy() {
        press(.character("g"))
        typeText("0x80000")
        press(.enter)
        let grid = frame()
        assertShows("GPA 0x80000 → not guest RAM: past the end of guest memory (0x40000)", in: grid)
        assertShows("cannot read: guest-physical address 0x80000 is not backed by RAM", in: grid)
    }

    func testEscapeCancelsAndGarbageIsRefused() {
        press(.character("g"))
        typeText("123")
        press(.escape)
        var grid = frame()
        XCTAssertNil(inspector.state.prompt)
        XCTAssertNil(inspector.state.nav.pinned)
        XCTAssertFalse(grid.line(39).contains("Go to"))
        press(.character("g"))
        typeText("xyz")
        press(.enter)
        grid = frame()
        assertShows("'xyz' is not a hex number (0x1000, 1000h or 1000)", in: grid)
        XCTAssertNil(inspector.state.nav.pinned)
        // Keys typed into a prompt are text, not commands.
        press(.character("g"))
        typeText("q")
        XCTAssertEqual(inspector.state.prompt?.text, "q")
    }

    func testFindSelectsTheRowAndNextWraps() {
        _ = open(.descriptors)
        press(.character("/"))
        XCTAssertTrue(frame().line(39).hasPrefix("Find value (hex): "))
        typeText("0x32000")
        press(.enter)
        var grid = frame()
        XCTAssertEqual(inspector.state.nav.selections[.descriptors], 2)
        assertShows("0x32000: match 1 of 1 in Descriptors (n: next)", in: grid)
        // A length (0x200 = 512) and an address inside a buffer both match.
        press(.character("/"))
        typeText("200")
        press(.enter)
        XCTAssertEqual(inspector.state.nav.selections[.descriptors], 1)
        press(.character("/"))
        typeText("35010")
        press(.enter)
        XCTAssertEqual(inspector.state.nav.selections[.descriptors], 5, "0x35010 lies in descriptor 5's buffer")
        // `n` wraps around: 1 matches descriptor 1 (index), 2's length and the NEXT link of 0.
        press(.character("/"))
        typeText("1")
        press(.enter)
        let first = inspector.state.nav.selections[.descriptors]
        press(.character("n"))
        let second = inspector.state.nav.selections[.descriptors]
        XCTAssertNotEqual(first, second)
        grid = frame()
        assertShows("0x1: match", in: grid)
        press(.character("/"))
        typeText("abcdef")
        press(.enter)
        assertShows("0xabcdef is not in Descriptors", in: frame())
    }

    func testFindInRingEntriesAndChains() {
        _ = open(.deviceArea)
        press(.character("/"))
        typeText("40")  // the used length 64
        press(.enter)
        XCTAssertEqual(inspector.state.nav.selections[.deviceArea], 0)
        _ = open(.chains)
        press(.character("/"))
        typeText("34000")
        press(.enter)
        let grid = frame()
        assertShows("GPA 0x34000 → HVA 0x7f0000034000", in: grid)
    }

    func testNextWithoutASearchSaysSo() {
        press(.character("n"))
        assertShows("n: nothing to find yet; / finds a value", in: frame())
    }
}
