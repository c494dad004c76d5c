import VQCore
import XCTest

/// ``NetFrameAssembler`` over the outputs of real ``QueueTap``s on split rings in memory: tx frames
/// from the chains the driver makes available, rx frames from the buffers the device returns (merged
/// over several when MRG_RXBUF says so), each without its virtio-net header; missed frames counted.
final class NetFrameAssemblerTests: XCTestCase {
    private let ram = TapGuestRAM()
    /// VERSION_1 with mergeable receive buffers: a 12-byte header whose num_buffers counts.
    private let mergeable = VirtioNetHeader.Format(features: [.version1, .netMergeableReceiveBuffers])

    /// A virtio-net header: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers,
    /// cut to `size` bytes (and zero-padded past 12, where the hash report would be).
    private func header(size: Int = 12, flags: UInt8 = 0, csumStart: UInt16 = 0, csumOffset: UInt16 = 0, numBuffers: UInt16 = 0) -> [UInt8] {
        var h: [UInt8] = [flags, 0, 0, 0, 0, 0]
        for v in [csumStart, csumOffset, numBuffers] { h += [UInt8(v & 0xff), UInt8(v >> 8)] }
        return Array((h + [UInt8](repeating: 0, count: 8)).prefix(size))
    }

    /// The transmit queue (1) of a device with an rx and a tx queue: a split ring at 0x3000.
    private func transmitQueue(_ assembler: NetFrameAssembler) throws -> (SplitTestRing, RingWatcher, QueueTap) {
        let ring = SplitTestRing(ram: ram, base: 0x3000)
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        _ = try watcher.poll()
        let plan = try XCTUnwrap(assembler.plan(queueIndex: 1, queueCount: 2))
        return (ring, watcher, QueueTap(memory: try ram.memory(), location: ring.location, plan: plan))
    }

    /// The receive queue (0): a split ring at 0x1000 whose heads 0...5 are 2 KiB device-writable
    /// buffers at 0x20000 + 0x1000 * head, made available before the tap starts, then primed.
    private func receiveQueue(_ assembler: NetFrameAssembler) throws -> (SplitTestRing, RingWatcher, QueueTap) {
        let ring = SplitTestRing(ram: ram)
        for h in 0..<6 {
            ring.describe(h, 0x20000 + 0x1000 * UInt64(h), 2048, [.write])
            ring.post(UInt16(h))
        }
        let watcher = try RingWatcher(memory: try ram.memory(), queues: [ring.location])
        _ = try watcher.poll()
        let plan = try XCTUnwrap(assembler.plan(queueIndex: 0, queueCount: 2))
        let tap = QueueTap(memory: try ram.memory(), location: ring.location, plan: plan)
        try tap.prime(at: 0)
        return (ring, watcher, tap)
    }

    /// The device writes `bytes` into head `head`'s buffer and returns it.
    private func receive(_ ring: SplitTestRing, head: Int, _ bytes: [UInt8]) {
        ram.put(bytes, 0x20000 + 0x1000 * UInt64(head))
        ring.use(UInt32(head), length: UInt32(bytes.count))
    }

    // MARK: - Transmit

    func testTransmitFramesLoseTheirHeader() throws {
        var assembler = NetFrameAssembler(format: mergeable)
        let (ring, watcher, tap) = try transmitQueue(assembler)
        XCTAssertEqual(tap.plan, QueueTap.Plan(driverBytes: 12 + 65535))
        // Head 0: header and frame in one buffer. Head 1: header, then the frame.
        let first = tapPattern(1, 60), second = tapPattern(2, 98)
        ram.put(header(flags: 1, csumStart: 34, csumOffset: 16) + first, 0x10000)
        ring.describe(0, 0x10000, 72)
        ram.put(header(), 0x11000)
        ram.put(second, 0x12000)
        ring.describe(1, 0x11000, 12, [.next], next: 2)
        ring.describe(2, 0x12000, 98)
        ring.post(0)
        ring.post(1)

        let frames = assembler.frames(from: tap.process(try watcher.poll(), at: 4), queueIndex: 1)
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual(frames.map(\.bytes), [first, second])
        XCTAssertEqual(frames.map(\.length), [60, 98])
        XCTAssertEqual(frames.map(\.direction), [.outbound, .outbound])
        XCTAssertEqual(frames.map(\.queueIndex), [1, 1])
        XCTAssertEqual(frames.map(\.bufferID), [0, 1])
        XCTAssertEqual(frames.map(\.time), [4, 4])
        XCTAssertEqual(frames[0].header.flags, 1)
        XCTAssertEqual(frames[0].header.csumStart, 34)
        XCTAssertEqual(frames[0].header.csumOffset, 16)
        XCTAssertEqual(frames[0].comment,
                       "virtio-net tx queue 1 buffer 0: flags 0x01 gso none hdr_len 0 gso_size 0 csum_start 34 csum_offset 16 num_buffers 1")
        XCTAssertEqual(assembler.missedSent, 0)
        XCTAssertEqual(assembler.missedReceived, 0)
    }

    func testTransmitFramesAreCutAtTheSnapLength() throws {
        var assembler = NetFrameAssembler(format: mergeable, snapLength: 64)
        let (ring, watcher, tap) = try transmitQueue(assembler)
        XCTAssertEqual(tap.plan.driverBytes, 76)
        ram.put(header() + tapPattern(3, 100), 0x10000)
        ring.describe(0, 0x10000, 112)
        ring.post(0)
        let frames = assembler.frames(from: tap.process(try watcher.poll(), at: 1), queueIndex: 1)
        XCTAssertEqual(frames.map(\.bytes), [tapPattern(3, 64)])
        XCTAssertEqual(frames.map(\.length), [100], "the whole frame's length")
    }

    func testTransmitFramesReusedOrLappedAreCountedMissed() throws {
        var assembler = NetFrameAssembler(format: mergeable)
        let (ring, watcher, tap) = try transmitQueue(assembler)
        for d in 0..<8 {
            ram.put(header() + tapPattern(UInt8(d), 50), 0x10000 + 0x100 * UInt64(d))
            ring.describe(d, 0x10000 + 0x100 * UInt64(d), 62)
        }
        // Head 0 reused for another frame before the tap reads it.
        ring.post(0)
        let events = try watcher.poll()
        ring.use(0, length: 0)
        ram.put(header() + tapPattern(0, 50), 0x18000)
        ring.describe(0, 0x18000, 62)
        ring.post(0)
        XCTAssertEqual(assembler.frames(from: tap.process(events, at: 1), queueIndex: 1), [])
        XCTAssertEqual(assembler.missedSent, 1)
        XCTAssertEqual(assembler.missedBy, ["reused": 1])

        // Ten more entries on a ring of eight: the new buffer of head 0 and the next two went by unread.
        for p in 0..<10 { ring.post(UInt16(p % 8)) }
        let frames = assembler.frames(from: tap.process(try watcher.poll(), at: 2), queueIndex: 1)
            + assembler.frames(from: tap.process([], at: 3), queueIndex: 1)
        XCTAssertEqual(assembler.missedBy["lapped"], 3)
        XCTAssertGreaterThanOrEqual(frames.count, 7)
        XCTAssertEqual(frames.count + assembler.missedSent, 8 + 3 + 1, "every frame emitted or counted")
        XCTAssertEqual(frames.map(\.bytes), frames.map { tapPattern(UInt8($0.bufferID), 50) })
        XCTAssertEqual(assembler.missedReceived, 0)
    }

    func testTransmitFrameWhoseLengthTheRingLostIsCutAtItsOwnLength() {
        // A packed-ring buffer returned before it was seen: the tap read a fixed amount at its
        // address (``QueueTap/Buffer/lengthUnknown``), and the frame's headers tell its end.
        var assembler = NetFrameAssembler(format: mergeable)
        let echo = PcapngTests.echoFrame(request: true, sequence: 3)
        var buffer = QueueTap.Buffer(id: 4, position: 2, wrap: true, chain: Chain(head: 2), time: 7,
                                     driverBytes: header() + echo + tapPattern(1, 200))
        buffer.lengthUnknown = true
        var garbage = buffer
        garbage.driverBytes = header() + tapPattern(2, 200)  // no EtherType it knows
        let frames = assembler.frames(from: [.available(buffer), .available(garbage)], queueIndex: 1)
        XCTAssertEqual(frames.map(\.bytes), [echo])
        XCTAssertEqual(frames.map(\.length), [echo.count])
        XCTAssertEqual(assembler.missedBy, ["malformed": 1])
    }

    func testWireLengthFromTheFramesHeaders() {
        let mac = [UInt8](repeating: 0xAB, count: 12)
        XCTAssertEqual(NetFrameAssembler.wireLength(PcapngTests.echoFrame(request: false, sequence: 1)), 74)
        XCTAssertEqual(NetFrameAssembler.wireLength(mac + [0x08, 0x00, 0x45, 0, 0x05, 0xDC]), 14 + 1500, "IPv4 total length")
        XCTAssertEqual(NetFrameAssembler.wireLength(mac + [0x81, 0x00, 0, 5, 0x08, 0x00, 0x45, 0, 0, 40]), 18 + 40, "behind a VLAN tag")
        XCTAssertEqual(NetFrameAssembler.wireLength(mac + [0x86, 0xDD, 0x60, 0, 0, 0, 0, 32]), 14 + 40 + 32, "IPv6 payload length")
        XCTAssertEqual(NetFrameAssembler.wireLength(mac + [0x08, 0x06]), 14 + 28, "ARP")
        XCTAssertNil(NetFrameAssembler.wireLength(mac + [0x08, 0x00, 0x45, 0, 0, 19]), "an IPv4 total length below its header")
        XCTAssertNil(NetFrameAssembler.wireLength(mac + [0x88, 0xCC]), "LLDP: no length in its headers")
        XCTAssertNil(NetFrameAssembler.wireLength(Array(mac.prefix(10))))
    }

    // MARK: - Receive

    func testReceiveFrameInOneBuffer() throws {
        var assembler = NetFrameAssembler(format: mergeable)
        let (ring, watcher, tap) = try receiveQueue(assembler)
        XCTAssertEqual(tap.plan, QueueTap.Plan(deviceBytes: .written(limit: 12 + 65535)))
        let frame = tapPattern(4, 60)
        receive(ring, head: 2, header(numBuffers: 1) + frame)
        let frames = assembler.frames(from: tap.process(try watcher.poll(), at: 3), queueIndex: 0)
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(frames.first?.bytes, frame)
        XCTAssertEqual(frames.first?.length, 60)
        XCTAssertEqual(frames.first?.direction, .inbound)
        XCTAssertEqual(frames.first?.bufferID, 2)
        XCTAssertEqual(frames.first?.time, 3, "rx frames are timed when returned")
        XCTAssertEqual(frames.first?.header.numBuffers, 1)
        XCTAssertEqual(frames.first?.comment.hasPrefix("virtio-net rx queue 0 buffer 2: "), true)
        XCTAssertEqual(assembler.missedReceived, 0)
    }

    func testReceiveFrameMergedFromThreeBuffersOverTwoPolls() throws {
        var assembler = NetFrameAssembler(format: mergeable)
        let (ring, watcher, tap) = try receiveQueue(assembler)
        let frame = tapPattern(5, 350)
        receive(ring, head: 0, header(numBuffers: 3) + frame[0..<100])
        receive(ring, head: 1, Array(frame[100..<300]))
        XCTAssertEqual(assembler.frames(from: tap.process(try watcher.poll(), at: 1), queueIndex: 0), [],
                       "two buffers of three: nothing yet")
        receive(ring, head: 2, Array(frame[300...]))
        let frames = assembler.frames(from: tap.process(try watcher.poll(), at: 2), queueIndex: 0)
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(frames.first?.bytes, frame)
        XCTAssertEqual(frames.first?.length, 350)
        XCTAssertEqual(frames.first?.bufferID, 0)
        XCTAssertEqual(frames.first?.time, 1, "the time of the first buffer")
        XCTAssertEqual(frames.first?.header.numBuffers, 3)
        assembler.finish()
        XCTAssertEqual(assembler.missedReceived, 0)
    }

    func testReceiveFrameWithAMissingMiddleBufferIsCountedNotEmitted() throws {
        var assembler = NetFrameAssembler(format: mergeable)
        let (ring, watcher, tap) = try receiveQueue(assembler)
        let frame = tapPattern(6, 300)
        receive(ring, head: 0, header(numBuffers: 3) + frame[0..<100])
        // The middle buffer: an id the tap never saw made available.
        ring.describe(7, 0x27000, 2048, [.write])
        ram.put(Array(frame[100..<200]), 0x27000)
        ring.use(7, length: 100)
        receive(ring, head: 1, Array(frame[200...]))
        // Then a whole frame, which comes through.
        receive(ring, head: 2, header(numBuffers: 1) + tapPattern(7, 64))
        let frames = assembler.frames(from: tap.process(try watcher.poll(), at: 1), queueIndex: 0)
        XCTAssertEqual(frames.map(\.bytes), [tapPattern(7, 64)])
        XCTAssertEqual(assembler.missedReceived, 1)
        XCTAssertEqual(assembler.missedBy, ["merge": 1])
        XCTAssertEqual(assembler.missedSent, 0)
    }

    func testReceiveFrameStillWaitingForBuffersAtTheEndIsMissed() throws {
        var assembler = NetFrameAssembler(format: mergeable)
        let (ring, watcher, tap) = try receiveQueue(assembler)
        receive(ring, head: 3, header(numBuffers: 2) + tapPattern(8, 40))
        XCTAssertEqual(assembler.frames(from: tap.process(try watcher.poll(), at: 1), queueIndex: 0), [])
        XCTAssertEqual(assembler.missedReceived, 0)
        assembler.finish()
        XCTAssertEqual(assembler.missedReceived, 1)
    }

    func testLegacyHeaderOfTenBytesWithoutMergeableBuffers() throws {
        var assembler = NetFrameAssembler(format: VirtioNetHeader.Format(features: []))
        let (ring, watcher, tap) = try receiveQueue(assembler)
        XCTAssertEqual(tap.plan.deviceBytes, .written(limit: 10 + 65535))
        // Whatever the bytes after the header say, a frame is one buffer.
        let frame = [UInt8](arrayLiteral: 3, 0) + tapPattern(9, 58)
        receive(ring, head: 4, header(size: 10) + frame)
        let frames = assembler.frames(from: tap.process(try watcher.poll(), at: 1), queueIndex: 0)
        XCTAssertEqual(frames.map(\.bytes), [frame])
        XCTAssertEqual(frames.first?.header.numBuffers, 1)
    }

    func testReceiveBufferNoLongerThanTheHeaderIsMissed() throws {
        var assembler = NetFrameAssembler(format: mergeable)
        let (ring, watcher, tap) = try receiveQueue(assembler)
        receive(ring, head: 0, header(numBuffers: 1))
        XCTAssertEqual(assembler.frames(from: tap.process(try watcher.poll(), at: 1), queueIndex: 0), [])
        XCTAssertEqual(assembler.missedReceived, 1)
    }

    // MARK: - Queues and formats

    func testControlQueueGetsNoPlan() {
        let assembler = NetFrameAssembler(format: mergeable, snapLength: 1000)
        let rx = QueueTap.Plan(deviceBytes: .written(limit: 1012)), tx = QueueTap.Plan(driverBytes: 1012)
        XCTAssertEqual(assembler.plan(queueIndex: 0, queueCount: 1), rx)
        XCTAssertEqual(assembler.plan(queueIndex: 0, queueCount: 2), rx)
        XCTAssertEqual(assembler.plan(queueIndex: 1, queueCount: 2), tx)
        XCTAssertEqual(assembler.plan(queueIndex: 0, queueCount: 3), rx)
        XCTAssertEqual(assembler.plan(queueIndex: 1, queueCount: 3), tx)
        XCTAssertNil(assembler.plan(queueIndex: 2, queueCount: 3), "the control queue")
        XCTAssertEqual(assembler.plan(queueIndex: 2, queueCount: 5), rx)
        XCTAssertEqual(assembler.plan(queueIndex: 3, queueCount: 5), tx)
        XCTAssertNil(assembler.plan(queueIndex: 4, queueCount: 5), "the control queue")
        XCTAssertEqual(assembler.plan(queueIndex: 3, queueCount: 4), tx, "an even count has no control queue")
        XCTAssertEqual(NetFrameAssembler(format: mergeable, snapLength: 10).snapLength, 64, "at least 64 bytes")
    }

    func testHeaderFormatFromFeatures() {
        func format(_ f: VirtioFeatures) -> VirtioNetHeader.Format { VirtioNetHeader.Format(features: f) }
        XCTAssertEqual(format([]), VirtioNetHeader.Format(size: 10, mergeable: false))
        XCTAssertEqual(format([.indirectDescriptors, .eventIndex]), VirtioNetHeader.Format(size: 10, mergeable: false))
        XCTAssertEqual(format([.netMergeableReceiveBuffers]), VirtioNetHeader.Format(size: 12, mergeable: true))
        XCTAssertEqual(format([.version1]), VirtioNetHeader.Format(size: 12, mergeable: false))
        XCTAssertEqual(format([.version1, .netMergeableReceiveBuffers]), VirtioNetHeader.Format(size: 12, mergeable: true))
        XCTAssertEqual(format([.version1, .netHashReport]), VirtioNetHeader.Format(size: 20, mergeable: false))
        XCTAssertEqual(format([.version1, .netMergeableReceiveBuffers, .netHashReport]), VirtioNetHeader.Format(size: 20, mergeable: true))
        XCTAssertEqual(VirtioFeatures.netMergeableReceiveBuffers.rawValue, 1 << 15)
        XCTAssertEqual(VirtioFeatures.netHashReport.rawValue, 1 << 57)
    }

    func testHeaderFields() throws {
        let bytes: [UInt8] = [0x01, 0x81, 0x36, 0x00, 0xA8, 0x05, 0x22, 0x00, 0x10, 0x00, 0x02, 0x00] + [UInt8](repeating: 0, count: 8)
        let h = try XCTUnwrap(VirtioNetHeader(bytes, format: VirtioNetHeader.Format(size: 20, mergeable: true)))
        XCTAssertEqual(h.flags, 1)
        XCTAssertEqual(h.gsoType, 0x81)
        XCTAssertEqual(h.gsoName, "tcpv4+ecn")
        XCTAssertEqual(h.headerLength, 54)
        XCTAssertEqual(h.gsoSize, 1448)
        XCTAssertEqual(h.csumStart, 34)
        XCTAssertEqual(h.csumOffset, 16)
        XCTAssertEqual(h.numBuffers, 2)
        XCTAssertEqual(VirtioNetHeader(bytes, format: VirtioNetHeader.Format(size: 12, mergeable: false))?.numBuffers, 1)
        XCTAssertEqual(VirtioNetHeader([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], format: VirtioNetHeader.Format(size: 12, mergeable: true))?.numBuffers, 1,
                       "num_buffers 0 reads as one buffer")
        XCTAssertNil(VirtioNetHeader(Array(bytes.prefix(11)), format: VirtioNetHeader.Format(size: 12, mergeable: true)))
        XCTAssertNil(VirtioNetHeader(Array(bytes.prefix(19)), format: VirtioNetHeader.Format(size: 20, mergeable: true)))
    }
}
