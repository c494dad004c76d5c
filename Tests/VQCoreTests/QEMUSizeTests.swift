import XCTest
@testable import VQCore

/// Sizes as QEMU's `qemu_strtosz` reads them, and `-m`'s own rule.
final class QEMUSizeTests: XCTestCase {
    func testPlainNumbersAreBytes() {
        XCTAssertEqual(QEMUSize.parse("268435456"), 268_435_456)
        XCTAssertEqual(QEMUSize.parse("0"), 0)
        XCTAssertEqual(QEMUSize.parse("18446744073709551615"), .max)
        XCTAssertNil(QEMUSize.parse("18446744073709551616"))
    }

    func testSuffixesInEitherCase() {
        let units: [(String, UInt64)] = [("b", 1), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1 << 40), ("p", 1 << 50), ("e", 1 << 60)]
        for (suffix, unit) in units {
            XCTAssertEqual(QEMUSize.parse("3" + suffix), 3 * unit, suffix)
            XCTAssertEqual(QEMUSize.parse("3" + suffix.uppercased()), 3 * unit, suffix.uppercased())
        }
        XCTAssertEqual(QEMUSize.parse("262144k"), 256 << 20)
        XCTAssertEqual(QEMUSize.parse("15E"), 15 << 60)
        XCTAssertNil(QEMUSize.parse("16E"), "overflows 64 bits")
        XCTAssertNil(QEMUSize.parse("4KiB"), "one letter only")
        XCTAssertNil(QEMUSize.parse("4 M"))
        XCTAssertNil(QEMUSize.parse("4X"))
    }

    func testDefaultUnit() {
        XCTAssertEqual(QEMUSize.parse("256", defaultUnit: 1 << 20), 256 << 20)
        XCTAssertEqual(QEMUSize.parse("256B", defaultUnit: 1 << 20), 256)
        XCTAssertEqual(QEMUSize.parse("1.5", defaultUnit: 1 << 20), 1_572_864)
    }

    func testFractions() {
        XCTAssertEqual(QEMUSize.parse("4.5G"), 4_831_838_208)
        XCTAssertEqual(QEMUSize.parse("1.k"), 1024, "a point without digits is a fraction of 0")
        XCTAssertEqual(QEMUSize.parse("0.1K"), 102, "truncated, as QEMU's fixed point does")
        XCTAssertEqual(QEMUSize.parse("1.5E"), 3 << 59, "E after the digits is the suffix")
        XCTAssertNil(QEMUSize.parse("1.5"), "a fraction of a byte")
        XCTAssertNil(QEMUSize.parse("1.5B"))
        XCTAssertNil(QEMUSize.parse("1.5e3"), "an exponent")
        XCTAssertNil(QEMUSize.parse("1.5e+3k"))
        XCTAssertNil(QEMUSize.parse(".5G"), "QEMU wants the integral digits")
        XCTAssertNil(QEMUSize.parse("1..5G"))
    }

    func testHexadecimal() {
        XCTAssertEqual(QEMUSize.parse("0x1000"), 4096)
        XCTAssertEqual(QEMUSize.parse("0X10M"), 16 << 20)
        XCTAssertEqual(QEMUSize.parse("0x1B"), 27, "a trailing B is a hex digit")
        XCTAssertEqual(QEMUSize.parse("0xffffffffffffffff"), .max)
        XCTAssertEqual(QEMUSize.parse("0x0000000000000000001"), 1)
        XCTAssertNil(QEMUSize.parse("0x10000000000000000"))
        XCTAssertNil(QEMUSize.parse("0x"))
        XCTAssertNil(QEMUSize.parse("0x1.8G"))
        XCTAssertNil(QEMUSize.parse("00x10"))
    }

    func testNotSizes() {
        for text in ["", "-1", "- 1", "+-1", "1 ", "lots", "G", "1GG", "1,5G", "1_000", " ", "+"] {
            XCTAssertNil(QEMUSize.parse(text), text)
        }
        // strtoull's lead-in is allowed.
        XCTAssertEqual(QEMUSize.parse(" 1"), 1)
        XCTAssertEqual(QEMUSize.parse("+1k"), 1024)
    }

    /// `-m`: MiB when the value ends in a digit, bytes otherwise; rounded up to 8 KiB.
    func testRAMSize() {
        XCTAssertEqual(QEMUSize.parseRAMSize("256"), 256 << 20)
        XCTAssertEqual(QEMUSize.parseRAMSize("0x100"), 256 << 20, "ends in a digit: MiB")
        XCTAssertEqual(QEMUSize.parseRAMSize("0x1b"), 8192, "ends in a hex letter: 27 bytes, rounded up to 8 KiB")
        XCTAssertEqual(QEMUSize.parseRAMSize("262144k"), 256 << 20)
        XCTAssertEqual(QEMUSize.parseRAMSize("4.5G"), 4_831_838_208)
        XCTAssertEqual(QEMUSize.parseRAMSize("1000k"), 1_024_000, "already a multiple of 8 KiB")
        XCTAssertEqual(QEMUSize.parseRAMSize("1001k"), 1_032_192)
        XCTAssertEqual(QEMUSize.parseRAMSize("268435456B"), 256 << 20)
        XCTAssertNil(QEMUSize.parseRAMSize("1.5"), "a fraction of a byte before MiB applies")
        XCTAssertNil(QEMUSize.parseRAMSize("17592186044416"), "overflows in MiB")
        XCTAssertNil(QEMUSize.parseRAMSize(""))
    }

    /// Through the command line: `-m` and `-m size=`, key=value and JSON alike.
    func testRAMSizeOnTheCommandLine() {
        func ram(_ args: String...) -> UInt64 { QEMUCommandLine(arguments: ["qemu-system-x86_64"] + args).ramSize }
        XCTAssertEqual(ram("-m", "256"), 256 << 20)
        XCTAssertEqual(ram("-m", "size=262144k,slots=4,maxmem=1048576k"), 256 << 20)
        XCTAssertEqual(ram("-m", "2g"), 2 << 30)
        XCTAssertEqual(ram("-m", #"{"size":"2G"}"#), 2 << 30)
        XCTAssertEqual(ram("-m", #"{"size":512}"#), 512 << 20, "a JSON number is text ending in a digit: MiB")
        XCTAssertEqual(ram("-object", #"{"qom-type":"memory-backend-ram","id":"m","size":1073741824}"#, "-machine", #"{"type":"q35","memory-backend":"m"}"#), 1 << 30)
        XCTAssertEqual(ram("-object", "memory-backend-ram,id=m,size=1g", "-machine", "q35,memory-backend=m"), 1 << 30)
    }
}
