import XCTest
import Tokenization

final class SentencesTests: XCTestCase {
    func testSplitsOnSentenceEnds() {
        XCTAssertEqual(sentences(of: "A dog runs. It is happy!  Why?"), ["A dog runs.", "It is happy!", "Why?"])
        XCTAssertEqual(sentences(of: "Wow!! Really?! Yes..."), ["Wow!!", "Really?!", "Yes..."])
        XCTAssertEqual(sentences(of: "no end mark here"), ["no end mark here"])
        XCTAssertEqual(sentences(of: "Line one.\nLine two.\tThree"), ["Line one.", "Line two.", "Three"])
    }

    func testDoesNotSplitInsideWords() {
        XCTAssertEqual(sentences(of: "It costs 3.5 dollars at 10 a.m. today."), ["It costs 3.5 dollars at 10 a.m.", "today."])
        XCTAssertEqual(sentences(of: "see example.com/x.y now"), ["see example.com/x.y now"])
    }

    func testTrimsAndDropsEmptySentences() {
        XCTAssertEqual(sentences(of: ""), [])
        XCTAssertEqual(sentences(of: "   "), [])
        XCTAssertEqual(sentences(of: " . ! ? "), [".", "!", "?"])
        XCTAssertEqual(sentences(of: "  A long caption.   Second part.  "), ["A long caption.", "Second part."])
    }
}

/// The cases multi-positive's own splitter (now removed) was pinned by; one splitter serves both.
final class SentencesMultiPositiveTests: XCTestCase {
    func testMultiPositiveCases() {
        XCTAssertEqual(sentences(of: "A red car. It is fast! Is it 3.5 m long?  Yes"), ["A red car.", "It is fast!", "Is it 3.5 m long?", "Yes"])
        XCTAssertEqual(sentences(of: "Wow!!! Done..."), ["Wow!!!", "Done..."])
        XCTAssertEqual(sentences(of: "Hot.\u{00A0}Cold.\r\nWarm"), ["Hot.", "Cold.", "Warm"])
    }
}
