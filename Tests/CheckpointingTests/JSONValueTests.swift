import XCTest
@testable import Checkpointing

final class JSONValueTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONValue.parse(Array(text.utf8))
    }

    func testParsesNestedValues() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "x\"y\\z\u00e9\ud83d\ude00\n"}} "#)
        XCTAssertEqual(value, .object([
            "a": .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]),
            "b": .object(["c": .string("x\"y\\zé😀\n")]),
        ]))
    }

    func testIntegersAreExactAndFloatsAreNotIntegers() throws {
        XCTAssertEqual(try parse("9223372036854775807").integer, Int.max)
        XCTAssertNil(try parse("9223372036854775808").integer)  // overflow
        XCTAssertNil(try parse("1e3").integer)
        XCTAssertNil(try parse("4.0").integer)
        XCTAssertEqual(try parse("-0").integer, 0)
    }

    func testRejectsInvalidDocuments() {
        let invalid = [
            "", "{", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{1:2}", "01", "1.", "-", "+1", ".5", "1e", "tru",
            "\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\u{01}\"", "{} x", "[1] [2]", "NaN", "'a'",
        ]
        for text in invalid {
            XCTAssertThrowsError(try parse(text), "accepted \(text.debugDescription)")
        }
    }

    func testRejectsDuplicateKeysAtAnyDepth() {
        XCTAssertThrowsError(try parse(#"{"a":1,"a":2}"#)) { error in
            XCTAssertTrue((error as! JSONParseError).message.contains("duplicate key 'a'"))
        }
        XCTAssertThrowsError(try parse(#"{"x":{"b":1,"c":2,"b":3}}"#))
        // Escaped and literal spellings of the same key are the same key.
        XCTAssertThrowsError(try parse(#"{"a":1,"\u0061":2}"#))
    }

    func testRejectsInvalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22]] {
            XCTAssertThrowsError(try JSONValue.parse(bytes), "accepted \(bytes)")
        }
    }

    func testNestingLimitPreventsStackExhaustion() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try parse(deep)) { error in
            XCTAssertTrue((error as! JSONParseError).message.contains("nesting"))
        }
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
    }

    func testWriterEscapesRoundTripThroughParser() throws {
        let strings = ["plain", "quote\"back\\slash", "tab\tnew\nline\r\u{08}\u{0C}\u{01}\u{1F}", "ünïcødé 😀", "/"]
        for text in strings {
            XCTAssertEqual(try parse(JSONText.quoted(text)), .string(text))
        }
        XCTAssertEqual(JSONText.quoted("a\u{01}b"), #""a\u0001b""#)
    }
}
