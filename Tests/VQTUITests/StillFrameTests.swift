import VQCore
@testable import VQTUI
import XCTest

/// Frames on a still ring: skipped while nothing on screen would change, drawn when a ring moves,
/// and drawn at least once a second so that bytes rewritten under unchanged indexes show.
final class StillFrameTests: InspectorTestCase {
    /// What ``InspectorLoop`` does for one frame tick at the default 10 frames a second: poll, then
    /// read and draw only when ``Inspector/needsFrame(now:width:height:force:)`` says so.
    @discardableResult
    func tick(width: Int = 120, height: Int = 40, force: Bool = false) -> ScreenGrid? {
        now += 0.1
        inspector.poll(now: now)
        guard inspector.needsFrame(now: now, width: width, height: height, force: force) else { return nil }
        inspector.refresh(now: now)
        return render(width: width, height: height)
    }

    /// Runs ticks until the marks of the first frames have settled (changed cells shown once).
    func settle() {
        for _ in 0..<30 { tick() }
    }

    func testStillRingSkipsFramesAndDrawsOnceASecond() {
        settle()
        var drawn = 0, snapshots = source.snapshots
        for _ in 0..<30 {
            if tick() != nil { drawn += 1 }
        }
        // Three seconds of a still ring: one frame a second, not thirty.
        XCTAssertGreaterThanOrEqual(drawn, 2)
        XCTAssertLessThanOrEqual(drawn, 4)
        XCTAssertLessThanOrEqual(source.snapshots - snapshots, 8, "a skipped frame reads no snapshot")
        snapshots = source.snapshots
        XCTAssertTrue(tick() == nil, "a still ring right after a frame: skipped")
        XCTAssertEqual(source.snapshots, snapshots)
    }

    func testMovedRingDraws() {
        settle()
        XCTAssertTrue(tick() == nil)
        // The device completes head 0 at used position 1.
        source.setUsedEntry(1, id: 0, length: 513)
        source.setIndexes(avail: 3, used: 2)
        let grid = tick()
        XCTAssertTrue(grid != nil, "a ring that moved is drawn at the next frame")
        XCTAssertTrue((0..<3).contains { _ in tick() == nil }, "then still again")
    }

    /// A moving selected queue draws every frame, whatever else the screen shows; frozen, it does
    /// not (the frozen display keeps what it showed).
    func testMovingSelectedQueueDrawsEachFrameButNotWhileFrozen() {
        settle()
        var used: UInt16 = 1
        for _ in 0..<5 {
            used += 1
            source.setIndexes(avail: used + 1, used: used)
            XCTAssertTrue(tick() != nil, "used index \(used)")
        }
        press(.character(" "))
        _ = tick(force: true)
        var drawn = 0
        for _ in 0..<5 {
            used += 1
            source.setIndexes(avail: used + 1, used: used)
            if tick() != nil { drawn += 1 }
        }
        XCTAssertLessThanOrEqual(drawn, 1, "frozen: at most the once-a-second frame")
    }

    func testKeyDrawsAtOnceAndSizeChangeDraws() {
        settle()
        XCTAssertTrue(tick() == nil)
        XCTAssertTrue(tick(force: true) != nil, "a key press draws")
        XCTAssertTrue(tick(width: 100, height: 30) != nil, "a new terminal size draws")
        XCTAssertTrue(tick(width: 100, height: 30) == nil)
    }

    func testBufferChangedUnderUnchangedIndexShowsWithinASecond() {
        settle()
        // The chain view shows head 0's request: a read of sector 8. The guest rewrites its header
        // (sector 21) without moving an index.
        source.put(UInt64(21), at: 0x30008)
        var shown: Double?
        let start = now
        for _ in 0..<20 {
            guard let grid = tick() else { continue }
            if grid.contains("blk read sector 21") { shown = now - start; break }
        }
        let seconds = try? XCTUnwrap(shown, "the rewritten request is never shown")
        XCTAssertLessThanOrEqual(seconds ?? 99, 1.15)
    }

    func testStillRingKeepsItsDecodedChains() {
        settle()
        tick(force: true)
        let revision = inspector.frame.ring?.revision
        let generation = inspector.frameGeneration
        // Frames drawn regardless (a key each time): the ring is read, found unchanged, and its
        // chains, history and payloads are kept, so the view is not built again.
        let reads = source.reads
        tick(force: true)
        XCTAssertEqual(inspector.frame.ring?.revision, revision)
        XCTAssertEqual(inspector.frameGeneration, generation)
        XCTAssertLessThanOrEqual(source.reads - reads, 1, "no history walk or payload read (the hexdump's read only)")
    }
}
