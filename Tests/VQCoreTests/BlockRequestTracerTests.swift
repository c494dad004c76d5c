@testable import VQCore
import XCTest

/// ``BlockRequestTracer`` over a real ``QueueTap`` on a split virtio-blk queue in memory: the header
/// read when a request is made available, the status byte when it is returned, timed by the polls.
final class BlockRequestTracerTests: XCTestCase {
    private let ram = TapGuestRAM()
    private var ring: SplitTestRing!
    private var watcher: RingWatcher!
    private var tap: QueueTap!
    private var tracer = BlockRequestTracer()

    override func setUpWithError() throws {
        ring = SplitTestRing(ram: ram)
    }

    /// Starts following the queue as a trace does: a first poll, then the requests in flight.
    private func start(at time: Double = 0) throws {
        watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        _ = try watcher.poll()
        tap = QueueTap(memory: try ram.memory(), location: ring.location, plan: BlockRequestTracer.plan)
        try tap.prime(at: time)
    }

    /// One poll, through the tap into the tracer.
    private func poll(at time: Double) throws -> [TracedBlockRequest] {
        tracer.requests(from: tap.process(try watcher.poll(), at: time), queueIndex: 0)
    }

    /// The outputs the tap held back at the last poll (buffers the device returned before their
    /// header was read), settled by a poll that found nothing new.
    private func settle(at time: Double) -> [TracedBlockRequest] {
        tracer.requests(from: tap.process([], at: time), queueIndex: 0)
    }

    /// The 16-byte request header: type, reserved, sector.
    private func header(type: UInt32, sector: UInt64) -> [UInt8] {
        withUnsafeBytes(of: type.littleEndian, Array.init) + [0, 0, 0, 0] + withUnsafeBytes(of: sector.littleEndian, Array.init)
    }

    /// A request at head `head` (descriptors head, head + 1, head + 2) with its header at `base`: a
    /// read puts `data` bytes device-writable between header and status, a write device-readable.
    /// The status byte starts as 0xFF.
    private func describeRequest(head: Int, base: UInt64, type: UInt32, sector: UInt64, data: UInt32) {
        ram.put(header(type: type, sector: sector), base)
        ram.put(UInt8(0xFF), base + 0x2000)
        ring.describe(head, base, 16, [.next], next: UInt16(head + 1))
        ring.describe(head + 1, base + 0x1000, data, type == 0 ? [.next, .write] : [.next], next: UInt16(head + 2))
        ring.describe(head + 2, base + 0x2000, 1, [.write])
    }

    /// The device finishes the request at `head` (header at `base`) with `status`.
    private func complete(head: Int, base: UInt64, status: UInt8, written: UInt32) {
        ram.put(status, base + 0x2000)
        ring.use(UInt32(head), length: written)
    }

    func testPlanReadsTheHeaderAndTheStatusByte() {
        XCTAssertEqual(BlockRequestTracer.plan, QueueTap.Plan(driverBytes: 16, deviceBytes: .lastByte))
    }

    func testReadAndWriteRequestsFromSubmissionToCompletion() throws {
        try start()
        describeRequest(head: 0, base: 0x10000, type: 0, sector: 1234, data: 4096)
        describeRequest(head: 3, base: 0x20000, type: 1, sector: 99, data: 512)
        ring.post(0)
        ring.post(3)
        XCTAssertEqual(try poll(at: 2), [], "submitted, not completed")
        XCTAssertEqual(tracer.pending(tap.inFlight, queueIndex: 0), [
            TracedBlockRequest(queueIndex: 0, id: 0, request: BlockRequest(type: 0, sector: 1234, dataLength: 4096, status: nil), submitted: 2, completed: nil),
            TracedBlockRequest(queueIndex: 0, id: 3, request: BlockRequest(type: 1, sector: 99, dataLength: 512, status: nil), submitted: 2, completed: nil),
        ])

        complete(head: 0, base: 0x10000, status: 0, written: 4097)
        complete(head: 3, base: 0x20000, status: 1, written: 1)
        let done = try poll(at: 3.5)
        XCTAssertEqual(done, [
            TracedBlockRequest(queueIndex: 0, id: 0, request: BlockRequest(type: 0, sector: 1234, dataLength: 4096, status: 0), submitted: 2, completed: 3.5),
            TracedBlockRequest(queueIndex: 0, id: 3, request: BlockRequest(type: 1, sector: 99, dataLength: 512, status: 1), submitted: 2, completed: 3.5),
        ])
        XCTAssertEqual(done.first?.latency, 1.5)
        XCTAssertEqual(done.first?.request.typeName, "read")
        XCTAssertEqual(done.last?.request.statusName, "ioerr")
        XCTAssertEqual(tracer.pending(tap.inFlight, queueIndex: 0), [])
        XCTAssertEqual(tracer.missed, 0)
        XCTAssertEqual(tracer.untimed, 0)
    }

    func testStatusIsTheLastByteOfTheLastWritableBufferOfAnIndirectChain() throws {
        try start()
        // Header, then data and status in one writable buffer, through an indirect table.
        let table: UInt64 = 0x30000
        ram.put(header(type: 0, sector: 8), 0x31000)
        ram.put([UInt8](repeating: 0xAA, count: 512) + [2], 0x32000)
        ring.describe(0, 0x31000, 16, [.next], next: 1, table: table)
        ring.describe(1, 0x32000, 513, [.write], table: table)
        ring.describe(5, table, 32, [.indirect])
        ring.post(5)
        XCTAssertEqual(try poll(at: 1), [])
        ring.use(5, length: 513)
        let done = try poll(at: 2)
        XCTAssertEqual(done.map(\.request), [BlockRequest(type: 0, sector: 8, dataLength: 512, status: 2)])
        XCTAssertEqual(done.first?.request.statusName, "unsupp")
    }

    func testRequestSubmittedAndCompletedBetweenTwoPollsIsTraced() throws {
        try start()
        describeRequest(head: 0, base: 0x10000, type: 0, sector: 77, data: 512)
        ring.post(0)
        complete(head: 0, base: 0x10000, status: 0, written: 513)
        XCTAssertEqual(try poll(at: 1), [], "returned before its header was read: held for a poll")
        XCTAssertEqual(settle(at: 2), [
            TracedBlockRequest(queueIndex: 0, id: 0, request: BlockRequest(type: 0, sector: 77, dataLength: 512, status: 0), submitted: 1, completed: 1),
        ])
        XCTAssertEqual(tracer.untimed, 0)
        XCTAssertEqual(tracer.missed, 0)
    }

    func testRequestWhoseMemoryTheDriverReusedBeforeTheNextPollIsNotTraced() throws {
        try start()
        describeRequest(head: 0, base: 0x10000, type: 0, sector: 77, data: 512)
        ring.post(0)
        complete(head: 0, base: 0x10000, status: 0, written: 513)
        XCTAssertEqual(try poll(at: 1), [])
        // Before the next poll the driver writes its next request into the same memory (header and
        // status) and makes it available: the header read may have been the new request's.
        describeRequest(head: 3, base: 0x10000, type: 1, sector: 88, data: 512)
        ring.post(3)
        XCTAssertEqual(try poll(at: 2), [])
        XCTAssertEqual(tracer.missed, 1, "counted once, not again at its completion")
        XCTAssertEqual(tracer.pending(tap.inFlight, queueIndex: 0).map(\.request), [BlockRequest(type: 1, sector: 88, dataLength: 512, status: nil)])
    }

    func testHeadCompletedAndSubmittedAgainBetweenTwoPolls() throws {
        try start()
        describeRequest(head: 0, base: 0x10000, type: 0, sector: 1, data: 512)
        ring.post(0)
        XCTAssertEqual(try poll(at: 1), [])
        // The first request completes; head 0 carries a write of sector 2 next, with its own header.
        complete(head: 0, base: 0x10000, status: 0, written: 513)
        describeRequest(head: 0, base: 0x40000, type: 1, sector: 2, data: 512)
        ring.post(0)
        let first = try poll(at: 2) + settle(at: 2.5)
        XCTAssertEqual(first.map(\.request), [BlockRequest(type: 0, sector: 1, dataLength: 512, status: 0)])
        XCTAssertEqual(first.map(\.submitted), [1])
        XCTAssertEqual(tracer.pending(tap.inFlight, queueIndex: 0).map(\.request), [BlockRequest(type: 1, sector: 2, dataLength: 512, status: nil)])
        complete(head: 0, base: 0x40000, status: 0, written: 1)
        let second = try poll(at: 3) + settle(at: 3.5)
        XCTAssertEqual(second.map(\.request), [BlockRequest(type: 1, sector: 2, dataLength: 512, status: 0)])
        XCTAssertEqual(second.map(\.submitted), [2])
        XCTAssertEqual(tracer.untimed, 0)
        XCTAssertEqual(tracer.missed, 0)
    }

    func testRequestsInFlightWhenTheTraceStartsAreUntimed() throws {
        describeRequest(head: 0, base: 0x10000, type: 0, sector: 5, data: 4096)
        ring.post(0)
        try start(at: 0)
        XCTAssertEqual(tap.inFlight.map(\.id), [0])
        XCTAssertEqual(tracer.pending(tap.inFlight, queueIndex: 0), [], "its header was never read")
        complete(head: 0, base: 0x10000, status: 0, written: 4097)
        XCTAssertEqual(try poll(at: 1), [])
        XCTAssertEqual(tracer.untimed, 1)
        XCTAssertEqual(tracer.missed, 0)
    }

    func testUnreadableHeaderIsMissedOnce() throws {
        try start()
        ring.describe(0, 0x7000_0000, 16, [.next], next: 1)  // outside guest RAM
        ring.describe(1, 0x12000, 1, [.write])
        ring.post(0)
        XCTAssertEqual(try poll(at: 1), [])
        XCTAssertEqual(tracer.missed, 1)
        ring.use(0, length: 1)
        XCTAssertEqual(try poll(at: 2), [])
        XCTAssertEqual(tracer.missed, 1, "counted when made available, not again when returned")
        XCTAssertEqual(tracer.untimed, 0)
    }

    func testLappedAvailRingCountsMissedRequests() {
        var tracer = BlockRequestTracer()
        XCTAssertEqual(tracer.requests(from: [.lapped(ring: .avail, count: 4), .lapped(ring: .used, count: 2)], queueIndex: 0), [])
        XCTAssertEqual(tracer.missed, 4)
    }
}
