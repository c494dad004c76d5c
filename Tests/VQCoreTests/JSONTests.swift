import XCTest
@testable import VQCore

final class JSONTests: XCTestCase {
    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSON? {
        do { return try JSON.parse(text) } catch {
            XCTFail("parse failed: \(error)", file: file, line: line)
            return nil
        }
    }

    private func parseError(_ text: String) -> JSONParseError? {
        do {
            _ = try JSON.parse(text)
            return nil
        } catch { return error }
    }

    // MARK: Scalars

    func testLiterals() {
        XCTAssertEqual(parse("null"), .null)
        XCTAssertEqual(parse("true"), .bool(true))
        XCTAssertEqual(parse("false"), .bool(false))
        XCTAssertEqual(parse("  \n\t true \r\n"), .bool(true))
    }

    func testIntegersStayExact() throws {
        let max = try JSON.parse("18446744073709551615")
        guard case .uint(let u) = max else { return XCTFail("\(max)") }
        XCTAssertEqual(u, .max)
        XCTAssertEqual(max.uint64, .max)
        XCTAssertNil(max.int64)

        let big = try JSON.parse("9007199254740993")  // 2^53 + 1: not a Double
        XCTAssertEqual(big.uint64, 9_007_199_254_740_993)

        let negative = try JSON.parse("-9223372036854775808")
        guard case .int(let i) = negative else { return XCTFail("\(negative)") }
        XCTAssertEqual(i, .min)
        XCTAssertNil(negative.uint64)

        let minusOne = try JSON.parse("-1")
        XCTAssertEqual(minusOne.int64, -1)
        XCTAssertEqual(minusOne.int, -1)
        XCTAssertNil(minusOne.uint64)
        XCTAssertTrue(minusOne.isInteger)

        XCTAssertEqual(try JSON.parse("0").uint64, 0)
    }

    func testIntegersOutOfRangeBecomeDoubles() throws {
        XCTAssertEqual(try JSON.parse("18446744073709551616"), .double(18_446_744_073_709_551_616.0))
        XCTAssertEqual(try JSON.parse("-9223372036854775809"), .double(-9_223_372_036_854_775_809.0))
    }

    func testDoubles() throws {
        XCTAssertEqual(try JSON.parse("1.5"), .double(1.5))
        XCTAssertEqual(try JSON.parse("-0.25"), .double(-0.25))
        XCTAssertEqual(try JSON.parse("1e3"), .double(1000))
        XCTAssertEqual(try JSON.parse("2.5E-3"), .double(0.0025))
        XCTAssertEqual(try JSON.parse("1e+2"), .double(100))
        let d = try JSON.parse("1.0")
        XCTAssertFalse(d.isInteger)
        XCTAssertNil(d.uint64)
        XCTAssertNil(d.int64)
    }

    func testIntegerEqualityAcrossRepresentations() {
        XCTAssertEqual(JSON.int(5), JSON.uint(5))
        XCTAssertEqual(JSON.int(5).hashValue, JSON.uint(5).hashValue)
        XCTAssertNotEqual(JSON.int(-1), JSON.uint(.max))
        XCTAssertNotEqual(JSON.int(1), JSON.double(1))
        XCTAssertNotEqual(JSON.uint(1), JSON.bool(true))
        XCTAssertNotEqual(JSON.null, JSON.uint(0))
        XCTAssertEqual(Set([JSON.int(7), JSON.uint(7), JSON.string("7")]).count, 2)
    }

    // MARK: Accessors

    func testAccessors() throws {
        let value = try JSON.parse(#"{"a": 1, "b": "two", "c": [true], "a": 3, "d": null}"#)
        XCTAssertEqual(value["a"], .uint(3), "the last duplicate key wins")
        XCTAssertEqual(value["b"]?.string, "two")
        XCTAssertEqual(value["c"]?.array, [.bool(true)])
        XCTAssertEqual(value["c"]?.array?.first?.bool, true)
        XCTAssertEqual(value["d"], .null)
        XCTAssertNil(value["missing"])
        XCTAssertNil(JSON.array([])["a"])
        XCTAssertNil(JSON.string("x").bool)
        XCTAssertNil(JSON.bool(true).string)
        XCTAssertNil(JSON.uint(1).array)
        XCTAssertNil(JSON.uint(.max).int)
        XCTAssertEqual(JSON.uint(42).int, 42)
        XCTAssertEqual(JSON.uint(UInt64(Int64.max)).int64, .max)
        XCTAssertNil(JSON.uint(UInt64(Int64.max) + 1).int64)
    }

    func testOptionalConstructors() {
        XCTAssertEqual(JSON.uint(nil as UInt64?), .null)
        XCTAssertEqual(JSON.uint(Optional<UInt64>(9)), .uint(9))
        XCTAssertEqual(JSON.string(nil as String?), .null)
        XCTAssertEqual(JSON.string(Optional("s")), .string("s"))
    }

    func testObjectKeepsKeyOrder() throws {
        let value = try JSON.parse(#"{"z":1,"a":2,"m":3}"#)
        guard case .object(let pairs) = value else { return XCTFail("\(value)") }
        XCTAssertEqual(pairs.map(\.0), ["z", "a", "m"])
        XCTAssertEqual(value.text, #"{"z":1,"a":2,"m":3}"#)
        XCTAssertNotEqual(value, JSON.object([("a", .uint(2)), ("z", .uint(1)), ("m", .uint(3))]))
    }

    // MARK: Writing

    func testCompactText() {
        let value = JSON.object([
            ("addr", .uint(.max)),
            ("neg", .int(-42)),
            ("min", .int(.min)),
            ("d", .double(1.5)),
            ("inf", .double(.infinity)),
            ("nan", .double(.nan)),
            ("list", .array([.null, .bool(true), .bool(false), .array([]), .object([])])),
            ("s", .string("a\"b")),
        ])
        XCTAssertEqual(value.text,
                       #"{"addr":18446744073709551615,"neg":-42,"min":-9223372036854775808,"d":1.5,"inf":null,"nan":null,"list":[null,true,false,[],{}],"s":"a\"b"}"#)
    }

    func testPrettyText() {
        let value = JSON.object([("a", .array([.uint(1), .int(-2)])), ("b", .object([])), ("c", .object([("d", .string("e"))]))])
        XCTAssertEqual(value.prettyText, """
            {
              "a": [
                1,
                -2
              ],
              "b": {},
              "c": {
                "d": "e"
              }
            }
            """)
        XCTAssertEqual(JSON.array([]).prettyText, "[]")
        XCTAssertEqual(JSON.uint(3).prettyText, "3")
    }

    func testStringEscapesWritten() {
        XCTAssertEqual(JSON.string("q\"b\\n\nr\rt\t").text, #""q\"b\\n\nr\rt\t""#)
        XCTAssertEqual(JSON.string("\u{0}\u{1}\u{8}\u{c}\u{1f}").text, #""\u0000\u0001\u0008\u000c\u001f""#)
        XCTAssertEqual(JSON.string("/ é 😀 \u{7f}").text, "\"/ é 😀 \u{7f}\"")
        XCTAssertEqual(JSON.string("").text, #""""#)
    }

    // MARK: Round trips

    func testRoundTripKeepsExtremeIntegers() throws {
        let value = JSON.object([
            ("umax", .uint(.max)),
            ("imin", .int(.min)),
            ("imax", .int(.max)),
            ("neg", .int(-1)),
            ("zero", .uint(0)),
            ("list", .array([.uint(.max - 1), .int(-4096), .uint(1 << 63)])),
        ])
        let back = try JSON.parse(value.text)
        XCTAssertEqual(back, value)
        XCTAssertEqual(back["umax"]?.uint64, .max)
        XCTAssertEqual(back["imin"]?.int64, .min)
        XCTAssertEqual(back["imax"]?.int64, .max)
        XCTAssertEqual(back["neg"]?.int64, -1)
        XCTAssertEqual(back["list"]?.array?[0].uint64, .max - 1)
        XCTAssertEqual(back["list"]?.array?[2].uint64, 1 << 63)
        XCTAssertEqual(try JSON.parse(value.prettyText), value)
    }

    func testRoundTripDoubles() throws {
        for d in [0.1, -2.5, 1e20, Double.leastNonzeroMagnitude, 1.7976931348623157e308, 123456.789] {
            let back = try JSON.parse(JSON.double(d).text)
            XCTAssertEqual(back, .double(d), "\(d)")
        }
    }

    func testRoundTripStrings() throws {
        let strings = ["", "plain", "quote\"back\\slash", "ctl\u{0}\u{1}\u{1f}\n\r\t\u{8}\u{c}",
                       "é", "日本語", "😀 emoji 🇯🇵", "\u{FFFF}", "mixed \"😀\"\n"]
        for s in strings {
            let back = try JSON.parse(JSON.string(s).text)
            XCTAssertEqual(back.string, s)
            let inObject = JSON.object([(s, .string(s))])
            XCTAssertEqual(try JSON.parse(inObject.text), inObject)
        }
    }

    // MARK: Escapes

    func testParseEscapes() throws {
        XCTAssertEqual(try JSON.parse(#""\n\t\r\b\f\/\\\"""#).string, "\n\t\r\u{8}\u{c}/\\\"")
        XCTAssertEqual(try JSON.parse(#""a\u0041\u00e9\u20AC""#).string, "aAé€")
        XCTAssertEqual(try JSON.parse(#""\u0000""#).string, "\u{0}")
        XCTAssertEqual(try JSON.parse(#""raw é 😀""#).string, "raw é 😀")
    }

    func testSurrogatePairs() throws {
        XCTAssertEqual(try JSON.parse(#""\uD83D\uDE00""#).string, "😀")
        XCTAssertEqual(try JSON.parse(#""\ud834\udd1e""#).string, "\u{1D11E}")
        XCTAssertEqual(try JSON.parse(#""x\uDBFF\uDFFFy""#).string, "x\u{10FFFF}y")
        XCTAssertEqual(try JSON.parse(#""\uD800\uDC00""#).string, "\u{10000}")
    }

    func testLoneSurrogatesBecomeReplacementCharacters() throws {
        XCTAssertEqual(try JSON.parse(#""\uD800""#).string, "\u{FFFD}")
        XCTAssertEqual(try JSON.parse(#""\uDC00""#).string, "\u{FFFD}")
        XCTAssertEqual(try JSON.parse(#""\uD800x""#).string, "\u{FFFD}x")
        XCTAssertEqual(try JSON.parse(#""\uD800\n""#).string, "\u{FFFD}\n")
        // A high surrogate followed by an escape that is not a low surrogate: neither is lost.
        XCTAssertEqual(try JSON.parse(#""\uD800\u0041""#).string, "\u{FFFD}A")
        XCTAssertEqual(try JSON.parse(#""\uD83D\uD83D\uDE00""#).string, "\u{FFFD}😀")
    }

    func testBadEscapesFail() {
        XCTAssertEqual(parseError(#""\x""#), JSONParseError(offset: 3, reason: "bad escape"))
        XCTAssertEqual(parseError(#""\u12""#), JSONParseError(offset: 3, reason: "short \\u escape"))
        XCTAssertEqual(parseError(#""\u12G4""#), JSONParseError(offset: 5, reason: "bad \\u escape"))
        XCTAssertEqual(parseError(#""\uD83D\uZZZZ""#), JSONParseError(offset: 9, reason: "bad \\u escape"))
        XCTAssertEqual(parseError("\"abc\\"), JSONParseError(offset: 5, reason: "unterminated string"))
    }

    // MARK: Depth

    func testDepthLimitAcceptsMaximum() throws {
        let depth = JSON.maxDepth
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try JSON.parse(text)
        var levels = 0
        while case .array(let items) = value {
            levels += 1
            guard let first = items.first else { break }
            value = first
        }
        XCTAssertEqual(levels, depth)
    }

    func testDepthLimitRefusesOneMore() {
        let depth = JSON.maxDepth + 1
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        XCTAssertEqual(parseError(text), JSONParseError(offset: 128, reason: "nested deeper than 128"))
        let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        XCTAssertEqual(parseError(objects)?.reason, "nested deeper than 128")
    }

    func testVeryDeepInputIsRefusedNotCrashing() {
        let text = String(repeating: "[", count: 1_000_000)
        XCTAssertEqual(parseError(text), JSONParseError(offset: 128, reason: "nested deeper than 128"))
        let mixed = String(repeating: #"[{"k":"#, count: 200_000)
        XCTAssertEqual(parseError(mixed)?.reason, "nested deeper than 128")
    }

    // MARK: Garbage

    func testGarbageFailsWithOffsets() {
        let cases: [(String, Int, String)] = [
            ("", 0, "unexpected end"),
            ("   ", 3, "unexpected end"),
            ("[", 1, "unexpected end"),
            ("[1,", 3, "unexpected end"),
            ("[1", 2, "unexpected end"),
            ("{", 1, "expected a key"),
            (#"{"a""#, 4, "expected ':'"),
            (#"{"a":"#, 5, "unexpected end"),
            (#"{"a":1"#, 6, "unexpected end"),
            (#"{"a" 1}"#, 5, "expected ':'"),
            ("{1:2}", 1, "expected a key"),
            (#"{"a":1,}"#, 7, "expected a key"),
            (#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
            ("[1,]", 3, "expected a value"),
            ("[1 2]", 3, "expected ',' or ']'"),
            ("1 2", 2, "trailing characters"),
            ("{}x", 2, "trailing characters"),
            ("tru", 0, "unknown literal"),
            ("nul", 0, "unknown literal"),
            ("trUe", 0, "unknown literal"),
            ("False", 0, "expected a value"),
            ("@", 0, "expected a value"),
            ("-", 1, "expected a value"),
            ("'a'", 0, "expected a value"),
            ("1.2.3", 0, "bad number"),
            ("1e", 0, "bad number"),
            ("--1", 0, "bad number"),
            ("\"abc", 4, "unterminated string"),
            ("[\"a\",\"b", 7, "unterminated string"),
            ("\u{0}", 0, "expected a value"),
        ]
        for (text, offset, reason) in cases {
            XCTAssertEqual(parseError(text), JSONParseError(offset: offset, reason: reason), "\(text.debugDescription)")
        }
    }

    func testParseErrorDescription() {
        XCTAssertEqual(JSONParseError(offset: 7, reason: "bad number").description, "invalid JSON at byte 7: bad number")
    }

    func testParseFromBytes() throws {
        XCTAssertEqual(try JSON.parse(Array(#"{"return": {}}"#.utf8)), .object([("return", .object([]))]))
        // Invalid UTF-8 inside a string is replaced, not trapped on.
        XCTAssertEqual(try JSON.parse([0x22, 0xff, 0x41, 0x22]).string, "\u{FFFD}A")
    }

    func testRealisticQMPReply() throws {
        let text = #"""
            {"return": [{"name": "pc.ram", "size": 4294967296, "addr": 18446744073709547520, "ok": true, "neg": -4096}], "id": "q1"}
            """#
        let value = try JSON.parse(text)
        let entry = try XCTUnwrap(value["return"]?.array?.first)
        XCTAssertEqual(entry["name"]?.string, "pc.ram")
        XCTAssertEqual(entry["size"]?.uint64, 4_294_967_296)
        XCTAssertEqual(entry["addr"]?.uint64, 0xffff_ffff_ffff_f000)
        XCTAssertEqual(entry["ok"]?.bool, true)
        XCTAssertEqual(entry["neg"]?.int64, -4096)
        XCTAssertEqual(value["id"]?.string, "q1")
    }
}
