import Foundation
import XCTest
@testable import Tokenization

/// Compares with ids made by OpenCLIP's `SimpleTokenizer` (Scripts/make-tokenizer-fixtures.py).
final class TokenizerFixtureTests: XCTestCase {
    struct Fixture: Decodable {
        struct Entry: Decodable {
            let text: String
            let contextLength: Int
            let tokens: [Int32]      // open_clip.tokenize row without its trailing padding
            let encoded: [Int32]     // SimpleTokenizer.encode
            let decoded: String      // SimpleTokenizer.decode(encoded)

            enum CodingKeys: String, CodingKey {
                case text, tokens, encoded, decoded
                case contextLength = "context_length"
            }
        }
        let entries: [Entry]
    }

    static func loadFixture() throws -> Fixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "tokenizer", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func testEveryFixtureEntryMatchesOpenCLIP() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let fixture = try Self.loadFixture()
        XCTAssertGreaterThan(fixture.entries.count, 80)
        for entry in fixture.entries {
            let padding = [Int32](repeating: 0, count: entry.contextLength - entry.tokens.count)
            XCTAssertEqual(tokenizer.tokenize(entry.text, contextLength: entry.contextLength),
                           entry.tokens + padding, "tokenize \(entry.text.debugDescription)")
            XCTAssertEqual(tokenizer.encode(entry.text), entry.encoded, "encode \(entry.text.debugDescription)")
            XCTAssertEqual(tokenizer.decode(entry.encoded), entry.decoded, "decode \(entry.text.debugDescription)")
        }
    }

    func testFixturesCoverLongTextsAtBothContextLengths() throws {
        let entries = try Self.loadFixture().entries
        XCTAssertTrue(entries.contains { $0.contextLength == 77 && $0.encoded.count > 75 })
        XCTAssertTrue(entries.contains { $0.contextLength == 248 && $0.encoded.count > 246 })
        XCTAssertTrue(entries.contains { $0.text.isEmpty })
    }

    /// Several threads tokenizing with one cold tokenizer (shared piece cache) agree with one thread.
    func testConcurrentTokenizationGivesTheSameIds() throws {
        let texts = try Self.loadFixture().entries.map(\.text)
        let url = try XCTUnwrap(CLIPTokenizer.bundledMergesFile)
        let expected = try CLIPTokenizer(mergesFile: url).tokenize(texts)
        let shared = try CLIPTokenizer(mergesFile: url)
        let threads = 8
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var rows: [Int: [[Int32]]] = [:]
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var rows: [[Int32]] = []
            for round in 0..<5 {
                // Each thread walks the texts from a different offset so cache misses interleave.
                for index in texts.indices {
                    let i = (index + thread * 7 + round) % texts.count
                    rows.append(shared.tokenize(texts[i]))
                }
            }
            results.lock.lock()
            results.rows[thread] = rows
            results.lock.unlock()
        }
        for thread in 0..<threads {
            let rows = try XCTUnwrap(results.rows[thread])
            for (k, row) in rows.enumerated() {
                let i = (k % texts.count + thread * 7 + k / texts.count) % texts.count
                XCTAssertEqual(row, expected[i], "thread \(thread), text \(i)")
            }
        }
    }
}
