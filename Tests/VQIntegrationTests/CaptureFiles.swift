import Foundation

/// A frame read back from a capture file, with where its record sits in the file.
struct FileFrame: Hashable {
    var bytes: [UInt8]
    /// pcapng `epb_flags` direction: 1 inbound, 2 outbound, 0 not given (classic pcap).
    var direction: UInt32 = 0
    var comment: String?
    var interface: UInt32 = 0
    /// Byte offsets of the record in its file.
    var start: Int = 0
    var end: Int = 0
}

/// Reads capture files without the code that writes them: classic pcap (QEMU's filter-dump)
/// and pcapng (vqscope capture), little-endian as both are written on x86.
enum CaptureFiles {
    /// The records of a classic pcap file (24-byte header, 16-byte record headers).
    static func pcap(_ data: [UInt8]) throws -> [FileFrame] {
        guard data.count >= 24, u32(data, 0) == 0xa1b2c3d4 else { throw BenchError("not a little-endian pcap file (\(data.count) bytes)") }
        var frames: [FileFrame] = []
        var at = 24
        while at + 16 <= data.count {
            let caplen = Int(u32(data, at + 8))
            guard at + 16 + caplen <= data.count else { break } // a record being written
            frames.append(FileFrame(bytes: Array(data[at + 16..<at + 16 + caplen]), start: at, end: at + 16 + caplen))
            at += 16 + caplen
        }
        return frames
    }

    /// The enhanced packet blocks of a pcapng file, and the drop counts of its statistics blocks.
    static func pcapng(_ data: [UInt8]) throws -> (frames: [FileFrame], dropped: [UInt32: UInt64], interfaces: Int) {
        guard data.count >= 28, u32(data, 0) == 0x0A0D0D0A, u32(data, 8) == 0x1A2B3C4D else {
            throw BenchError("not a little-endian pcapng file (\(data.count) bytes)")
        }
        var frames: [FileFrame] = []
        var dropped: [UInt32: UInt64] = [:]
        var interfaces = 0
        var at = 0
        while at + 12 <= data.count {
            let type = u32(data, at), length = Int(u32(data, at + 4))
            guard length >= 12, length % 4 == 0, at + length <= data.count, Int(u32(data, at + length - 4)) == length else {
                throw BenchError("pcapng block at \(at) is malformed (type \(type), length \(length))")
            }
            let body = Array(data[at + 8..<at + length - 4])
            switch type {
            case 1:
                interfaces += 1
            case 6:
                let caplen = Int(u32(body, 12))
                var frame = FileFrame(bytes: Array(body[20..<20 + caplen]), interface: u32(body, 0), start: at, end: at + length)
                for (code, value) in options(body, from: 20 + (caplen + 3) / 4 * 4) {
                    if code == 1 { frame.comment = String(decoding: value, as: UTF8.self) }
                    if code == 2, value.count == 4 { frame.direction = u32(value, 0) & 3 }
                }
                frames.append(frame)
            case 5:
                for (code, value) in options(body, from: 12) where code == 5 && value.count == 8 {
                    dropped[u32(body, 0)] = UInt64(u32(value, 0)) | UInt64(u32(value, 4)) << 32
                }
            default:
                break
            }
            at += length
        }
        return (frames, dropped, interfaces)
    }

    static func options(_ body: [UInt8], from start: Int) -> [(UInt16, [UInt8])] {
        var result: [(UInt16, [UInt8])] = []
        var at = start
        while at + 4 <= body.count {
            let code = UInt16(body[at]) | UInt16(body[at + 1]) << 8
            let length = Int(UInt16(body[at + 2]) | UInt16(body[at + 3]) << 8)
            if code == 0 || at + 4 + length > body.count { break }
            result.append((code, Array(body[at + 4..<at + 4 + length])))
            at += 4 + (length + 3) / 4 * 4
        }
        return result
    }

    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }
}
