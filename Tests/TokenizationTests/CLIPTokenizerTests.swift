import Foundation
import XCTest
@testable import Tokenization

final class CLIPTokenizerTests: XCTestCase {
    func testPhotoOfACat() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let row = tokenizer.tokenize("a photo of a cat.")
        XCTAssertEqual(row.count, 77)
        XCTAssertEqual(Array(row.prefix(8)), [49406, 320, 1125, 539, 320, 2368, 269, 49407])
        XCTAssertTrue(row.dropFirst(8).allSatisfy { $0 == 0 })
        XCTAssertEqual(tokenizer.encode("a photo of a cat."), [320, 1125, 539, 320, 2368, 269])
    }

    func testVocabularyLayout() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        XCTAssertEqual(tokenizer.vocabularySize, 49408)
        XCTAssertEqual(tokenizer.startOfText, 49406)
        XCTAssertEqual(tokenizer.endOfText, 49407)
        XCTAssertEqual(tokenizer.vocabulary.merges.count, BPEVocabulary.mergeCount)
        XCTAssertEqual(tokenizer.vocabulary.tokens[0], "!")
        XCTAssertEqual(tokenizer.vocabulary.tokens[256], "!</w>")
        XCTAssertEqual(tokenizer.vocabulary.tokens[49405], "jekyll</w>")   // last merge used: line 48,894 "jeky ll</w>"
        XCTAssertTrue(try CLIPTokenizer.bundled() === tokenizer, "bundled() is loaded once")
    }

    func testTruncationKeepsEndOfTextLast() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let text = Array(repeating: "a photo of a cat", count: 60).joined(separator: " ")
        let ids = tokenizer.encode(text)
        XCTAssertEqual(ids.count, 300)
        for context in [77, 248, 5, 2] {
            let row = tokenizer.tokenize(text, contextLength: context)
            XCTAssertEqual(row.count, context)
            XCTAssertEqual(row.first, context == 1 ? 49407 : 49406)
            XCTAssertEqual(row.last, 49407)
            XCTAssertEqual(Array(row.dropFirst().dropLast()), Array(ids.prefix(context - 2)))
        }
        XCTAssertEqual(tokenizer.tokenize(text, contextLength: 1), [49407])   // as open_clip
        let exact = tokenizer.tokenize(Array(repeating: "cat", count: 75).joined(separator: " "))
        XCTAssertEqual(exact.last, 49407)
        XCTAssertEqual(exact.filter { $0 == 2368 }.count, 75)
    }

    func testBatchTokenizeMatchesSingle() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let texts = ["a photo of a cat.", "", "Two dogs!"]
        XCTAssertEqual(tokenizer.tokenize(texts, contextLength: 16), texts.map { tokenizer.tokenize($0, contextLength: 16) })
    }

    func testDecodeRoundTripsPlainText() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        for text in ["a photo of a dog running on the beach", "an aerial view of a city",
                     "sneaker ankle boot trouser pullover", "café crème brûlée"] {
            let decoded = tokenizer.decode(tokenizer.encode(text))
            XCTAssertEqual(decoded, text + " ")   // every word ends with "</w>" → " "
        }
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("A Photo of a CAT.")), "a photo of a cat . ")
        XCTAssertEqual(tokenizer.decode([49406, 320, 49407]), "<start_of_text>a <end_of_text>")
        XCTAssertEqual(tokenizer.decode([-1, 49408, 320]), "a ", "unknown ids are skipped")
        // A token cut inside a multi-byte character decodes to U+FFFD.
        XCTAssertTrue(tokenizer.decode([tokenizer.vocabulary.byteTokenIDs[0xE6]]).contains("\u{FFFD}"))
    }

    func testCleaningMatchesPython() {
        // Values printed by Python: "ΣΑΣ ΑΣ. Σ".lower(), html.unescape, " ".join(s.split()).
        func clean(_ text: String) -> String { String(String.UnicodeScalarView(TextCleaner.clean(text))) }
        XCTAssertEqual(clean("ΣΑΣ ΑΣ. Σ"), "σας ας. σ")
        XCTAssertEqual(clean("  Tom &amp;amp; Jerry\t\n "), "tom & jerry")
        XCTAssertEqual(clean("&lt;b&gt;x"), "<b>x")
        XCTAssertEqual(clean("<b>&amp;amp;amp;</b>"), "<b>&amp;</b>", "a '<' turns ftfy's unescaping off")
        XCTAssertEqual(clean("It’s “Q” ﬁne ＡＢ　c"), "it's \"q\" fine ab c")
        XCTAssertEqual(clean("&ampx; &eacute &hellip; &check;"), "&x; é … ✓")
        XCTAssertEqual(clean("x\u{0B}y \u{1B}[31mred\u{1B}[0m e\u{301}"), "xy red é")
        XCTAssertEqual(clean("İ"), "i\u{307}")
    }

    func testPreTokenizerFollowsPythonRegex() {
        // Pieces printed by Python `regex.findall(pattern, text)` with IGNORECASE.
        func pieces(_ text: String) -> [String] {
            let scalars = Array(text.unicodeScalars)
            return PreTokenizer.pieces(scalars).map { String(String.UnicodeScalarView(scalars[$0])) }
        }
        XCTAssertEqual(pieces("it'ſ a"), ["it", "'ſ", "a"])
        XCTAssertEqual(pieces("a\u{345}b"), ["a", "b"])
        XCTAssertEqual(pieces("'S"), ["'S"])
        XCTAssertEqual(pieces("!!'s"), ["!!'", "s"])
        XCTAssertEqual(pieces("don't"), ["don", "'t"])
        XCTAssertEqual(pieces("<start_of_text>hi"), ["<start_of_text>", "hi"])
        XCTAssertEqual(pieces("!<end_of_text>"), ["!<", "end", "_", "of", "_", "text", ">"])
        XCTAssertEqual(pieces("12ab3"), ["1", "2", "ab", "3"])
        XCTAssertEqual(pieces("e\u{301}"), ["e", "\u{301}"])
    }
}
