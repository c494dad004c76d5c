import XCTest
@testable import VQCore

final class HexTests: XCTestCase {
    // MARK: Formatting

    func testStringIsLowercaseHexWithPrefix() {
        XCTAssertEqual(Hex.string(0), "0x0")
        XCTAssertEqual(Hex.string(0xABCDEF), "0xabcdef")
        XCTAssertEqual(Hex.string(4096), "0x1000")
        XCTAssertEqual(Hex.string(.max), "0xffffffffffffffff")
    }

    func testPaddedWidths() {
        XCTAssertEqual(Hex.padded(0), "0x0000000000000000")
        XCTAssertEqual(Hex.padded(0x1f), "0x000000000000001f")
        XCTAssertEqual(Hex.padded(.max), "0xffffffffffffffff")
        XCTAssertEqual(Hex.padded(0xabc, width: 8), "0x00000abc")
        // A value wider than the width is not truncated.
        XCTAssertEqual(Hex.padded(0x123456, width: 4), "0x123456")
        XCTAssertEqual(Hex.padded(5, width: 0), "0x5")
        XCTAssertEqual(Hex.padded(5, width: -3), "0x5")
    }

    // MARK: Addresses

    func testParseAddressHex() {
        XCTAssertEqual(Hex.parseAddress("0x1000"), 0x1000)
        XCTAssertEqual(Hex.parseAddress("0X1000"), 0x1000)
        XCTAssertEqual(Hex.parseAddress("0xdeadBEEF"), 0xdead_beef)
        XCTAssertEqual(Hex.parseAddress("0x0"), 0)
        XCTAssertEqual(Hex.parseAddress("0x00000000fee00000"), 0xfee0_0000)
    }

    func testParseAddressDecimal() {
        XCTAssertEqual(Hex.parseAddress("4096"), 4096)
        XCTAssertEqual(Hex.parseAddress("0"), 0)
        XCTAssertEqual(Hex.parseAddress("007"), 7)
        // Decimal does not accept hex digits.
        XCTAssertNil(Hex.parseAddress("12ab"))
        XCTAssertNil(Hex.parseAddress("ff"))
    }

    func testParseAddressHSuffix() {
        // The documented `1000h` form.
        XCTAssertEqual(Hex.parseAddress("1000h"), 0x1000)
        XCTAssertEqual(Hex.parseAddress("FFH"), 0xff)
        XCTAssertEqual(Hex.parseAddress("ffffffffffffffffh"), .max)
        XCTAssertNil(Hex.parseAddress("h"))
        XCTAssertNil(Hex.parseAddress("0x10h"))
        XCTAssertNil(Hex.parseAddress("10000000000000000h"))
    }

    func testParseAddressUnderscores() {
        XCTAssertEqual(Hex.parseAddress("0x1_0000"), 0x10000)
        XCTAssertEqual(Hex.parseAddress("1_000_000"), 1_000_000)
        XCTAssertNil(Hex.parseAddress("0x_"))
        XCTAssertNil(Hex.parseAddress("_"))
    }

    func testParseAddressTrimsSpaces() {
        XCTAssertEqual(Hex.parseAddress("  0x10\t"), 16)
        XCTAssertEqual(Hex.parseAddress("\t42 \r"), 42)
        XCTAssertNil(Hex.parseAddress("0x1 0"))
        XCTAssertNil(Hex.parseAddress("   "))
    }

    func testParseAddressLimits() {
        XCTAssertEqual(Hex.parseAddress("0xffffffffffffffff"), .max)
        XCTAssertEqual(Hex.parseAddress("18446744073709551615"), .max)
        XCTAssertNil(Hex.parseAddress("0x10000000000000000"))
        XCTAssertNil(Hex.parseAddress("18446744073709551616"))
        XCTAssertNil(Hex.parseAddress("99999999999999999999999"))
    }

    func testParseAddressGarbage() {
        for text in ["", "0x", "0xg", "x10", "-1", "+1", "1.5", "0x1.0", "0b101", "ten", "0x-1"] {
            XCTAssertNil(Hex.parseAddress(text), "\(text)")
        }
    }

    func testParseAddressFromSubstringAndBytes() {
        let line = "read 0x2000 16"
        let word = line.split(separator: " ")[1]
        XCTAssertEqual(Hex.parseAddress(word), 0x2000)
        let bytes = Array("0xff".utf8)
        XCTAssertEqual(bytes.withUnsafeBufferPointer { Hex.parseAddress(bytes: $0) }, 255)
        let empty: [UInt8] = []
        XCTAssertNil(empty.withUnsafeBufferPointer { Hex.parseAddress(bytes: $0) })
    }

    // MARK: Sizes

    func testParseSizeUnits() {
        XCTAssertEqual(Hex.parseSize("256"), 256)
        XCTAssertEqual(Hex.parseSize("100B"), 100)
        XCTAssertEqual(Hex.parseSize("100b"), 100)
        XCTAssertEqual(Hex.parseSize("512k"), 512 << 10)
        XCTAssertEqual(Hex.parseSize("512K"), 512 << 10)
        XCTAssertEqual(Hex.parseSize("256M"), 256 << 20)
        XCTAssertEqual(Hex.parseSize("4608M"), 4608 << 20)
        XCTAssertEqual(Hex.parseSize("4G"), 4 << 30)
        XCTAssertEqual(Hex.parseSize("1T"), 1 << 40)
        XCTAssertEqual(Hex.parseSize("1g"), 1 << 30)
    }

    func testParseSizeDefaultUnit() {
        XCTAssertEqual(Hex.parseSize("4608", defaultUnit: 1 << 20), 4608 << 20)
        // An explicit suffix overrides the default unit.
        XCTAssertEqual(Hex.parseSize("4G", defaultUnit: 1 << 20), 4 << 30)
        XCTAssertEqual(Hex.parseSize("4096B", defaultUnit: 1 << 20), 4096)
    }

    func testParseSizeFractions() {
        XCTAssertEqual(Hex.parseSize("4.5G"), 4_831_838_208)
        XCTAssertEqual(Hex.parseSize("0.5K"), 512)
        XCTAssertEqual(Hex.parseSize("1.5", defaultUnit: 1 << 20), 1_572_864)
    }

    func testParseSizeHex() {
        XCTAssertEqual(Hex.parseSize("0x1000"), 4096)
        XCTAssertEqual(Hex.parseSize("0x10M"), 16 << 20)
        XCTAssertEqual(Hex.parseSize("0xffffffffffffffff"), .max)
        XCTAssertEqual(Hex.parseSize("0X80000000"), 0x8000_0000)
        // A trailing a-f is a hex digit, never a unit.
        XCTAssertEqual(Hex.parseSize("0xab"), 0xab)
        XCTAssertEqual(Hex.parseSize("0x1B"), 0x1b)
        XCTAssertEqual(Hex.parseSize("0x1f"), 0x1f)
        // A bare hex number is in the default unit too.
        XCTAssertEqual(Hex.parseSize("0x100", defaultUnit: 1 << 20), 256 << 20)
        XCTAssertNil(Hex.parseSize("0x1p3"))
        XCTAssertNil(Hex.parseSize("0x1.8G"))
    }

    func testParseSizeOverflowIsNil() {
        XCTAssertEqual(Hex.parseSize("18446744073709551615"), .max)
        XCTAssertEqual(Hex.parseSize("16777215T"), 16_777_215 << 40)
        XCTAssertNil(Hex.parseSize("16777216T"))
        XCTAssertNil(Hex.parseSize("17179869184G"))
        XCTAssertNil(Hex.parseSize("99999999999999999999"))
        XCTAssertNil(Hex.parseSize("1e400"))
        XCTAssertNil(Hex.parseSize("20000000000000000000.5"))
        // A hex size with a unit does not wrap around.
        XCTAssertNil(Hex.parseSize("0xffffffffffffffffG"))
        XCTAssertNil(Hex.parseSize("0x1000000T"))
    }

    func testParseSizeGarbage() {
        for text in ["", "G", "M", "-1", "-1G", "abc", "4X", "4GB", "1..5G", "nan", "inf", "0x", "0xzzM", " -4G", "4G "] {
            XCTAssertNil(Hex.parseSize(text), "\(text)")
        }
        XCTAssertEqual(Hex.parseSize(" 4G"), 4 << 30, "QEMU's strtoull skips leading white space")
    }

    // MARK: Human sizes

    func testHumanSize() {
        XCTAssertEqual(Hex.humanSize(0), "0 B")
        XCTAssertEqual(Hex.humanSize(100), "100 B")
        XCTAssertEqual(Hex.humanSize(1023), "1023 B")
        XCTAssertEqual(Hex.humanSize(1024), "1 KiB")
        XCTAssertEqual(Hex.humanSize(1536), "1.5 KiB")
        XCTAssertEqual(Hex.humanSize(256 << 20), "256 MiB")
        XCTAssertEqual(Hex.humanSize(4_831_838_208), "4.5 GiB")
        XCTAssertEqual(Hex.humanSize(4608 << 20), "4.5 GiB")
        XCTAssertEqual(Hex.humanSize(1 << 40), "1 TiB")
        XCTAssertEqual(Hex.humanSize(3 << 40), "3 TiB")
        XCTAssertEqual(Hex.humanSize((1 << 20) - 1), "1024.0 KiB")
        XCTAssertEqual(Hex.humanSize(.max), "16777216.0 TiB")
    }

    func testSizeRoundTripsThroughHumanSize() {
        for size: UInt64 in [1 << 10, 640 << 10, 128 << 20, 4 << 30, 2 << 40] {
            let human = Hex.humanSize(size)  // "640 KiB"
            let compact = String(human.filter { $0 != " " }.dropLast(2))  // "640K"
            XCTAssertEqual(Hex.parseSize(compact), size, human)
        }
    }
}
