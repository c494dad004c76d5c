/// Hexadecimal and size formatting and parsing shared by the library and its front ends.
public enum Hex {
    /// `0x` followed by lowercase hex digits.
    public static func string(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// `0x` followed by exactly `width` lowercase hex digits.
    public static func padded(_ value: UInt64, width: Int = 16) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Parses an address as a user writes it: `0x1000`, `1000h`, or decimal `4096`.
    public static func parseAddress<S: StringProtocol>(_ text: S) -> UInt64? {
        var utf8 = Array(text.utf8)
        while let last = utf8.last, last == 0x20 || last == 0x09 || last == 0x0d { utf8.removeLast() }
        var start = 0
        while start < utf8.count, utf8[start] == 0x20 || utf8[start] == 0x09 { start += 1 }
        return utf8.withUnsafeBufferPointer { parseAddress(bytes: UnsafeBufferPointer(rebasing: $0[start...])) }
    }

    /// Parses an address from ASCII bytes (hex with `0x`, or decimal); the fast path of bulk input.
    @inlinable
    public static func parseAddress(bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var index = 0
        let count = bytes.count
        guard count > 0 else { return nil }
        var radix: UInt64 = 10
        var end = count
        if count > 2, bytes[0] == 0x30, bytes[1] | 0x20 == 0x78 { radix = 16; index = 2 }
        else if bytes[count - 1] | 0x20 == 0x68 { radix = 16; end = count - 1 }  // 1000h
        var value: UInt64 = 0
        var digits = 0
        while index < end {
            let c = bytes[index]
            let digit: UInt64
            switch c {
            case 0x30...0x39: digit = UInt64(c &- 0x30)
            case 0x61...0x66 where radix == 16: digit = UInt64(c &- 0x61 &+ 10)
            case 0x41...0x46 where radix == 16: digit = UInt64(c &- 0x41 &+ 10)
            case 0x5f: index += 1; continue  // 0x1_0000 reads well; allow it
            default: return nil
            }
            let (m, o1) = value.multipliedReportingOverflow(by: radix)
            let (s, o2) = m.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = s
            digits += 1
            index += 1
        }
        return digits > 0 ? value : nil
    }

    /// Parses a size as QEMU's command line writes it: `256`, `256M`, `4.5G`, `4608M`, `1T`, `512k`.
    /// A bare number means `defaultUnit` bytes; ``QEMUSize`` has the whole syntax.
    public static func parseSize(_ text: String, defaultUnit: UInt64 = 1) -> UInt64? {
        QEMUSize.parse(text, defaultUnit: defaultUnit)
    }

    /// A size for people: `256 MiB`, `4.5 GiB`, `4 KiB`, `100 B`.
    public static func humanSize(_ bytes: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (scale, name) in units where bytes >= scale {
            if bytes % scale == 0 { return "\(bytes / scale) \(name)" }
            return String(format1: Double(bytes) / Double(scale)) + " " + name
        }
        return "\(bytes) B"
    }
}

extension String {
    /// One decimal place without Foundation.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
