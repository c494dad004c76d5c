import Foundation
import VQCore
import XCTest

/// ``Pcapng``'s blocks, read back by a small parser of the test's own (little-endian, as written on
/// the hosts vqscope runs on), and by tshark when it is installed.
final class PcapngTests: XCTestCase {
    /// One block as read from a file.
    struct Block {
        var type: UInt32
        /// Everything between the two total-length fields.
        var body: [UInt8]
    }

    /// One option: code and value (without its padding).
    struct Option: Equatable {
        var code: UInt16
        var value: [UInt8]
    }

    private static func u16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
    private static func u32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(u16(b, at)) | UInt32(u16(b, at + 2)) << 16 }
    private static func u64(_ b: [UInt8], _ at: Int) -> UInt64 { UInt64(u32(b, at)) | UInt64(u32(b, at + 4)) << 32 }

    /// Splits `bytes` into blocks, checking each one's framing: the total length at both ends equal,
    /// a multiple of 4, at least 12, within the file.
    static func blocks(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [Block] {
        var result: [Block] = []
        var at = 0
        while at < bytes.count {
            guard bytes.count - at >= 12 else { XCTFail("a block cut short at \(at)", file: file, line: line); break }
            let type = u32(bytes, at), total = Int(u32(bytes, at + 4))
            guard total >= 12, total % 4 == 0, at + total <= bytes.count else {
                XCTFail("block at \(at): total length \(total)", file: file, line: line)
                break
            }
            XCTAssertEqual(u32(bytes, at + total - 4), UInt32(total), "block at \(at): trailing total length", file: file, line: line)
            result.append(Block(type: type, body: Array(bytes[at + 8..<at + total - 4])))
            at += total
        }
        return result
    }

    /// The options from `offset` of a block body to opt_endofopt (or the end), checking padding.
    static func options(_ body: [UInt8], from offset: Int, file: StaticString = #filePath, line: UInt = #line) -> [Option] {
        var result: [Option] = []
        var at = offset
        while at + 4 <= body.count {
            let code = u16(body, at), length = Int(u16(body, at + 2))
            if code == 0 {
                XCTAssertEqual(length, 0, "opt_endofopt has no value", file: file, line: line)
                XCTAssertEqual(at + 4, body.count, "nothing after opt_endofopt", file: file, line: line)
                return result
            }
            let padded = (length + 3) / 4 * 4
            guard at + 4 + padded <= body.count else { XCTFail("option \(code) runs past the block", file: file, line: line); break }
            XCTAssertEqual(body[(at + 4 + length)..<(at + 4 + padded)].allSatisfy { $0 == 0 }, true, "option \(code) padding", file: file, line: line)
            result.append(Option(code: code, value: Array(body[(at + 4)..<(at + 4 + length)])))
            at += 4 + padded
        }
        XCTAssertEqual(at, body.count, "options end on the block's end", file: file, line: line)
        return result
    }

    private static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    private static func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    // MARK: - Blocks

    func testSectionHeader() throws {
        let shb = Self.blocks(Pcapng.sectionHeader(application: "vqscope"))
        XCTAssertEqual(shb.count, 1)
        let body = try XCTUnwrap(shb.first).body
        XCTAssertEqual(shb.first?.type, 0x0A0D_0D0A)
        XCTAssertEqual(Self.u32(body, 0), 0x1A2B_3C4D, "byte-order magic")
        XCTAssertEqual(Self.u16(body, 4), 1, "major version")
        XCTAssertEqual(Self.u16(body, 6), 0, "minor version")
        XCTAssertEqual(Self.u64(body, 8), UInt64.max, "section length not given")
        XCTAssertEqual(Self.options(body, from: 16), [Option(code: 4, value: Array("vqscope".utf8))])

        let bare = Self.blocks(Pcapng.sectionHeader())
        XCTAssertEqual(bare.first?.body.count, 16, "no options, no opt_endofopt")
    }

    func testInterfaceDescription() throws {
        let idb = Self.blocks(Pcapng.interfaceDescription(snapLength: 256, name: "net0", description: "virtio-net-pci /machine/peripheral/net0"))
        XCTAssertEqual(idb.count, 1)
        let body = try XCTUnwrap(idb.first).body
        XCTAssertEqual(idb.first?.type, 1)
        XCTAssertEqual(Self.u16(body, 0), 1, "LINKTYPE_ETHERNET")
        XCTAssertEqual(Self.u16(body, 2), 0, "reserved")
        XCTAssertEqual(Self.u32(body, 4), 256, "snap length")
        XCTAssertEqual(Self.options(body, from: 8), [
            Option(code: 2, value: Array("net0".utf8)),
            Option(code: 3, value: Array("virtio-net-pci /machine/peripheral/net0".utf8)),
            Option(code: 9, value: [6]),
        ])
    }

    func testEnhancedPacketWithDirectionAndComment() throws {
        let data = tapPattern(1, 61)  // not a multiple of 4: padded
        let microseconds: UInt64 = 0x0001_2345_6789_ABCD
        for (direction, flags) in [(Pcapng.Direction.inbound, UInt32(1)), (.outbound, 2)] {
            let epb = Self.blocks(Pcapng.enhancedPacket(interface: 3, microseconds: microseconds, data: data, originalLength: 1514,
                                                        direction: direction, comment: "virtio-net rx queue 0 buffer 7: é"))
            XCTAssertEqual(epb.count, 1)
            let body = try XCTUnwrap(epb.first).body
            XCTAssertEqual(epb.first?.type, 6)
            XCTAssertEqual(Self.u32(body, 0), 3, "interface ID")
            XCTAssertEqual(Self.u32(body, 4), 0x0001_2345, "timestamp, high")
            XCTAssertEqual(Self.u32(body, 8), 0x6789_ABCD, "timestamp, low")
            XCTAssertEqual(Self.u32(body, 12), 61, "captured length")
            XCTAssertEqual(Self.u32(body, 16), 1514, "original length")
            XCTAssertEqual(Array(body[20..<81]), data)
            XCTAssertEqual(body[81..<84].allSatisfy { $0 == 0 }, true, "data padded with zeros")
            let options = Self.options(body, from: 84)
            XCTAssertEqual(options.first { $0.code == 1 }?.value, Array("virtio-net rx queue 0 buffer 7: é".utf8), "opt_comment")
            XCTAssertEqual(options.first { $0.code == 2 }?.value, Self.le32(flags), "epb_flags: direction in bits 0-1")
            XCTAssertEqual(options.count, 2)
        }

        let plain = Self.blocks(Pcapng.enhancedPacket(interface: 0, microseconds: 1, data: [1, 2, 3, 4]))
        XCTAssertEqual(plain.first?.body.count, 24, "no options: the fixed fields and the data")
        XCTAssertEqual(plain.first.map { Self.u32($0.body, 16) }, 4, "original length defaults to the data's")
    }

    func testInterfaceStatistics() throws {
        let isb = Self.blocks(Pcapng.interfaceStatistics(interface: 1, microseconds: 0x2_0000_0005, start: 0x1_0000_0007,
                                                         received: 1234, dropped: 56))
        XCTAssertEqual(isb.count, 1)
        let body = try XCTUnwrap(isb.first).body
        XCTAssertEqual(isb.first?.type, 5)
        XCTAssertEqual(Self.u32(body, 0), 1)
        XCTAssertEqual(Self.u32(body, 4), 2)
        XCTAssertEqual(Self.u32(body, 8), 5)
        XCTAssertEqual(Self.options(body, from: 12), [
            Option(code: 2, value: Self.le32(1) + Self.le32(7)),  // isb_starttime: high, low
            Option(code: 3, value: Self.le32(2) + Self.le32(5)),  // isb_endtime
            Option(code: 4, value: Self.le64(1234)),              // isb_ifrecv
            Option(code: 5, value: Self.le64(56)),                // isb_ifdrop
        ])
        let noStart = Self.options(Self.blocks(Pcapng.interfaceStatistics(interface: 0, microseconds: 9, received: 0, dropped: 3))[0].body, from: 12)
        XCTAssertEqual(noStart.map(\.code), [3, 4, 5])
        XCTAssertEqual(noStart.last?.value, Self.le64(3))
    }

    // MARK: - A whole file

    /// A minimal Ethernet / IPv4 / ICMP echo frame between 10.0.2.15 (52:54:00:12:34:56) and
    /// 10.0.2.2 (52:55:0a:00:02:02), with correct checksums.
    static func echoFrame(request: Bool, sequence: UInt16) -> [UInt8] {
        func checksum(_ b: [UInt8]) -> [UInt8] {
            var sum: UInt32 = 0
            for i in stride(from: 0, to: b.count, by: 2) { sum += UInt32(b[i]) << 8 | UInt32(i + 1 < b.count ? b[i + 1] : 0) }
            while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
            let c = ~UInt16(sum)
            return [UInt8(c >> 8), UInt8(c & 0xff)]
        }
        let guestMAC: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], hostMAC: [UInt8] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]
        let guestIP: [UInt8] = [10, 0, 2, 15], hostIP: [UInt8] = [10, 0, 2, 2]
        var icmp: [UInt8] = [request ? 8 : 0, 0, 0, 0, 0x00, 0x2a, UInt8(sequence >> 8), UInt8(sequence & 0xff)] + tapPattern(9, 32)
        icmp.replaceSubrange(2..<4, with: checksum(icmp))
        var ip: [UInt8] = [0x45, 0, 0, UInt8(20 + icmp.count), 0x12, 0x34, 0x40, 0x00, 64, 1, 0, 0]
            + (request ? guestIP + hostIP : hostIP + guestIP)
        ip.replaceSubrange(10..<12, with: checksum(ip))
        let ethernet = (request ? hostMAC + guestMAC : guestMAC + hostMAC) + [0x08, 0x00]
        return ethernet + ip + icmp
    }

    func testAFileOfTwoFramesReadsBack() throws {
        let request = Self.echoFrame(request: true, sequence: 1), reply = Self.echoFrame(request: false, sequence: 1)
        let sent = "virtio-net tx queue 1 buffer 3: flags 0x00 gso none hdr_len 0 gso_size 0 csum_start 0 csum_offset 0 num_buffers 1"
        let received = "virtio-net rx queue 0 buffer 12: flags 0x00 gso none hdr_len 0 gso_size 0 csum_start 0 csum_offset 0 num_buffers 1"
        let file = Pcapng.sectionHeader(application: "vqscope")
            + Pcapng.interfaceDescription(snapLength: 65535, name: "net0")
            + Pcapng.enhancedPacket(interface: 0, microseconds: 1_700_000_000_000_000, data: request, direction: .outbound, comment: sent)
            + Pcapng.enhancedPacket(interface: 0, microseconds: 1_700_000_000_000_250, data: reply, direction: .inbound, comment: received)
            + Pcapng.interfaceStatistics(interface: 0, microseconds: 1_700_000_001_000_000, start: 1_700_000_000_000_000, received: 2, dropped: 1)

        let blocks = Self.blocks(file)
        XCTAssertEqual(blocks.map(\.type), [0x0A0D_0D0A, 1, 6, 6, 5])
        XCTAssertEqual(Array(blocks[2].body[20..<(20 + request.count)]), request)
        XCTAssertEqual(Self.options(blocks[4].body, from: 12).first { $0.code == 5 }?.value, Self.le64(1), "isb_ifdrop")

        guard let tshark = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("tshark is not installed: the file was checked by the test's own parser only")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vqscope-pcapng-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("two.pcapng")
        try Data(file).write(to: path)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: tshark)
        process.arguments = ["-r", path.path, "-T", "fields", "-E", "separator=|",
                             "-e", "frame.comment", "-e", "frame.packet_flags_direction", "-e", "icmp.type", "-e", "ip.src"]
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = directory.path  // no user profile of wireshark's
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, errors)
        let lines = output.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(lines.count, 2, output + errors)
        guard lines.count == 2, lines.allSatisfy({ $0.count == 4 }) else { return }
        XCTAssertEqual(lines[0][0], sent)
        XCTAssertEqual(lines[1][0], received)
        XCTAssertEqual(lines.map { UInt32($0[1].hasPrefix("0x") ? String($0[1].dropFirst(2)) : $0[1], radix: $0[1].hasPrefix("0x") ? 16 : 10) },
                       [2, 1], "outbound, then inbound: \(lines.map { $0[1] })")
        XCTAssertEqual(lines.map { $0[2] }, ["8", "0"], "echo request, echo reply")
        XCTAssertEqual(lines.map { $0[3] }, ["10.0.2.15", "10.0.2.2"])
    }
}
