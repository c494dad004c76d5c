import VQCore
import XCTest

/// ``ProbeFrameTracer`` on probe records as the BPF program writes them (``ProbeRecordBuilder``),
/// decoded and named as a session names them: tx frames from pops, rx frames from fills (merged
/// buffers joined), headers stripped, frames the probe copied only in part cut short with their
/// whole length, other queues and kinds ignored.
final class ProbeFrameTracerTests: XCTestCase {
    /// VERSION_1 with mergeable receive buffers: 12-byte headers.
    let format = VirtioNetHeader.Format(features: [.version1, .netMergeableReceiveBuffers])
    /// Session queue 0 is the device's rx queue 0, session queue 1 its tx queue 1 (2: another device's).
    let queues = [0: 0, 1: 1]

    func header(numBuffers: UInt16 = 0) -> [UInt8] { [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, UInt8(numBuffers & 0xff), UInt8(numBuffers >> 8)] }

    /// An IPv4 frame of `length` bytes (an ICMP echo), from the guest's MAC.
    func frame(length: Int, seed: UInt8 = 1) -> [UInt8] {
        var f: [UInt8] = [0x52, 0x55, 0x0a, 0, 2, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x00]
        let total = length - 14
        f += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff)]
        while f.count < length { f.append(UInt8(truncatingIfNeeded: f.count) &+ seed) }
        return f
    }

    func named(_ b: ProbeRecordBuilder, queue: Int?) throws -> ProbeSession.Named {
        ProbeSession.Named(event: try ProbeRecordDecoder.decode(b.record), queue: queue)
    }

    func tracer(snapLength: Int = 65535) -> ProbeFrameTracer {
        ProbeFrameTracer(assembler: NetFrameAssembler(format: format, snapLength: snapLength), queues: queues)
    }

    func testTransmitAndReceiveFrames() throws {
        var t = tracer()
        let out = frame(length: 98), back = frame(length: 98, seed: 9)
        // tx: header and frame in one buffer; rx buffer popped (nothing written yet), then filled.
        var pop = ProbeRecordBuilder(kind: 3, ns: 2_000_000_000, object: 0xb0, head: 4, out: 1)
        pop.segment(address: 0x10000, length: UInt32(12 + out.count), writable: false, copied: header() + out)
        var rxPop = ProbeRecordBuilder(kind: 3, ns: 2_000_000_500, object: 0xa0, head: 9, into: 1)
        rxPop.segment(address: 0x20000, length: 1536, writable: true, copied: [])
        var fill = ProbeRecordBuilder(kind: 4, ns: 2_000_001_000, object: 0xa0, head: 9, len: UInt32(12 + back.count), into: 1)
        fill.segment(address: 0x20000, length: 1536, writable: true, copied: header(numBuffers: 1) + back)
        let flush = ProbeRecordBuilder(kind: 5, ns: 2_000_001_100, object: 0xa0, argument: 1)
        let frames = t.frames(from: [try named(pop, queue: 1), try named(rxPop, queue: 0), try named(fill, queue: 0), try named(flush, queue: 0)],
                              wall: { Double($0) / 1e9 })
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual(frames[0].direction, .outbound)
        XCTAssertEqual(frames[0].bytes, out)
        XCTAssertEqual(frames[0].length, out.count)
        XCTAssertEqual(frames[0].queueIndex, 1)
        XCTAssertEqual(frames[0].bufferID, 4)
        XCTAssertEqual(frames[0].time, 2.0, accuracy: 1e-9)
        XCTAssertEqual(frames[1].direction, .inbound)
        XCTAssertEqual(frames[1].bytes, back)
        XCTAssertEqual(frames[1].length, back.count)
        XCTAssertEqual(frames[1].bufferID, 9)
        XCTAssertEqual(t.truncated, 0)
        XCTAssertEqual(t.assembler.missedReceived + t.assembler.missedSent, 0)
    }

    func testHeaderInItsOwnBufferAndOtherQueuesIgnored() throws {
        var t = tracer()
        let out = frame(length: 600)
        var pop = ProbeRecordBuilder(kind: 3, ns: 1, object: 0xb0, head: 1, out: 2)
        pop.segment(address: 0x10000, length: 12, writable: false, copied: header())
        pop.segment(address: 0x11000, length: 600, writable: false, copied: out)
        // The same on a queue of no interest (another device), and a tx fill (no frame).
        let frames = t.frames(from: [try named(pop, queue: 1), try named(pop, queue: 2), try named(pop, queue: nil),
                                     try named(ProbeRecordBuilder(kind: 4, ns: 2, object: 0xb0, head: 1, len: 0, out: 2), queue: 1)],
                              wall: { _ in 0 })
        XCTAssertEqual(frames.map(\.bytes), [out])
    }

    func testMergedReceiveBuffersAreJoined() throws {
        var t = tracer()
        let big = frame(length: 3000)
        let first = header(numBuffers: 2) + big.prefix(1536 - 12)
        let second = Array(big[(1536 - 12)...])
        var f0 = ProbeRecordBuilder(kind: 4, ns: 10, object: 0xa0, argument: 0, head: 3, len: 1536, into: 1)
        f0.segment(address: 0x20000, length: 1536, writable: true, copied: first)
        var f1 = ProbeRecordBuilder(kind: 4, ns: 11, object: 0xa0, argument: 1, head: 4, len: UInt32(second.count), into: 1)
        f1.segment(address: 0x21000, length: 1536, writable: true, copied: second)
        let frames = t.frames(from: [try named(f0, queue: 0), try named(f1, queue: 0)], wall: { _ in 0 })
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(frames.first?.bytes, big)
        XCTAssertEqual(frames.first?.length, 3000)
    }

    /// A chain longer than the probe copies: the frame is written as far as the bytes run, with its
    /// whole length; a later merged buffer is not joined after a cut.
    func testFramesBeyondTheProbesBoundAreCutShortNotInvented() throws {
        var t = tracer()
        let out = frame(length: 1500)
        // Header, then 2 buffers: the middle one copied 128 bytes of 600 (the probe's bound between edges).
        var pop = ProbeRecordBuilder(kind: 3, ns: 1, object: 0xb0, head: 2, out: 3)
        pop.segment(address: 0x10000, length: 12, writable: false, copied: header())
        pop.segment(address: 0x11000, length: 600, writable: false, copied: Array(out[0..<128]))
        pop.segment(address: 0x12000, length: 900, writable: false, copied: Array(out[600...]))
        // A chain of 10 buffers: the probe describes its first seven and its last.
        var long = ProbeRecordBuilder(kind: 3, ns: 2, object: 0xb0, head: 3, out: 10)
        long.segment(address: 0x10000, length: 12, writable: false, copied: header())
        for k in 0..<6 { long.segment(address: 0x11000 + UInt64(k) * 0x100, length: 100, writable: false, copied: Array(out[(100 * k)..<(100 * k + 100)])) }
        long.segment(address: 0x19000, length: 300, writable: false, copied: Array(out[1200...]))
        // rx: the device wrote 1600 + 12 bytes into one buffer, the probe copied 1600.
        let wide = frame(length: 1600)
        var fill = ProbeRecordBuilder(kind: 4, ns: 3, object: 0xa0, head: 7, len: 1612, into: 1)
        fill.segment(address: 0x20000, length: 2048, writable: true, copied: Array((header(numBuffers: 1) + wide).prefix(1600)))
        let frames = t.frames(from: [try named(pop, queue: 1), try named(long, queue: 1), try named(fill, queue: 0)], wall: { _ in 0 })
        XCTAssertEqual(frames.count, 3)
        XCTAssertEqual(frames[0].bytes, Array(out[0..<128]), "up to the end of the copied part, nothing after the gap")
        XCTAssertEqual(frames[0].length, 1500)
        XCTAssertEqual(frames[1].bytes, Array(out[0..<600]), "the first seven buffers; the last follows a gap")
        XCTAssertEqual(frames[1].length, 1500, "the chain's length not known: the IPv4 header's")
        XCTAssertEqual(frames[2].bytes, Array(wide.prefix(1588)))
        XCTAssertEqual(frames[2].length, 1600)
        XCTAssertEqual(t.truncated, 3)
        // Merged: the first buffer cut short, the second counted but not joined.
        var f0 = ProbeRecordBuilder(kind: 4, ns: 10, object: 0xa0, head: 3, len: 2048, into: 1)
        f0.segment(address: 0x20000, length: 2048, writable: true, copied: Array((header(numBuffers: 2) + frame(length: 3000)).prefix(1600)))
        var f1 = ProbeRecordBuilder(kind: 4, ns: 11, object: 0xa0, argument: 1, head: 4, len: 964, into: 1)
        f1.segment(address: 0x21000, length: 2048, writable: true, copied: Array(frame(length: 3000)[2036...]))
        let merged = t.frames(from: [try named(f0, queue: 0), try named(f1, queue: 0)], wall: { _ in 0 })
        XCTAssertEqual(merged.first?.bytes.count, 1588)
        XCTAssertEqual(merged.first?.length, 3000)
    }

    func testBytesOfOneBuffer() throws {
        var fill = ProbeRecordBuilder(kind: 4, ns: 1, object: 1, head: 0, len: 5, into: 2)
        fill.segment(address: 0x1000, length: 3, writable: true, copied: [1, 2, 3])
        fill.segment(address: 0x2000, length: 100, writable: true, copied: [4, 5])
        let b = try XCTUnwrap(ProbeEventBytes(try ProbeRecordDecoder.decode(fill.record)))
        XCTAssertEqual(b.bytes, [1, 2, 3, 4, 5])
        XCTAssertEqual(b.length, 5)
        XCTAssertFalse(b.isTruncated)
        XCTAssertNil(ProbeEventBytes(try ProbeRecordDecoder.decode(ProbeRecordBuilder(kind: 5, ns: 1, object: 1).record)))
    }
}

extension ProbeFrameTracerTests {
    /// A multiqueue device: every rx and tx queue of every pair gives frames, each named by its own
    /// queue number; the control queue (not in the map) gives none.
    func testEveryQueuePairOfAMultiqueueDevice() throws {
        var t = ProbeFrameTracer(assembler: NetFrameAssembler(format: format), queues: [0: 0, 1: 1, 2: 2, 3: 3])
        let out = frame(length: 120), back = frame(length: 90, seed: 3)
        var events: [ProbeSession.Named] = []
        for (session, tx) in [(1, true), (3, true), (0, false), (2, false), (4, true)] {
            if tx {
                var pop = ProbeRecordBuilder(kind: 3, ns: UInt64(session), object: 0xb0, head: UInt32(session), out: 1)
                pop.segment(address: 0x10000, length: UInt32(12 + out.count), writable: false, copied: header() + out)
                events.append(try named(pop, queue: session))
            } else {
                var fill = ProbeRecordBuilder(kind: 4, ns: UInt64(session), object: 0xa0, head: UInt32(session), len: UInt32(12 + back.count), into: 1)
                fill.segment(address: 0x20000, length: 1536, writable: true, copied: header(numBuffers: 1) + back)
                events.append(try named(fill, queue: session))
            }
        }
        let frames = t.frames(from: events, wall: { _ in 0 })
        XCTAssertEqual(frames.map(\.queueIndex), [1, 3, 0, 2])
        XCTAssertEqual(frames.map(\.direction), [.outbound, .outbound, .inbound, .inbound])
    }
}
