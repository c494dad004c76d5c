import Foundation
import Glibc
import VQCore
import XCTest

/// Split-ring snapshots of the running basic guest while it works: a snapshot that says
/// `consistent` must hold together, whatever the guest was doing during the read.
extension BasicGuestTests {
    func testConsistentSnapshotsOfABusyGuestHoldTogether() throws {
        let guest = try guest
        let target = try guest.open()
        let memory = target.memory
        let queues = try target.virtioDevices().flatMap(\.queues).filter { q in
            guard q.location.layout == .split, let i = try? RingIndexes.read(q.location, from: memory) else { return false }
            return i.available != 0 || i.used != 0
        }
        XCTAssertTrue(queues.contains { $0.label == "virtio-net:0" } && queues.contains { $0.label == "virtio-blk:0" }, "\(queues.map(\.label))")

        // More traffic than the bench makes: connections to a port forwarded into the guest, each one
        // a SYN the guest receives and a RST it sends (nothing listens there).
        let load = NetworkLoad()
        let port = try load.freePort()
        let reply = try guest.harness.humanMonitorCommand("hostfwd_add n0 tcp:127.0.0.1:\(port)-:9")
        XCTAssertEqual(reply.trimmingCharacters(in: .whitespacesAndNewlines), "", "hostfwd_add: \(reply)")
        defer { _ = try? guest.harness.humanMonitorCommand("hostfwd_remove n0 tcp:127.0.0.1:\(port)") }
        let loader = Thread { load.run(port: port) }
        loader.start()
        defer { load.stop() }

        struct Tally { var snapshots = 0, consistent = 0, retried = 0, torn = 0; var first: (UInt16, UInt16)?; var last: (UInt16, UInt16)? }
        var tallies = [String: Tally]()
        var failures: [String] = []
        func fail(_ q: Virtqueue, _ s: SplitRing.Snapshot, _ what: String) {
            if failures.count < 20 { failures.append("\(q.label) avail \(s.avail.index) used \(s.used.index) attempts \(s.attempts): \(what)") }
        }
        let start = Date()
        while Date().timeIntervalSince(start) < 4 {
            for q in queues {
                let s = try SplitRing.snapshot(memory: memory, location: q.location, maxAttempts: 8)
                let n = Int(q.location.size)
                var t = tallies[q.label] ?? Tally()
                t.snapshots += 1
                if s.attempts > 1 { t.retried += 1 }
                guard s.consistent else {
                    t.torn += 1
                    tallies[q.label] = t
                    continue
                }
                t.consistent += 1
                if t.first == nil { t.first = (s.avail.index, s.used.index) }
                t.last = (s.avail.index, s.used.index)
                tallies[q.label] = t

                // Held together: the indexes, the in-flight window and its chains, the latest used entries.
                if s.pendingCount > n { fail(q, s, "avail idx - used idx = \(s.pendingCount) > \(n)") }
                if s.inFlight.count != s.pendingCount { fail(q, s, "\(s.inFlight.count) chains in flight for \(s.pendingCount)") }
                if !s.problems.isEmpty { fail(q, s, "ring problems \(s.problems.map(\.code))") }
                for f in s.inFlight {
                    if Int(f.head) >= n { fail(q, s, "head \(f.head) at #\(f.position)") }
                    guard let chain = f.chain else { fail(q, s, "no chain for head \(f.head)"); continue }
                    if !chain.problems.isEmpty { fail(q, s, "chain \(f.head) at #\(f.position): \(chain.problems.map(\.code))") }
                    if chain.elements.isEmpty { fail(q, s, "chain \(f.head) has no buffer") }
                }
                let recent = min(n, Int(s.used.index), 32)
                for k in 1...max(1, recent) where recent > 0 {
                    let element = s.used.ring[Int(s.used.index &- UInt16(k)) % n]
                    if element.id >= UInt32(n) { fail(q, s, "used entry #\(s.used.index &- UInt16(k)) names \(element.id)") }
                    if element.length > 1 << 20 { fail(q, s, "used entry #\(s.used.index &- UInt16(k)) length \(element.length)") }
                }
            }
        }
        load.stop()
        loader.cancel()

        var advanced: [String] = []
        for (label, t) in tallies.sorted(by: { $0.key < $1.key }) {
            let moved = t.first.map { f in t.last.map { Int($0.0 &- f.0) + Int($0.1 &- f.1) } ?? 0 } ?? 0
            if moved > 0 { advanced.append(label) }
            print("\(label): \(t.snapshots) snapshots, \(t.consistent) consistent, \(t.retried) needed more than one read, \(t.torn) torn; indexes moved \(moved)")
        }
        print("load: \(load.attempts) connections into the guest")
        XCTAssertEqual(failures, [], "consistent snapshots that do not hold together")
        let retried = tallies.values.reduce(0) { $0 + $1.retried }
        XCTAssertTrue(retried > 0 || !advanced.isEmpty, "the guest did not move during the run: the test proved nothing")
        XCTAssertTrue(advanced.contains("virtio-blk:0"), "the bench keeps reading the disk: \(advanced)")
        XCTAssertGreaterThan(tallies.values.reduce(0) { $0 + $1.consistent }, 100)
    }
}

/// Connections to a port QEMU forwards into the guest, as fast as they go, from a thread of its own.
final class NetworkLoad: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var count = 0

    var attempts: Int { lock.withLock { count } }

    func stop() { lock.withLock { stopped = true } }

    /// A TCP port on 127.0.0.1 nobody listens on now.
    func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(errno)") }
        defer { close(fd) }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw BenchError("bind: \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: address.sin_port)
    }

    func run(port: UInt16) {
        while !lock.withLock({ stopped }) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return }
            var address = Self.loopback(port: port)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            close(fd)
            lock.withLock { count += 1 }
            usleep(200)
        }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}
