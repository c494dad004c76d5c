/// Sizes as QEMU reads them (`qemu_strtosz` in QEMU's util/cutils.c): a decimal number, or `0x`
/// and a hexadecimal one, with an optional fraction (decimal only), then an optional suffix
/// `B`, `K`, `M`, `G`, `T`, `P`, `E` in either case (powers of 1024). Without a suffix the number
/// is in `defaultUnit`. Leading white space and `+` are allowed, as `strtoull` allows them;
/// anything after the suffix, a minus, an exponent, or a fraction of a byte makes the text no size.
public enum QEMUSize {
    /// The size `text` means, or nil when QEMU would refuse it (or it does not fit 64 bits).
    public static func parse(_ text: some StringProtocol, defaultUnit: UInt64 = 1) -> UInt64? {
        let bytes = Array(text.utf8)
        var index = 0
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

        // strtoull's lead-in: white space, then a plus (a minus makes it no size).
        while index < bytes.count, [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d].contains(bytes[index]) { index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") { index += 1 }

        // The integral part, in decimal.
        var value: UInt64 = 0
        let integralStart = index
        while index < bytes.count, isDigit(bytes[index]) {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[index] - 0x30))
            guard !o1, !o2 else { return nil }
            value = sum
            index += 1
        }
        guard index > integralStart else { return nil }

        var fraction: Double = 0
        if value == 0, index == integralStart + 1, index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "x") {
            // Hexadecimal, never with a fraction. A trailing a-f is a digit, not a unit: 0x1B is 27.
            index += 1
            let hexStart = index
            value = 0
            while index < bytes.count, let digit = hexDigit(bytes[index]) {
                guard value >> 60 == 0 else { return nil }
                value = value << 4 | UInt64(digit)
                index += 1
            }
            guard index > hexStart else { return nil }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") { return nil }
        } else if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            // `1.5G`, and `1.G` (a point with no digits is a fraction of 0).
            index += 1
            let fractionStart = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            if index > fractionStart {
                // An exponent (`1.5e3`) makes it no size; a bare `E` after the digits is the suffix.
                var exponent = index + 1
                if exponent < bytes.count, bytes[exponent] == UInt8(ascii: "+") || bytes[exponent] == UInt8(ascii: "-") { exponent += 1 }
                if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e"), exponent < bytes.count, isDigit(bytes[exponent]) { return nil }
                fraction = Double("0." + String(decoding: bytes[fractionStart..<index], as: UTF8.self)) ?? 0
            }
        }

        var unit = defaultUnit
        if index < bytes.count, let suffixUnit = suffix(bytes[index]) {
            unit = suffixUnit
            index += 1
        }
        guard index == bytes.count, unit > 0 else { return nil }

        // The fraction as QEMU keeps it: 64-bit fixed point, scaled by the unit and truncated.
        let fixedFraction = fraction > 0 ? UInt64(fraction * 0x1p64) : 0
        if unit == 1 { return fixedFraction == 0 ? value : nil }
        let fractionBytes = fixedFraction.multipliedFullWidth(by: unit).high
        let (whole, o1) = value.multipliedReportingOverflow(by: unit)
        let (total, o2) = whole.addingReportingOverflow(fractionBytes)
        return o1 || o2 ? nil : total
    }

    /// The size of `-m` (or `-m size=`): unlike every other size, a value that ends in a decimal
    /// digit is in MiB (QEMU's "legacy suffix-less format"), and QEMU rounds RAM up to 8 KiB.
    public static func parseRAMSize(_ text: some StringProtocol) -> UInt64? {
        guard let last = Array(text.utf8).last, var size = parse(text) else { return nil }
        if last >= 0x30 && last <= 0x39 {
            let (mib, overflow) = size.multipliedReportingOverflow(by: 1 << 20)
            guard !overflow else { return nil }
            size = mib
        }
        let (rounded, overflow) = size.addingReportingOverflow(8191)
        return overflow ? nil : rounded & ~8191
    }

    private static func suffix(_ byte: UInt8) -> UInt64? {
        switch byte | 0x20 {
        case UInt8(ascii: "b"): return 1
        case UInt8(ascii: "k"): return 1 << 10
        case UInt8(ascii: "m"): return 1 << 20
        case UInt8(ascii: "g"): return 1 << 30
        case UInt8(ascii: "t"): return 1 << 40
        case UInt8(ascii: "p"): return 1 << 50
        case UInt8(ascii: "e"): return 1 << 60
        default: return nil
        }
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
