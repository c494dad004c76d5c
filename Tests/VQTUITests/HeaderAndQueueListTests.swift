import VQCore
@testable import VQTUI
import XCTest

final class HeaderAndQueueListTests: InspectorTestCase {
    func testHeaderNamesTheTargetSlotSourceRateAndState() {
        let grid = frame()
        let header = grid.line(0)
        XCTAssertTrue(header.contains("vqscope"), header)
        XCTAssertTrue(header.contains("pid 4242 (testvm, kvm, 256 KiB)"), header)
        XCTAssertTrue(header.contains("slots qmp"), header)
        XCTAssertTrue(header.contains("10 Hz"), header)
        XCTAssertTrue(header.hasSuffix("LIVE"), header)
        XCTAssertEqual(style(of: "LIVE", in: grid)?.role, .good)
    }

    func testHeaderAddsTheRAMWhenTheTitleLacksIt() {
        source.summary.title = "image dump.elf"
        source.summary.isLive = false
        let header = frame().line(0)
        XCTAssertTrue(header.contains("image dump.elf · RAM 256 KiB"), header)
        XCTAssertTrue(header.hasSuffix("IMAGE"), header)
    }

    func testQueueListShowsEveryQueueWithIndexesInFlightAndLayout() {
        let grid = frame()
        assertShows("Queues (2)", in: grid)
        guard let y = row(containing: "virtio-blk:0", in: grid), let z = row(containing: "virtio-net:0", in: grid) else {
            return XCTFail(grid.text)
        }
        let blk = grid.line(y).split(separator: " ").map(String.init)
        // marker+label, layout, size, avail, used, in flight, rate
        XCTAssertEqual(Array(blk.prefix(7)), ["│▶virtio-blk:0", "split", "16", "3", "1", "2", "0"], grid.line(y))
        let net = grid.line(z).split(separator: " ").map(String.init)
        // Packed: the driver's next avail slot and the device's next used slot with their wrap counters.
        XCTAssertEqual(Array(net.prefix(7)), ["│", "virtio-net:0", "packed", "8", "3w1", "1w1", "2"], grid.line(z))
        XCTAssertTrue(grid.contains("activity (30 s)"))
    }

    func testPackedRowsShowPositionsInFlightAndHealthFromThePolls() {
        var grid = frame()
        guard let z = row(containing: "virtio-net:0", in: grid) else { return XCTFail(grid.text) }
        // Not selected, not yet read for its health: the polled positions say 2 receive buffers wait.
        XCTAssertTrue(grid.line(z).contains("wait"), grid.line(z))
        // The device fills slot 1 and the driver refills slot 3: both positions move on.
        source.putPacked(Descriptor(address: GuestPhysicalAddress(0x37000), length: 60, flags: [.avail, .used], id: 1), slot: 1)
        source.putPacked(Descriptor(address: GuestPhysicalAddress(0x39000), length: 1514, flags: [.avail, .write], id: 3), slot: 3)
        grid = frame()
        let net = grid.line(z).split(separator: " ").map(String.init)
        XCTAssertEqual(Array(net.prefix(7)), ["│", "virtio-net:0", "packed", "8", "4w1", "2w1", "2"], grid.line(z))
        XCTAssertFalse(grid.line(z).contains(" - "), grid.line(z))
    }

    func testDevicesOfTheSameNameAreToldApartInTheQueueList() {
        func input(_ path: String, id: String?, pci: String, at base: UInt64) -> VirtioDevice {
            let location = VirtqueueLocation(layout: .split, size: 16, descriptors: GuestPhysicalAddress(base),
                                             driverArea: GuestPhysicalAddress(base + 0x1000), deviceArea: GuestPhysicalAddress(base + 0x1100),
                                             features: [.version1])
            return VirtioDevice(name: "virtio-input", path: path, id: id, pciAddress: pci, deviceID: 18, features: [.version1],
                                queues: [Virtqueue(device: "virtio-input", path: path, index: 0, location: location)])
        }
        source = FakeSource()
        source.queues = QueueList(source: .qmp, devices: [
            input("/machine/peripheral/kbd0/virtio-backend", id: "kbd0", pci: "00:05.0", at: 0x20000),
            input("/machine/peripheral-anon/device[4]/virtio-backend", id: nil, pci: "00:06.0", at: 0x24000),
        ]).queues
        inspector = Inspector(source: source)
        inspector.start(now: now)
        inspector.poll(now: now)
        let grid = frame()
        guard let y = row(containing: "virtio-input[kbd0]:0", in: grid), let z = row(containing: "virtio-input@00:06.0:0", in: grid) else {
            return XCTFail(grid.text)
        }
        XCTAssertEqual(Array(grid.line(y).split(separator: " ").prefix(4)), ["│▶virtio-input[kbd0]:0", "split", "16", "0"], grid.line(y))
        XCTAssertEqual(Array(grid.line(z).split(separator: " ").prefix(5)), ["│", "virtio-input@00:06.0:0", "split", "16", "0"], grid.line(z))
        XCTAssertNil(row(containing: "virtio-input:0", in: grid))
    }

    func testRateAndSparklineComeFromUsedEvents() {
        // Ten completions a second for three seconds, then nothing for two.
        for second in 0..<5 {
            for tenth in 0..<10 {
                let events = second < 3 ? [event(0, .used(id: 5, length: 64), index: UInt16(second * 10 + tenth))] : []
                source.scriptedPolls.append(PollResult(indexes: try! source.currentIndexes(), events: events))
                now += 0.1
                inspector.poll(now: now)
            }
        }
        inspector.refresh(now: now)
        var grid = render()
        guard let y = row(containing: "virtio-blk:0", in: grid) else { return XCTFail(grid.text) }
        // The last 2 s had no completions.
        XCTAssertEqual(grid.line(y).split(separator: " ")[6], "0", grid.line(y))
        XCTAssertTrue(grid.line(y).contains("███··"), grid.line(y))

        source.scriptedPolls = (0..<20).map { i in
            PollResult(indexes: try! source.currentIndexes(), events: [event(0, .used(id: 5, length: 64), index: UInt16(100 + i))])
        }
        for _ in 0..<20 {
            now += 0.1
            inspector.poll(now: now)
        }
        inspector.refresh(now: now)
        grid = render()
        XCTAssertEqual(grid.line(y).split(separator: " ")[6], "10.0", grid.line(y))
        XCTAssertTrue(grid.line(y).hasSuffix("███··██│") || grid.line(y).contains("███··██"), grid.line(y))
    }

    func testChangedIndexesAreHighlighted() {
        var grid = frame()
        XCTAssertNotEqual(style(of: "     3 ", in: grid)?.role, .changed)
        source.setAvailEntry(3, head: 5)
        source.setIndexes(avail: 4, used: 1)
        grid = frame()
        guard let y = row(containing: "virtio-blk:0", in: grid) else { return XCTFail(grid.text) }
        let line = grid.line(y)
        let availX = line.unicodeScalars.distance(from: line.unicodeScalars.startIndex,
                                                  to: line.range(of: "     4")!.upperBound.samePosition(in: line.unicodeScalars)!) - 1
        XCTAssertEqual(grid[availX, y].scalar, "4")
        XCTAssertEqual(grid[availX, y].style.role, .selected, "the selected row is drawn as a selection bar")
        // On an unselected row the change shows in its own color.
        press(.down)
        grid = frame()
        source.setAvailEntry(4, head: 5)
        source.setIndexes(avail: 5, used: 1)
        grid = frame()
        XCTAssertEqual(grid[availX, y].scalar, "5")
        XCTAssertEqual(grid[availX, y].style.role, .changed)
        grid = frame()
        XCTAssertEqual(grid[availX, y].style.role, .normal, "nothing moved since the last frame")
    }

    func testDiscoveryErrorIsShownNotThrown() {
        source.discoverError = .noQMP("the socket /tmp/vq.sock does not answer")
        inspector = Inspector(source: source)
        inspector.start(now: now)
        let grid = frame()
        assertShows("no queues: QMP: the socket /tmp/vq.sock does not answer", in: grid)
        assertShows("Queues (0)", in: grid)
        // Looking again finds them once QMP answers.
        source.discoverError = nil
        press(.character("r"))
        assertShows("virtio-blk:0", in: frame())
    }
}
