import Glibc
import VQCore
@testable import VQDemo
import XCTest

/// The simulated guest in this process, its rings decoded through the same readers the inspector
/// uses (process_vm_readv of this process, through the guest's slot map).
final class SimulatedGuestTests: XCTestCase {
    /// What one pass over every queue found.
    struct Findings {
        var splitInFlight = 0
        var indirectBlockChains = 0
        var packedAvailable = 0
        var packedIndirect = 0
        var nextChains = 0
        var blockRequests: [String: Int] = [:]
        var transmitted: [String: Int] = [:]
        var received = 0
        var entropy = 0
        var snapshots = 0
    }

    static func memory(of guest: SimulatedGuest) -> GuestMemory {
        GuestMemory(map: guest.slotMap, reader: ProcessMemory(pid: getpid()))
    }

    /// Decodes every queue of `guest` once; fails the test on any ring problem.
    static func inspect(_ guest: SimulatedGuest, into findings: inout Findings, file: StaticString = #filePath, line: UInt = #line) throws {
        let memory = memory(of: guest)
        for device in guest.virtioDevices() {
            for queue in device.queues {
                findings.snapshots += 1
                let count = device.queues.count
                switch queue.location.layout {
                case .split:
                    let snapshot = try SplitRing.snapshot(memory: memory, location: queue.location)
                    XCTAssertTrue(snapshot.consistent, "\(queue.label) torn with no writer running", file: file, line: line)
                    XCTAssertEqual(snapshot.allProblems, [], "\(queue.label)", file: file, line: line)
                    let state = try XCTUnwrap(queue.deviceState)
                    XCTAssertEqual(snapshot.used.index, state.usedIndex, "\(queue.label): QMP's used-idx is the ring's", file: file, line: line)
                    XCTAssertEqual(Int(state.lastAvailIndex &- state.usedIndex), state.inUse, "\(queue.label)", file: file, line: line)
                    findings.splitInFlight += snapshot.inFlight.count
                    for entry in snapshot.inFlight {
                        guard let chain = entry.chain else { continue }
                        if chain.elements.contains(where: \.isFromIndirectTable) && device.name == "virtio-blk" { findings.indirectBlockChains += 1 }
                        if chain.ringDescriptors > 1 { findings.nextChains += 1 }
                        switch PayloadDecoder.decode(chain, device: device.name, queueIndex: queue.index, queueCount: count,
                                                     memory: memory, features: queue.location.features) {
                        case .block(let request)?: findings.blockRequests[request.typeName, default: 0] += 1
                        case .network(let packet)?: findings.transmitted[packet.frame?.summary.split(separator: " ").first.map(String.init) ?? "?", default: 0] += 1
                        default: break
                        }
                    }
                    // The newest completion of a receive queue decodes as a packet.
                    if device.name == "virtio-net", queue.index == 0, snapshot.used.index != 0 {
                        let element = snapshot.used.ring[Int(snapshot.used.index &- 1) % Int(queue.location.size)]
                        let chain = Chain.split(head: UInt16(element.id), table: snapshot.descriptors, memory: memory)
                        if case .network(let packet)? = PayloadDecoder.decode(chain, device: device.name, queueIndex: 0, queueCount: count,
                                                                             memory: memory, completedLength: element.length) {
                            XCTAssertNotNil(packet.frame, file: file, line: line)
                            findings.received += 1
                        }
                    }
                case .packed:
                    let state = try XCTUnwrap(queue.deviceState)
                    let snapshot = try PackedRing.snapshot(memory: memory, location: queue.location,
                                                           usedIndex: PackedRing.Hint(index: state.usedIndex),
                                                           lastAvailIndex: PackedRing.Hint(index: state.lastAvailIndex))
                    XCTAssertTrue(snapshot.consistent, "\(queue.label) torn with no writer running", file: file, line: line)
                    XCTAssertEqual(snapshot.allProblems, [], "\(queue.label)", file: file, line: line)
                    findings.packedAvailable += snapshot.available.count
                    for available in snapshot.available {
                        if available.chain.elements.contains(where: \.isFromIndirectTable) { findings.packedIndirect += 1 }
                        if case .network(let packet)? = PayloadDecoder.decode(available.chain, device: device.name, queueIndex: queue.index,
                                                                             queueCount: count, memory: memory, features: queue.location.features) {
                            findings.transmitted[packet.frame?.summary.split(separator: " ").first.map(String.init) ?? "?", default: 0] += 1
                        }
                    }
                    if device.name == "virtio-rng", let used = snapshot.descriptors.first(where: { !$0.looksAvailable && $0.length == 64 }) {
                        let chain = Chain(head: 0, elements: [.init(index: 0, address: used.address, length: used.length, isWritable: true)])
                        if case .entropy(let bytes)? = PayloadDecoder.decode(chain, device: device.name, queueIndex: 0, queueCount: 1,
                                                                            memory: memory, completedLength: used.length) {
                            XCTAssertEqual(bytes.count, min(64, PayloadDecoder.peekBytes), file: file, line: line)
                            findings.entropy += 1
                        }
                    }
                }
            }
        }
    }

    func testEveryRingDecodesCleanlyTickAfterTick() throws {
        let guest = try SimulatedGuest()
        var findings = Findings()
        for _ in 0..<400 {
            guest.advance(ticks: Int.random(in: 1...9))
            try Self.inspect(guest, into: &findings)
        }
        XCTAssertGreaterThan(findings.splitInFlight, 1000)
        XCTAssertGreaterThan(findings.indirectBlockChains, 50, "blk requests are indirect tables")
        XCTAssertGreaterThan(findings.nextChains, 50, "net0 transmits NEXT chains")
        XCTAssertGreaterThan(findings.packedAvailable, 1000)
        XCTAssertGreaterThan(findings.packedIndirect, 5, "net1 sends large frames through indirect tables")
        XCTAssertGreaterThan(findings.blockRequests["read"] ?? 0, 20, "\(findings.blockRequests)")
        XCTAssertGreaterThan(findings.blockRequests["write"] ?? 0, 10, "\(findings.blockRequests)")
        XCTAssertGreaterThan(findings.transmitted["IPv4"] ?? 0, 50, "\(findings.transmitted)")
        XCTAssertGreaterThan(findings.received, 20)
        XCTAssertGreaterThan(findings.entropy, 5)
    }
}
