import Glibc
import VQCore
import XCTest

/// Batched reads that answer request by request: every readable request read, each failure its own.
final class ReadEachTests: XCTestCase {
    /// Own memory through process_vm_readv: the unreadable request in the middle fails alone.
    func testProcessMemoryReadsAroundAnUnreadableRequest() throws {
        let source: [UInt8] = (0..<64).map { UInt8($0) }
        let other: [UInt8] = (0..<32).map { UInt8(200 - $0) }
        var a = [UInt8](repeating: 0, count: 64), b = [UInt8](repeating: 0xEE, count: 16), c = [UInt8](repeating: 0, count: 32)
        let memory = ProcessMemory(pid: getpid())
        let failures = source.withUnsafeBytes { s in
            other.withUnsafeBytes { o in
                a.withUnsafeMutableBytes { ab in
                    b.withUnsafeMutableBytes { bb in
                        c.withUnsafeMutableBytes { cb in
                            var requests = [
                                MemoryReadRequest(address: UInt64(UInt(bitPattern: s.baseAddress)), buffer: ab),
                                MemoryReadRequest(address: 0x10, buffer: bb),
                                MemoryReadRequest(address: UInt64(UInt(bitPattern: o.baseAddress)), buffer: cb),
                            ]
                            return requests.withUnsafeMutableBufferPointer { memory.readEach($0) }
                        }
                    }
                }
            }
        }
        XCTAssertNil(failures[0])
        XCTAssertEqual(failures[1], .backingUnmapped(0x10))
        XCTAssertNil(failures[2])
        XCTAssertEqual(a, source)
        XCTAssertEqual(c, other)
    }

    /// Guest memory: a range outside every slot and a range whose backing is gone fail alone.
    func testGuestMemoryReportsEachRangesFailure() throws {
        let host: UInt64 = 0x7000_0000_0000
        var ram = BufferMemory(base: host, count: 0x2000)
        ram.store([1, 2, 3, 4], at: host + 0x100)
        // A slot whose host range runs past the buffer: its second half is not backed.
        let map = try SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: 0x4000, host: host, name: "pc.ram")])
        let memory = GuestMemory(map: map, reader: ram)
        var x = [UInt8](repeating: 0, count: 4), y = [UInt8](repeating: 0, count: 4), z = [UInt8](repeating: 0, count: 4)
        let failures = x.withUnsafeMutableBytes { xb in
            y.withUnsafeMutableBytes { yb in
                z.withUnsafeMutableBytes { zb in
                    memory.readEach([(GuestPhysicalAddress(0x100), xb), (GuestPhysicalAddress(0x9000), yb), (GuestPhysicalAddress(0x3000), zb)])
                }
            }
        }
        XCTAssertNil(failures[0])
        XCTAssertEqual(x, [1, 2, 3, 4])
        guard case .guestUnmapped? = failures[1] else { return XCTFail("\(String(describing: failures[1]))") }
        XCTAssertEqual(failures[2], .backingUnmapped(host + 0x3000))
    }
}
