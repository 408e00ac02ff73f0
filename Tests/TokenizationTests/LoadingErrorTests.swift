import Foundation
import XCTest
@testable import Tokenization

final class LoadingErrorTests: XCTestCase {
    func bundledMergesData() throws -> Data {
        try Data(contentsOf: XCTUnwrap(CLIPTokenizer.bundledMergesFile))
    }

    func assertOneLine(_ error: Error, contains part: String, file: StaticString = #filePath, line: UInt = #line) {
        let message = "\(error)"
        XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        XCTAssertTrue(message.contains(part), "\(message) should mention \(part)", file: file, line: line)
    }

    func testGzipRejectsTruncatedData() throws {
        let data = try bundledMergesData()
        for length in [data.count / 2, data.count - 4, 12] {
            XCTAssertThrowsError(try Gzip.decompress(data.prefix(length))) { error in
                assertOneLine(error, contains: "truncated")
            }
        }
        XCTAssertThrowsError(try Gzip.decompress(Data())) { assertOneLine($0, contains: "empty") }
    }

    func testGzipRejectsCorruptData() throws {
        var data = try bundledMergesData()
        for offset in stride(from: 1000, to: 1100, by: 1) { data[offset] ^= 0x5A }
        XCTAssertThrowsError(try Gzip.decompress(data)) { assertOneLine($0, contains: "corrupt") }
        XCTAssertThrowsError(try Gzip.decompress(Data("not gzip at all".utf8))) { assertOneLine($0, contains: "corrupt") }
    }

    func testGzipRoundTripsTheBundledFile() throws {
        let text = try Gzip.decompress(bundledMergesData())
        XCTAssertTrue(text.starts(with: Data("\"bpe_simple_vocab_16e6.txt#version: 0.2\n".utf8)))
        XCTAssertEqual(text.filter { $0 == 0x0A }.count, 262_145)
    }

    func testMissingMergesFileNamesTheFile() {
        let url = URL(fileURLWithPath: "/nonexistent/dir/merges-xyz.txt.gz")
        XCTAssertThrowsError(try CLIPTokenizer(mergesFile: url)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(url))
            assertOneLine(error, contains: "/nonexistent/dir/merges-xyz.txt.gz")
        }
    }

    func testPlainTextMergesFileIsNotGzip() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("plain-merges-\(UUID()).txt")
        try Data("#version: 0.2\na b\n".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try CLIPTokenizer(mergesFile: url)) { error in
            assertOneLine(error, contains: url.path)
            assertOneLine(error, contains: "not valid gzip")
        }
    }

    func testTooFewMergesNamesTheFileAndCounts() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "few-merges.txt", withExtension: "gz",
                                                  subdirectory: "Fixtures"))
        XCTAssertThrowsError(try CLIPTokenizer(mergesFile: url)) { error in
            XCTAssertEqual(error as? TokenizerError, .tooFewMerges(file: url, found: 2, needed: 48_894))
            assertOneLine(error, contains: "few-merges.txt.gz")
        }
    }
}
