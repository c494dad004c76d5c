import Glibc
import VQCore

/// A buffered writer to a file descriptor, with the fast number formatting bulk output needs.
/// Used from the main thread only.
final class Output: @unchecked Sendable {
    static let standardOutput = Output(fd: 1)
    static let standardError = Output(fd: 2, capacity: 0)

    private let fd: Int32
    private var buffer: [UInt8] = []
    private let capacity: Int

    init(fd: Int32, capacity: Int = 1 << 16) {
        self.fd = fd
        self.capacity = capacity
        buffer.reserveCapacity(capacity + 256)
    }

    deinit { flush() }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= capacity { flush() }
    }

    func write(bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { flush() }
    }

    @inline(__always) func byte(_ b: UInt8) { buffer.append(b) }

    /// A literal's bytes, without making a String of it (bulk output's fixed pieces).
    @inline(__always) func literal(_ text: StaticString) {
        text.withUTF8Buffer { buffer.append(contentsOf: $0) }
        if buffer.count >= capacity { flush() }
    }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `0x` and lowercase hex digits.
    func hex(_ value: UInt64) {
        buffer.append(0x30); buffer.append(0x78)
        if value == 0 { buffer.append(0x30); return }
        var shift = (63 - value.leadingZeroBitCount) / 4 * 4
        while shift >= 0 {
            buffer.append(Self.digits[Int((value >> UInt64(shift)) & 0xf)])
            shift -= 4
        }
    }

    /// Decimal digits.
    func decimal(_ value: UInt64) {
        if value < 10 { buffer.append(0x30 + UInt8(value)); return }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = value
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { raw in
            while v > 0 { raw[19 - n] = 0x30 + UInt8(v % 10); v /= 10; n += 1 }
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(20 - n)...]))
        }
    }

    /// Ends a line; flushes when the buffer is full.
    func newline() {
        buffer.append(0x0a)
        if buffer.count >= capacity { flush() }
    }

    func flush() {
        _ = buffer.withUnsafeBytes { Sys.write(fd, all: $0) }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Prints a JSON document on standard output.
func printJSON(_ value: JSON) {
    Output.standardOutput.write(value.prettyText + "\n")
    Output.standardOutput.flush()
}

/// Prints a table: a header row and rows, columns padded to their widest cell.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            i == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
        }.joined(separator: "  ")
    }
    let out = Output.standardOutput
    out.write(line(header) + "\n")
    for row in rows { out.write(line(row) + "\n") }
    out.flush()
}
