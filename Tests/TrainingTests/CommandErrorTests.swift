import Foundation
import XCTest

/// One error convention for every command (issue 14.6): a runtime failure is one line on standard error,
/// `TOOL: error: REASON`, exit status 1, no usage text; an argument error keeps the usage and exits 64.
final class CommandErrorTests: XCTestCase {
    func testEveryCommandReportsARuntimeFailureInOneLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftclip-commands-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let missing = path("missing")
        let cases: [(tool: String, arguments: [String])] = [
            ("train", ["--config", missing]),
            ("evaluate", ["--checkpoint", missing, "--task", "zeroshot", "--dataset", missing]),
            ("embed", ["--checkpoint", missing, "--images", missing, "--texts", missing, "--output", path("e.safetensors")]),
            ("export", ["--checkpoint", missing, "--output", path("hub")]),
            ("filter", ["--checkpoint", missing, "--data", missing, "--output", path("kept"), "--keep", "0.5"]),
            ("tokenize", ["--vocab", missing]),
            ("make-shards", ["csv", missing, "--output", path("shards")]),
            ("make-shards", ["karpathy", "--json", missing, "--images", dir.path, "--split", "test", "--output", path("shards")]),
            ("bench", ["loader", "--dataset", missing, "--batches", "1"]),
        ]
        for (tool, arguments) in cases {
            let r = try runCommand(tool, arguments)
            XCTAssertEqual(r.status, 1, "\(tool): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("\(tool): error: ") && r.stderr.contains(missing), "\(tool): \(r.stderr)")
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "\(tool): not one line: \(r.stderr)")
            XCTAssertFalse(r.stderr.lowercased().contains("usage"), "\(tool): \(r.stderr)")
        }
        // Argument errors, from parsing or validate(), keep ArgumentParser's usage text and exit 64.
        let usage: [(tool: String, arguments: [String], reason: String)] = [
            ("tokenize", ["--context-length", "1"], "--context-length must be at least 2, got 1"),
            ("make-shards", ["csv", missing, "--output", path("shards"), "--csv-separator", "ab"], "--csv-separator must be one character"),
            ("export", ["--output", path("hub")], "Missing expected argument '--checkpoint"),
            ("make-shards", ["karpathy", "--json", missing, "--images", dir.path, "--split", "testing", "--output", path("shards")],
             "--split must be test, val, train or restval"),
        ]
        for (tool, arguments, reason) in usage {
            let r = try runCommand(tool, arguments)
            XCTAssertEqual(r.status, 64, "\(tool): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(reason) && r.stderr.contains("Usage: \(tool)"), "\(tool): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("shards")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("hub")))
    }

    /// `--help` (and `help SUBCOMMAND`) prints the help on standard output and exits 0, for the tool
    /// and for each of its subcommands.
    func testEveryCommandPrintsItsHelp() throws {
        let cases: [(tool: String, arguments: [String], usage: String)] = [
            ("train", ["--help"], "train --config"), ("evaluate", ["--help"], "evaluate [<options>] --checkpoint"),
            ("embed", ["-h"], "embed --checkpoint"), ("export", ["--help"], "export --checkpoint"),
            ("filter", ["--help"], "filter [<options>] --checkpoint"), ("tokenize", ["--help"], "tokenize"),
            ("make-shards", ["--help"], "make-shards <subcommand>"), ("make-shards", ["csv", "--help"], "make-shards csv"),
            ("bench", ["step", "--help"], "bench step"), ("bench", ["help", "loader"], "bench loader"),
        ]
        for (tool, arguments, usage) in cases {
            let r = try runCommand(tool, arguments)
            XCTAssertEqual(r.status, 0, "\(tool) \(arguments): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("USAGE: \(usage)"), "\(tool) \(arguments): \(r.stdout)")
            XCTAssertEqual(r.stderr, "", "\(tool) \(arguments)")
        }
    }
}
