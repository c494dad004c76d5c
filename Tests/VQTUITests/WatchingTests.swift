import VQCore
@testable import VQTUI
import XCTest

/// Freezing, stepping, continuing, the refresh rate, a target that exits, and the help overlay.
final class WatchingTests: InspectorTestCase {
    func blkRow(_ grid: ScreenGrid) -> [Substring] {
        grid.line(row(containing: "virtio-blk:0", in: grid) ?? 0).split(separator: " ")
    }

    /// Makes the guest add one chain (head 5 again) at avail position `position`.
    func guestAdds(at position: UInt16, used: UInt16 = 1) {
        source.setAvailEntry(Int(position), head: 5)
        source.setIndexes(avail: position + 1, used: used)
    }

    func testFreezeHoldsTheDisplayWhilePollingGoesOn() {
        var grid = frame()
        XCTAssertEqual(blkRow(grid)[3], "3")
        press(.character(" "))
        source.scriptedPolls = [PollResult(indexes: [RingIndexes(available: 4, used: 1), RingIndexes(available: nil, used: nil)],
                                           events: [event(0, .available(head: 5), index: 3)])]
        guestAdds(at: 3)
        let snapshotsBefore = source.snapshots
        grid = frame()
        XCTAssertTrue(grid.line(0).contains("FROZEN +1"), grid.line(0))
        XCTAssertFalse(grid.line(0).contains("LIVE"))
        XCTAssertEqual(blkRow(grid)[3], "3", "the display holds still")
        XCTAssertEqual(source.snapshots, snapshotsBefore, "nothing is re-read while frozen")
        // The event was logged all the same: unfreezing shows it.
        press(.character(" "))
        grid = open(.events)
        XCTAssertTrue(grid.line(0).hasSuffix("LIVE"))
        XCTAssertEqual(blkRow(grid)[3], "4")
        assertShows("avail #3          head 5", in: grid)
    }

    func testFrozenDisplayStillReadsWhatTheUserMovesTo() {
        press(.character(" "))
        press(.enter)  // chains of the blk queue, captured before the freeze
        frame()
        press(.down, .down, .down)
        let grid = frame()
        assertShows("GPA 0x32000 → HVA 0x7f0000032000", in: grid)
        assertHides("reading…", in: grid)
    }

    func testStepPausesOnlyAfterTheQueueMovedAndFinishResumes() {
        frame()
        press(.character("s"))
        var grid = frame()
        XCTAssertTrue(grid.line(0).contains("stepping… virtio-blk:0"), grid.line(0))
        XCTAssertEqual(source.calls, [], "the VM runs while stepping")
        // Polls where nothing moved do not pause.
        for _ in 0..<3 { frame() }
        XCTAssertEqual(source.calls, [])
        // The device completes a chain: used 1 → 2.
        source.setUsedEntry(1, id: 0, length: 513)
        source.setIndexes(avail: 3, used: 2)
        inspector.poll(now: now)
        XCTAssertEqual(source.calls, ["pause"])
        grid = frame()
        XCTAssertTrue(grid.line(0).contains("VM PAUSED (stepped: used 1→2)"), grid.line(0))
        // `s` while paused resumes and steps again.
        press(.character("s"))
        XCTAssertEqual(source.calls, ["pause", "resume"])
        XCTAssertTrue(frame().line(0).contains("stepping…"))
        guestAdds(at: 3, used: 2)
        inspector.poll(now: now)
        XCTAssertEqual(source.calls, ["pause", "resume", "pause"])
        XCTAssertTrue(frame().line(0).contains("VM PAUSED (stepped: avail 3→4)"))
        // Leaving resumes the VM vqscope paused, and says so.
        XCTAssertEqual(inspector.finish(), "vqscope resumed the VM it had paused (stepped: avail 3→4)")
        XCTAssertEqual(source.calls, ["pause", "resume", "pause", "resume"])
        XCTAssertNil(inspector.finish(), "nothing left to resume")
    }

    func testContinueResumesAndCancelsAStep() {
        frame()
        press(.character("s"))
        press(.character("c"))
        XCTAssertEqual(source.calls, [])
        assertShows("step cancelled; the VM keeps running", in: frame())
        XCTAssertTrue(frame().line(0).hasSuffix("LIVE"))
        press(.character("s"))
        source.setIndexes(avail: 3, used: 2)
        frame()
        XCTAssertEqual(source.calls, ["pause"])
        press(.character("c"))
        XCTAssertEqual(source.calls, ["pause", "resume"])
        let grid = frame()
        XCTAssertTrue(grid.line(0).hasSuffix("LIVE"), grid.line(0))
        assertShows("VM continued", in: grid)
        XCTAssertNil(inspector.finish())
    }

    func testPausedOutsideVqscopeShowsAndIsNotResumedOnExit() {
        source.state = .paused
        now += 2
        let grid = frame()
        XCTAssertTrue(grid.line(0).hasSuffix("VM PAUSED"), grid.line(0))
        XCTAssertNil(inspector.finish())
        XCTAssertEqual(source.calls, [])
    }

    func testStepOnAPackedQueueWatchesItsEvents() {
        press(.down)
        frame()
        press(.character("s"))
        XCTAssertTrue(frame().line(0).contains("stepping… virtio-net:0"))
        source.scriptedPolls = [PollResult(indexes: [RingIndexes(available: 3, used: 1), RingIndexes(available: nil, used: nil)],
                                           events: [event(1, .used(id: 1, length: 60), index: 1, wrap: true)])]
        inspector.poll(now: now)
        XCTAssertEqual(source.calls, ["pause"])
        XCTAssertTrue(frame().line(0).contains("VM PAUSED (stepped: slot 1 used (id 1, len 60))"))
    }

    func testStepOnAPackedQueueFallsBackToSnapshots() {
        press(.down)
        frame()
        press(.character("s"))
        frame()
        XCTAssertEqual(source.calls, [])
        // The device uses slot 1 (no event: a source that does not follow packed rings).
        source.putPacked(Descriptor(address: GuestPhysicalAddress(0x37000), length: 60, flags: [.avail, .used, .write], id: 1), slot: 1)
        frame()
        XCTAssertEqual(source.calls, ["pause"])
        XCTAssertTrue(render().line(0).contains("VM PAUSED (stepped: device 1→2)"), render().line(0))
    }

    func testStepAndContinueNeedATargetThatCanPause() {
        source.summary.canPause = false
        press(.character("s"))
        assertShows("s: this VM cannot be paused from here (no QMP connection)", in: frame())
        press(.character("c"))
        assertShows("c: this VM cannot be paused from here", in: frame())
        source.summary.isLive = false
        press(.character("s"))
        assertShows("s: an image does not run", in: frame())
        XCTAssertEqual(source.calls, [])
    }

    func testAFailedPauseIsReported() {
        source.pauseError = .noQMP("the connection was closed")
        press(.character("s"))
        source.setIndexes(avail: 3, used: 2)
        let grid = frame()
        assertShows("virtio-blk:0 moved (used 1→2) but the VM could not be paused: QMP: the connection was closed", in: grid)
        XCTAssertTrue(grid.line(0).hasSuffix("LIVE"))
    }

    func testPlusAndMinusStepTheRefreshRate() {
        XCTAssertEqual(inspector.refreshInterval, 0.1, accuracy: 1e-9)
        press(.character("+"))
        XCTAssertEqual(inspector.refreshInterval, 1.0 / 20, accuracy: 1e-9)
        press(.character("+"), .character("+"), .character("+"))
        XCTAssertEqual(inspector.refreshInterval, 1.0 / 30, accuracy: 1e-9, "30 Hz is the top")
        XCTAssertTrue(frame().line(0).contains("30 Hz"))
        for _ in 0..<8 { press(.character("-")) }
        XCTAssertEqual(inspector.refreshInterval, 1, accuracy: 1e-9, "1 Hz is the bottom")
        XCTAssertTrue(frame().line(0).contains("1 Hz"))
        XCTAssertLessThanOrEqual(inspector.pollInterval, 0.02)
    }

    func testTargetExitIsShownWhenTheProcessGoes() {
        frame()
        source.alive = false
        let grid = frame()
        XCTAssertTrue(grid.line(0).hasSuffix("TARGET EXITED"), grid.line(0))
        XCTAssertEqual(style(of: "TARGET EXITED", in: grid)?.role, .error)
        assertShows("the target exited; q quits", in: grid)
        // Everything keeps working without reading.
        let reads = source.reads
        press(.enter, .tab, .character("s"))
        assertShows("s: the target has exited", in: frame())
        XCTAssertEqual(source.reads, reads)
        XCTAssertEqual(press(.character("q")), .quit)
    }

    func testTargetExitIsShownWhenAPollFindsTheProcessGone() {
        frame()
        source.pollError = .processGone(pid: 4242)
        let grid = frame()
        XCTAssertTrue(grid.line(0).contains("TARGET EXITED"), grid.line(0))
        assertShows("process 4242 has exited", in: grid)
    }

    func testOtherPollFailuresAreShownOnce() {
        source.pollError = .backingUnmapped(0x7f00_0000_0000)
        let grid = frame()
        assertShows("polling failed: nothing is mapped at 0x7f0000000000", in: grid)
        XCTAssertTrue(grid.line(0).hasSuffix("LIVE"))
    }

    func testSnapshotFailureIsShownInTheView() {
        source.snapshotError = .guestUnmapped(GuestPhysicalAddress(0x10000), reason: "in no memory slot")
        press(.enter)
        assertShows("cannot read the ring: guest-physical address 0x10000 is not backed by RAM", in: frame())
    }

    func testHelpOverlayListsEveryKeyAndEscapeClosesIt() {
        press(.character("?"))
        let grid = frame(width: 120, height: 50)
        assertShows("Keys", in: grid)
        for text in ["↑ ↓  k j", "PgUp PgDn", "Home End", "Tab BackTab", "Enter", "Backspace", "space", "freeze",
                     "step: let the VM run until this queue moves", "continue the VM", "+ -", "hexdump a guest-physical address",
                     "find a hex value", "next match", "quit (resumes the VM if vqscope paused it)", "? Esc"] {
            assertShows(text, in: grid)
        }
        press(.escape)
        assertHides("hexdump a guest-physical address", in: frame(width: 120, height: 50))
        // Keys under the overlay do nothing but close it.
        press(.character("?"), .character("s"))
        XCTAssertFalse(inspector.stepper.isStepping)
        XCTAssertFalse(inspector.state.helpVisible)
    }

    func testHelpScrollsOnAShortTerminal() {
        press(.character("?"))
        var grid = frame(width: 80, height: 24)
        assertShows("↓ more · ↑↓ scroll · Esc closes", in: grid)
        assertHides("quit (resumes the VM", in: grid)
        press(.end)
        grid = frame(width: 80, height: 24)
        assertShows("quit (resumes the VM if vqscope paused it)", in: grid)
        assertShows("↑ more", in: grid)
        XCTAssertTrue(inspector.state.helpVisible, "scrolling keeps the overlay open")
        press(.home, .down, .up)
        assertShows("Moving", in: frame(width: 80, height: 24))
        press(.character("x"))
        XCTAssertFalse(inspector.state.helpVisible)
    }

    func testQuit() {
        XCTAssertEqual(press(.character("q")), .quit)
        press(.character("?"))
        XCTAssertEqual(press(.character("q")), .quit)
    }
}
