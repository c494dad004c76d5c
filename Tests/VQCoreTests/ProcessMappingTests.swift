import Glibc
import XCTest
@testable import VQCore

final class ProcessMappingTests: XCTestCase {
    func testHeapLine() throws {
        let m = try XCTUnwrap(ProcessMapping.parse(line: "55d0c8a00000-55d0c8a21000 rw-p 00000000 00:00 0                          [heap]"))
        XCTAssertEqual(m.start, 0x55d0_c8a0_0000)
        XCTAssertEqual(m.end, 0x55d0_c8a2_1000)
        XCTAssertEqual(m.size, 0x2_1000)
        XCTAssertTrue(m.readable)
        XCTAssertTrue(m.writable)
        XCTAssertFalse(m.executable)
        XCTAssertFalse(m.shared)
        XCTAssertEqual(m.offset, 0)
        XCTAssertEqual(m.inode, 0)
        XCTAssertEqual(m.path, "[heap]")
        XCTAssertTrue(m.isAnonymous)
    }

    func testFileBackedLine() throws {
        let m = try XCTUnwrap(ProcessMapping.parse(line: "7f3a2c028000-7f3a2c1bd000 r-xp 00028000 fd:01 131090                     /usr/lib/x86_64-linux-gnu/libc.so.6"))
        XCTAssertEqual(m, ProcessMapping(start: 0x7f3a_2c02_8000, end: 0x7f3a_2c1b_d000, readable: true, writable: false,
                                         executable: true, shared: false, offset: 0x28000, inode: 131_090,
                                         path: "/usr/lib/x86_64-linux-gnu/libc.so.6", device: "fd:01"))
        XCTAssertFalse(m.isAnonymous)
    }

    func testAnonymousWithoutPath() throws {
        // The kernel pads anonymous lines with a trailing space; both forms parse.
        for line in ["7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0 ",
                     "7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0",
                     "7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0                          "] {
            let m = try XCTUnwrap(ProcessMapping.parse(line: line), line)
            XCTAssertEqual(m.start, 0x7f3a_1c00_0000)
            XCTAssertEqual(m.end, 0x7f3a_1c02_1000)
            XCTAssertEqual(m.path, "", line)
            XCTAssertTrue(m.isAnonymous)
        }
    }

    func testSharedMemoryWithSpacesInPath() throws {
        let m = try XCTUnwrap(ProcessMapping.parse(line: "7f3a20000000-7f3b20000000 rw-s 00000000 00:19 1234                       /dev/shm/my vm  ram (deleted)"))
        XCTAssertEqual(m.path, "/dev/shm/my vm  ram (deleted)")
        XCTAssertTrue(m.shared)
        XCTAssertEqual(m.inode, 1234)
        XCTAssertEqual(m.size, 0x1_0000_0000)
        XCTAssertFalse(m.isAnonymous)
    }

    func testMemfdAndSpecialRegions() throws {
        let memfd = try XCTUnwrap(ProcessMapping.parse(line: "7f0000000000-7f0100000000 rw-s 00000000 00:01 5678                       /memfd:pc.ram (deleted)"))
        XCTAssertEqual(memfd.path, "/memfd:pc.ram (deleted)")
        XCTAssertTrue(memfd.isAnonymous)
        let anonName = try XCTUnwrap(ProcessMapping.parse(line: "7f0000000000-7f0000001000 rw-p 00000000 00:00 0  [anon:guest ram]"))
        XCTAssertEqual(anonName.path, "[anon:guest ram]")
        XCTAssertTrue(anonName.isAnonymous)
        let stack = try XCTUnwrap(ProcessMapping.parse(line: "7ffd5c3a2000-7ffd5c3c3000 rw-p 00000000 00:00 0                          [stack]"))
        XCTAssertEqual(stack.path, "[stack]")
        XCTAssertFalse(stack.isAnonymous)
        let vsyscall = try XCTUnwrap(ProcessMapping.parse(line: "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]"))
        XCTAssertEqual(vsyscall.start, 0xffff_ffff_ff60_0000)
        XCTAssertEqual(vsyscall.end, 0xffff_ffff_ff60_1000)
        XCTAssertFalse(vsyscall.readable)
        XCTAssertFalse(vsyscall.writable)
        XCTAssertTrue(vsyscall.executable)
        XCTAssertEqual(vsyscall.path, "[vsyscall]")
    }

    func testPermissionBits() throws {
        let m = try XCTUnwrap(ProcessMapping.parse(line: "1000-2000 ---s 0 00:00 0"))
        XCTAssertEqual([m.readable, m.writable, m.executable, m.shared], [false, false, false, true])
        let all = try XCTUnwrap(ProcessMapping.parse(line: "1000-2000 rwxp ffffffff 00:00 18446744073709551615"))
        XCTAssertEqual([all.readable, all.writable, all.executable, all.shared], [true, true, true, false])
        XCTAssertEqual(all.offset, 0xffff_ffff)
        XCTAssertEqual(all.inode, .max)
    }

    func testContains() throws {
        let m = try XCTUnwrap(ProcessMapping.parse(line: "1000-3000 r--p 00000000 00:00 0"))
        XCTAssertFalse(m.contains(0xfff))
        XCTAssertTrue(m.contains(0x1000))
        XCTAssertTrue(m.contains(0x2fff))
        XCTAssertFalse(m.contains(0x3000))
        XCTAssertFalse(m.contains(.max))
    }

    func testMalformedLinesAreRejected() {
        let lines = [
            "",
            "garbage",
            "7f00 rw-p 00000000 00:00 0",                 // no dash in the range
            "7f00-7f80-7fc0 rw-p 00000000 00:00 0",       // three parts
            "7f80-7f00 rw-p 00000000 00:00 0",            // start after end
            "7f00-7f00 rw-p 00000000 00:00 0",            // empty
            "zz00-7f80 rw-p 00000000 00:00 0",            // not hex
            "7f00-7f80 rw-pp 00000000 00:00 0",           // five permission letters
            "7f00-7f80 rw 00000000 00:00 0",              // two
            "7f00-7f80 rw-p 0000zz00 00:00 0",            // bad offset
            "7f00-7f80 rw-p 00000000 00:00 abc",          // bad inode
            "7f00-7f80 rw-p 00000000 00:00 -1",           // negative inode
            "7f00-7f80 rw-p 00000000 00:00",              // too few fields
            "-7f80 rw-p 00000000 00:00 0",
            "7f00- rw-p 00000000 00:00 0",
            "10000000000000000-10000000000001000 rw-p 00000000 00:00 0",  // past 2^64
        ]
        for line in lines {
            XCTAssertNil(ProcessMapping.parse(line: line), line)
        }
    }

    func testWholeFileSkipsBadLines() {
        let text = """
            55d0c8800000-55d0c8822000 r--p 00000000 fd:01 2490                       /usr/bin/qemu-system-x86_64
            this line is not a mapping
            55d0c8a00000-55d0c8a21000 rw-p 00000000 00:00 0                          [heap]

            7f3a20000000-7f3b20000000 rw-s 00000000 00:19 1234                       /dev/shm/my vm ram
            7f3b20000000-7f3b20001000 ---p 00000000 00:00 0 
            7ffd5c3a2000 rw-p 00000000 00:00 0 [broken]
            7ffd5c3a2000-7ffd5c3c3000 rw-p 00000000 00:00 0                          [stack]
            """
        let maps = ProcessMapping.parse(text + "\n")
        XCTAssertEqual(maps.map(\.path), ["/usr/bin/qemu-system-x86_64", "[heap]", "/dev/shm/my vm ram", "", "[stack]"])
        XCTAssertEqual(maps.map(\.start), [0x55d0_c880_0000, 0x55d0_c8a0_0000, 0x7f3a_2000_0000, 0x7f3b_2000_0000, 0x7ffd_5c3a_2000])
        XCTAssertEqual(maps[0].inode, 2490)
        XCTAssertEqual(maps[3].size, 0x1000)
        XCTAssertFalse(maps[3].readable)
        XCTAssertEqual(ProcessMapping.parse(""), [])
        XCTAssertEqual(ProcessMapping.parse("\n\n"), [])
    }

    func testOwnMapsParse() throws {
        // The test process's own map: every line parses, and a buffer we hold is inside a readable,
        // writable mapping.
        let text = String(decoding: try XCTUnwrap(readWholeFile("/proc/self/maps")), as: UTF8.self)
        let lines = text.split(separator: "\n")
        let maps = ProcessMapping.parse(text)
        XCTAssertGreaterThan(maps.count, 5)
        XCTAssertEqual(maps.count, lines.count, "every line of a real maps file parses")
        XCTAssertTrue(maps.contains { $0.path == "[stack]" })
        XCTAssertEqual(maps.map(\.start), maps.map(\.start).sorted())
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
        defer { buffer.deallocate() }
        let address = UInt64(UInt(bitPattern: buffer.baseAddress))
        let holder = maps.filter { $0.contains(address) }
        XCTAssertEqual(holder.count, 1)
        XCTAssertEqual(holder.first?.readable, true)
        XCTAssertEqual(holder.first?.writable, true)
    }

    private func readWholeFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return out
    }
}
