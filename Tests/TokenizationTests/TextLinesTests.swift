import Tokenization
import XCTest

/// Line splitting on bytes: "\r\n" (one Swift Character) ends a line like "\n", empty lines count.
final class TextLinesTests: XCTestCase {
    func testSplitsLFAndCRLFAndKeepsEmptyLines() {
        XCTAssertEqual(TextLines.split("a\nb\n"), ["a", "b"])
        XCTAssertEqual(TextLines.split("a\r\nb\r\n"), ["a", "b"])
        XCTAssertEqual(TextLines.split("a\r\n\r\nb"), ["a", "", "b"])
        XCTAssertEqual(TextLines.split("a\n\nb\n\n"), ["a", "", "b", ""])
        XCTAssertEqual(TextLines.split("\n"), [""])
        XCTAssertEqual(TextLines.split(""), [])
        XCTAssertEqual(TextLines.split("é\r\nx\ry"), ["é", "x\ry"], "a lone CR is not a line end")
    }

    /// A stream fed in pieces, a CRLF cut between two chunks included, gives the lines of the whole.
    func testChunkedStreamGivesTheSameLines() {
        let text = Array("one\r\ntwo\n\r\nthree".utf8)
        for cut in 0...text.count {
            var reader = TextLines()
            var lines = reader.feed(text[..<cut]) + reader.feed(text[cut...])
            if let last = reader.finish() { lines.append(last) }
            XCTAssertEqual(lines.map { String(decoding: $0, as: UTF8.self) }, ["one", "two", "", "three"], "cut at \(cut)")
        }
    }
}
