import VQCore
@testable import VQTUI
import XCTest

/// Every view of the split virtio-blk queue (selected at start).
final class SplitViewTests: InspectorTestCase {
    func testAChainOfTenBuffersKeepsASpaceBeforeItsSizes() {
        // Head 6: ten device-writable buffers through an indirect table at 0x3a000 (position 3).
        for k in 0..<10 {
            source.putSplit(Descriptor(address: GuestPhysicalAddress(0x3b000 + UInt64(k) * 0x100), length: 16,
                                       flags: k < 9 ? [.next, .write] : [.write], next: UInt16(k + 1)), table: 0x3a000, k)
        }
        source.putSplit(Descriptor(address: GuestPhysicalAddress(0x3a000), length: 160, flags: [.indirect]), 6)
        source.setAvailEntry(3, head: 6)
        source.setIndexes(avail: 4, used: 1)
        press(.enter)
        let grid = frame()
        guard let head6 = row(containing: "head 6", in: grid) else { return XCTFail(grid.text) }
        XCTAssertTrue(grid.line(head6).contains("LIVE  10 bufs R 0 B W 160 B"), grid.line(head6))
    }

    func testChainsViewShowsLiveChainsWithElementsPayloadsAndHistory() {
        press(.enter)  // queue → its chains
        let grid = frame()
        XCTAssertTrue(isCurrentTab("Chains", in: grid))
        assertShows("Chains 2 in flight (used.idx 1 → avail.idx 3)", in: grid)
        assertShows("LIVE · in flight", in: grid)
        guard let head0 = row(containing: "head 0", in: grid), let head3 = row(containing: "head 3", in: grid) else {
            return XCTFail(grid.text)
        }
        XCTAssertTrue(grid.line(head0).contains("@1"))
        XCTAssertTrue(grid.line(head0).contains("LIVE  3 bufs R 16 B W 513 B"), grid.line(head0))
        XCTAssertTrue(grid.line(head0).contains("LIVE"))
        XCTAssertTrue(grid.line(head0).contains("blk read sector 8 len 512"), grid.line(head0))
        XCTAssertTrue(grid.line(head3).contains("blk write sector 99 len 4096"), grid.line(head3))
        // Elements: direct ones by descriptor index, indirect ones by table entry and table.
        XCTAssertTrue(grid.line(head0 + 1).contains("#0      0x30000                  16  R"), grid.line(head0 + 1))
        XCTAssertTrue(grid.line(head0 + 2).contains("#1      0x31000                 512  W"), grid.line(head0 + 2))
        XCTAssertTrue(grid.line(head3 + 2).contains("ind#1   0x34000                4096  W  from indirect table 0x33000"),
                      grid.line(head3 + 2))
        // History: the completed chain, marked as possibly stale.
        assertShows("HISTORY · completed", in: grid)
        assertShows("may be stale", in: grid)
        guard let done = row(containing: "id   5", in: grid) else { return XCTFail(grid.text) }
        XCTAssertGreaterThan(done, head3)
        XCTAssertTrue(grid.line(done).contains("DONE  1 buf  R 0 B W 64 B · wrote 64"), grid.line(done))
        XCTAssertFalse(grid.line(done).contains("LIVE"))
    }

    func testDescriptorTable() {
        let grid = open(.descriptors)
        XCTAssertTrue(isCurrentTab("Descriptors", in: grid))
        assertShows("Descriptor table at 0x10000 · 16 entries · 2 chains in flight", in: grid)
        assertShows("idx  addr                    len  flags               next  chain", in: grid)
        assertShows("0  0x30000                  16  NEXT                  →1  live @1", in: grid)
        assertShows("1  0x31000                 512  NEXT WRITE            →2  live @1", in: grid)
        assertShows("2  0x32000                   1  WRITE                  -  live @1", in: grid)
        assertShows("3  0x33000                  48  INDIRECT               -  live @2", in: grid)
        // Descriptor 5 belongs to the completed chain only: no live mark.
        guard let y = row(containing: "5  0x35000", in: grid) else { return XCTFail(grid.text) }
        XCTAssertFalse(grid.line(y).contains("live"), grid.line(y))
    }

    func testAvailRing() {
        let grid = open(.driverArea)
        XCTAssertTrue(isCurrentTab("Avail ring", in: grid))
        assertShows("Available ring at 0x11000 · flags 0x0 · idx 3 · used_event 0", in: grid)
        assertShows("in flight 2 (used.idx 1 → avail.idx 3)", in: grid)
        assertShows("0      5          0  returned", in: grid)
        assertShows("1      0          1  in flight", in: grid)
        assertShows("2      3          2  in flight · newest", in: grid)
        assertShows("3      0          -  never written  ◀ next", in: grid)
    }

    func testUsedRing() {
        let grid = open(.deviceArea)
        XCTAssertTrue(isCurrentTab("Used ring", in: grid))
        assertShows("Used ring at 0x11100 · flags 0x0 · idx 1 · avail_event 0", in: grid)
        assertShows("0      5         64          0  completed · newest", in: grid)
        assertShows("1      0          0          -  never written  ◀ next", in: grid)
    }

    func testEventLogShowsNewBuffersCompletionsAndLaps() {
        source.scriptedPolls = [PollResult(indexes: try! source.currentIndexes(), events: [
            event(0, .available(head: 3), index: 2),
            event(0, .used(id: 5, length: 64), index: 0),
            event(0, .lapped(ring: .used, missed: 7), index: 1),
            event(1, .available(head: 2), index: 2, wrap: true),
        ])]
        var grid = open(.events)
        XCTAssertTrue(isCurrentTab("Events", in: grid))
        assertShows("Events of virtio-blk:0 · 3 shown · 4 seen", in: grid)
        assertShows("virtio-blk:0     avail #2          head 3", in: grid)
        assertShows("virtio-blk:0     used  #0          id 5      len 64", in: grid)
        assertShows("virtio-blk:0     LAPPED used ring at #1: 7 entries missed", in: grid)
        assertHides("virtio-net:0", in: gridWithoutQueueList(grid))
        // The newest event is selected (drawn as the selection bar); one up, LAPPED shows in its color.
        XCTAssertEqual(style(of: "LAPPED", in: grid)?.role, .selected)
        press(.up)
        XCTAssertEqual(style(of: "LAPPED", in: render())?.role, .warning)
        // Timestamps count from the start: the poll ran 0.1 s after it.
        assertShows("     0.100  virtio-blk:0", in: grid)
        // `a`: every queue's events; packed ones by slot and wrap counter.
        press(.character("a"))
        grid = frame()
        assertShows("Events of all queues · 4 shown", in: grid)
        assertShows("virtio-net:0     avail slot 2 w1   id 2", in: grid)
    }

    func testEventLogShowsWhatEachChainCarried() {
        let status = VirtioInputEvents([0x11, 0, 1, 0, 1, 0, 0, 0], length: 8, fromDevice: false)
        source.scriptedPolls = [PollResult(indexes: try! source.currentIndexes(), events: [
            event(0, .available(head: 3), index: 2),
            event(0, .used(id: 5, length: 64), index: 0),
            event(0, .available(head: 6), index: 3),
        ], payloads: [.input(status), .console(text: "hello"), nil])]
        let grid = open(.events)
        assertShows("virtio-blk:0     avail #2          head 3  input status EV_LED LED_CAPSL 1", in: grid)
        assertShows("virtio-blk:0     used  #0          id 5      len 64  console \"hello\"", in: grid)
        // An event whose chain could not be read as its own: the event alone.
        let row = grid.text.split(separator: "\n").first { $0.contains("avail #3") }.map(String.init) ?? ""
        XCTAssertTrue(row.contains("head 6"), row)
        XCTAssertFalse(row.contains("console") || row.contains("input"), row)
        XCTAssertEqual(style(of: "console \"hello\"", in: grid)?.role, .accent)
    }

    func testSlotMapView() {
        let grid = open(.slots)
        XCTAssertTrue(isCurrentTab("Slot map", in: grid))
        assertShows("Slot map 1 slot · 256 KiB of guest memory", in: grid)
        assertShows("0x0-0x3ffff    → 0x7f0000000000-0x7f000003ffff   256 KiB  pc.ram", in: grid)
    }

    /// The grid with the queue list rows blanked, to look for text in the panes below it only.
    func gridWithoutQueueList(_ grid: ScreenGrid) -> ScreenGrid {
        var copy = grid
        copy.fill(x: 0, y: 0, width: grid.width, height: 6)
        return copy
    }
}

/// Every view of the packed virtio-net queue.
final class PackedViewTests: InspectorTestCase {
    override func setUp() {
        super.setUp()
        press(.down)  // the packed queue
        frame()
    }

    func testQueueListTakesInFlightFromTheSnapshot() {
        let grid = frame()
        guard let y = row(containing: "virtio-net:0", in: grid) else { return XCTFail(grid.text) }
        XCTAssertEqual(Array(grid.line(y).split(separator: " ").prefix(6)), ["│▶virtio-net:0", "packed", "8", "3w1", "1w1", "2"], grid.line(y))
    }

    func testDescriptorRingShowsFlagsStatesAndPositions() {
        let grid = open(.descriptors)
        XCTAssertTrue(isCurrentTab("Desc ring", in: grid))
        assertShows("Descriptor ring at 0x8000 · 8 slots · driver 3 (wrap 1) · device used 1 (wrap 1) derived", in: grid)
        assertShows("slot  addr                    len     id  flags                   state", in: grid)
        assertShows("0  0x36000                 100      0  AVAIL USED              used w1", in: grid)
        assertShows("1  0x37000                1514      1  AVAIL WRITE             avail w1  ◀ device", in: grid)
        assertShows("3  0x0                       0      0  -                       used w0   ◀ driver", in: grid)
    }

    func testDriverAndDeviceAreas() {
        var grid = open(.driverArea)
        XCTAssertTrue(isCurrentTab("Driver", in: grid))
        assertShows("Driver next slot 3 (wrap 1) · 2 chains available", in: grid)
        assertShows("Driver event suppression at 0x8080 · flags enable · offset 0 wrap 0", in: grid)
        assertShows("1      1     1      1      1514  available", in: grid)
        grid = open(.deviceArea)
        XCTAssertTrue(isCurrentTab("Device", in: grid))
        assertShows("Device used position 1 (wrap 1) derived · reads at unknown (no hint)", in: grid)
        assertShows("Device event suppression at 0x9000 · flags enable", in: grid)
        assertShows("0      0        100     1  ", in: grid)
    }

    func testEventSuppressionModes() {
        source.put(UInt16(0x8005), at: 0x8080)  // desc: slot 5, wrap 1
        source.put(UInt16(2), at: 0x8082)       // flags: RING_EVENT_FLAGS_DESC
        source.put(UInt16(1), at: 0x9002)       // device: disable
        var grid = open(.driverArea)
        assertShows("Driver event suppression at 0x8080 · flags descriptor · offset 5 wrap 1 (raw 0x8005, 0x2)", in: grid)
        grid = open(.deviceArea)
        assertShows("Device event suppression at 0x9000 · flags disable", in: grid)
    }

    func testAvailableChains() {
        let grid = open(.chains)
        assertShows("Chains 2 available (device used 1 (wrap 1) → driver 3 (wrap 1))", in: grid)
        assertShows("slot 1    id 1 w1    LIVE  1 buf  R 0 B W 1.5 KiB", in: grid)
        assertShows("slot 2    id 2 w1    LIVE  1 buf", in: grid)
        assertShows("#1      0x37000                1514  W", in: grid)
    }
}
