/// Parses what QEMU's HMP `xp` (and `x`) print: one line per 16 bytes or fewer, the address, a colon,
/// then the values in hexadecimal, each as wide as the unit asked for:
///
///     00000000fed90008: 0x00d2008c40660462 0x0000000000f00f5e
///
/// Only the `x` (hexadecimal) format is read; the unit (`b`, `h`, `w`, `g`) is taken from the width
/// of each value (2, 4, 8 or 16 digits).
public enum HMPMemoryDump {
    /// One value of a dump.
    public struct Word: Hashable, Sendable {
        /// Where the value was read (guest-physical for `xp`).
        public var address: UInt64
        /// Its size in bytes: 1, 2, 4 or 8.
        public var size: Int
        public var value: UInt64

        public init(address: UInt64, size: Int, value: UInt64) {
            self.address = address
            self.size = size
            self.value = value
        }
    }

    /// The HMP command that reads `count` 8-byte values from guest-physical `address`.
    public static func command(address: UInt64, quadWords count: Int) -> String {
        "xp /\(max(1, count))gx \(Hex.string(address))"
    }

    /// Every value in `text`, in order. Lines that are not dump lines (QEMU's errors, blank lines)
    /// are skipped; a malformed value ends its line.
    public static func parse(_ text: String) -> [Word] {
        var words: [Word] = []
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let head = line[..<colon].drop(while: { $0 == " " })
            guard !head.isEmpty, head.count <= 16, let start = UInt64(head, radix: 16) else { continue }
            var address = start
            for field in line[line.index(after: colon)...].split(separator: " ") {
                guard field.hasPrefix("0x") else { break }
                let digits = field.dropFirst(2)
                guard [2, 4, 8, 16].contains(digits.count), let value = UInt64(digits, radix: 16) else { break }
                let size = digits.count / 2
                words.append(Word(address: address, size: size, value: value))
                let (next, overflow) = address.addingReportingOverflow(UInt64(size))
                if overflow { break }
                address = next
            }
        }
        return words
    }
}
