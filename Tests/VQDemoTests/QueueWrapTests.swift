import Glibc
import VQCore
@testable import VQDemo
import XCTest

/// The simulated queues on their own, over small rings driven far past 65535 so that every
/// free-running index wraps, decoded by VQCore's ring decoders as they go.
final class QueueWrapTests: XCTestCase {
    /// 1 MiB of guest RAM at guest-physical 0, and GuestMemory over it through process_vm_readv.
    struct Fixture {
        let ram: GuestRAM
        var allocator: GuestAllocator
        let memory: GuestMemory

        init() throws {
            ram = try GuestRAM(name: "pc.ram", size: 1 << 20)
            allocator = GuestAllocator(floor: 0x1000, ceiling: ram.size)
            let map = try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: ram.size, host: ram.hostAddress, name: "pc.ram")])
            memory = GuestMemory(map: map, reader: ProcessMemory(pid: getpid()))
        }

        func location(_ queue: some SimulatedQueue, layout: RingLayout, features: VirtioFeatures) -> VirtqueueLocation {
            VirtqueueLocation(layout: layout, size: queue.size, descriptors: GuestPhysicalAddress(queue.addresses.descriptors),
                              driverArea: GuestPhysicalAddress(queue.addresses.driverArea),
                              deviceArea: GuestPhysicalAddress(queue.addresses.deviceArea), features: features)
        }
    }

    /// Buffers of 1 to 3 pieces, the last one device-writable, at addresses that encode `token`.
    static func buffers(token: Int, count: Int) -> [GuestBuffer] {
        (0..<count).map { i in
            GuestBuffer(address: 0x8000 + UInt64(token % 64) * 0x100 + UInt64(i) * 0x40, length: UInt32(16 + i), deviceWritable: i == count - 1)
        }
    }

    /// NEXT chains completed in order (virtio-net), indirect tables completed out of order
    /// (virtio-blk), each as the demo's devices do: the decoder's in-flight window holds exactly the
    /// chains in flight in the first case, and no reused head in the second.
    func testSplitQueuesWrapTheirIndexes() throws {
        for indirect in [0, 4] {
            var fixture = try Fixture()
            var queue = try SplitQueue(size: 64, eventIndex: true, indirectEntries: indirect, allocator: &fixture.allocator, ram: fixture.ram)
            let location = fixture.location(queue, layout: .split, features: indirect > 0 ? [.version1, .eventIndex, .indirectDescriptors] : [.version1, .eventIndex])
            var random = DemoRandom(seed: UInt64(indirect))
            var token = 0
            var held: [FetchedChain] = []
            var tokensOut = Set<Int>()
            var sawWrap = false
            for cycle in 0..<80_000 {
                for _ in 0..<Int.random(in: 0...3, using: &random) where queue.outstanding < 12 {
                    let count = Int.random(in: 1...3, using: &random)
                    guard queue.canAdd(buffers: count) else { break }
                    XCTAssertTrue(queue.add(Self.buffers(token: token, count: count), token: token, ram: fixture.ram))
                    tokensOut.insert(token)
                    token += 1
                }
                while held.count < 4, let chain = queue.fetch(ram: fixture.ram) { held.append(chain) }
                for _ in 0..<Int.random(in: 0...2, using: &random) where !held.isEmpty {
                    let chain = held.remove(at: indirect > 0 ? Int.random(in: 0..<held.count, using: &random) : 0)
                    queue.complete([(chain.id, 7)], ram: fixture.ram)
                }
                for done in queue.reclaim(ram: fixture.ram) {
                    XCTAssertNotNil(tokensOut.remove(done.token))
                    XCTAssertEqual(done.length, 7)
                }
                if cycle % 89 == 0 {
                    let snapshot = try SplitRing.snapshot(memory: fixture.memory, location: location)
                    XCTAssertEqual(snapshot.allProblems, [], "indirect \(indirect), cycle \(cycle)")
                    XCTAssertEqual(snapshot.pendingCount, held.count + Int(snapshot.avail.index &- queue.deviceView.lastAvailIndex))
                    if snapshot.avail.index < 1000 && token > 60_000 { sawWrap = true }
                    for entry in snapshot.inFlight {
                        let chain = try XCTUnwrap(entry.chain)
                        XCTAssertEqual(chain.elements.last?.isWritable, true, "indirect \(indirect), cycle \(cycle)")
                        XCTAssertEqual(chain.elements.contains(where: \.isFromIndirectTable), indirect > 0 && chain.elements.count > 1)
                    }
                }
            }
            XCTAssertTrue(sawWrap, "the avail index wrapped past 65535")
            XCTAssertGreaterThan(token, 65536 + 1000)
        }
    }

    func testPackedQueuesWrapAndKeepTheirChainsInOrder() throws {
        var fixture = try Fixture()
        var queue = try PackedQueue(size: 8, eventIndex: true, indirectEntries: 4, allocator: &fixture.allocator, ram: fixture.ram)
        let location = fixture.location(queue, layout: .packed, features: [.version1, .eventIndex, .indirectDescriptors, .packedRing])
        var random = DemoRandom(seed: 7)
        var token = 0
        var held: [FetchedChain] = []
        var expected: [Int] = []
        var completedNotReclaimed = 0
        for cycle in 0..<60_000 {
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                let count = Int.random(in: 1...3, using: &random)
                guard queue.canAdd(buffers: count) else { break }
                XCTAssertTrue(queue.add(Self.buffers(token: token, count: count), token: token, ram: fixture.ram))
                expected.append(token)
                token += 1
            }
            while held.count < 4, let chain = queue.fetch(ram: fixture.ram) { held.append(chain) }
            let done = Int.random(in: 0...held.count, using: &random)
            queue.complete(held.prefix(done).map { ($0.id, UInt32($0.writable.reduce(0) { $0 + $1.length })) }, ram: fixture.ram)
            held.removeFirst(done)
            completedNotReclaimed += done
            if random.chance(0.5) {
                for reclaimed in queue.reclaim(ram: fixture.ram) {
                    XCTAssertEqual(reclaimed.token, expected.removeFirst(), "returned in the order made available")
                    completedNotReclaimed -= 1
                }
            }
            if cycle % 89 == 0 {
                let view = queue.deviceView
                let snapshot = try PackedRing.snapshot(memory: fixture.memory, location: location,
                                                       usedIndex: PackedRing.Hint(index: view.usedIndex),
                                                       lastAvailIndex: PackedRing.Hint(index: view.lastAvailIndex))
                XCTAssertEqual(snapshot.allProblems, [], "cycle \(cycle)")
                XCTAssertEqual(snapshot.available.count, expected.count - completedNotReclaimed, "cycle \(cycle)")
                XCTAssertEqual(snapshot.available.filter { $0.consumed == true }.count, held.count, "cycle \(cycle)")
            }
        }
        XCTAssertGreaterThan(token, 65536 + 1000)
    }

}
