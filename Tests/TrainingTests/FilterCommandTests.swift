import DataPipeline
import Foundation
import SwiftCLIP
import XCTest

/// The `filter` executable: a run on a trained checkpoint, and its failures — one line on stderr,
/// exit status 1 (64 for usage errors), no output folder left behind.
final class FilterCommandTests: XCTestCase {
    func testFilterRunsAndFailsInOneLine() throws {
        let run = try SyntheticRun(items: 24)
        defer { run.cleanup() }
        _ = try Trainer(config: try run.config(run.yaml(steps: 2, every: 2)), log: { _ in }).run()
        let checkpoint = run.root.appendingPathComponent("runs/test").path
        let data = run.root.appendingPathComponent("data").path
        func path(_ name: String) -> String { run.root.appendingPathComponent(name).path }

        let ok = try runCommand("filter", ["--checkpoint", checkpoint, "--data", data, "--output", path("kept"), "--keep", "0.25",
                                           "--scores", path("s.csv"), "--threads", "2"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("scored 24 of 24 pairs; kept 6"), ok.stdout)
        XCTAssertEqual(try ShardDataset(path: path("kept")).count, 6)
        XCTAssertEqual(try String(contentsOfFile: path("s.csv"), encoding: .utf8).split(separator: "\n").count, 25)

        // --precision bf16 (as evaluate/embed): bf16 GEMM inputs move the scores a little, never far.
        let bf16 = try runCommand("filter", ["--checkpoint", checkpoint, "--data", data, "--output", path("kept16"), "--keep", "0.25",
                                             "--scores", path("s16.csv"), "--threads", "2", "--precision", "bf16"])
        XCTAssertEqual(bf16.status, 0, bf16.stderr)
        func scores(_ name: String) throws -> [Double] {
            try String(contentsOfFile: path(name), encoding: .utf8).split(separator: "\n").dropFirst()
                .map { Double($0.split(separator: ",").last!)! }
        }
        let fp32Scores = try scores("s.csv"), bf16Scores = try scores("s16.csv")
        XCTAssertEqual(fp32Scores.count, bf16Scores.count)
        XCTAssertNotEqual(fp32Scores, bf16Scores, "--precision bf16 changed nothing")
        XCTAssertLessThan(zip(fp32Scores, bf16Scores).map { abs($0 - $1) }.max()!, 0.02)

        let failures: [([String], String)] = [
            (["--data", path("missing"), "--keep", "0.5"], "no such file: \(path("missing"))"),
            (["--data", data, "--keep", "0.5", "--output", path("kept")], "already contains 1 .h5 file(s)"),
            (["--data", data, "--threshold", "2"], "nothing kept: no score reaches the threshold"),
            (["--data", data, "--keep", "0.5", "--scores", path("s.txt")], "s.txt: the scores file must end in .csv or .safetensors"),
        ]
        for (arguments, expected) in failures {
            var all = ["--checkpoint", checkpoint, "--output", path("out")] + arguments
            if arguments.contains("--output") { all = ["--checkpoint", checkpoint] + arguments }
            let r = try runCommand("filter", all)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("filter: error: ") && r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "\(arguments): not one line: \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")), "\(arguments)")
        }
        // Progress lines come before the error in a terminal or `2>&1` (issue 25.5: "scoring: embedding"
        // came after it); an output refused before any work prints nothing else.
        try FileManager.default.createDirectory(atPath: path("full"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: data + "/shard-00000.h5", toPath: path("full/shard-00000.h5"))
        let refused = try runCommandMerged("filter", ["--checkpoint", checkpoint, "--data", data, "--output", path("full"), "--keep", "0.5"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.output.hasPrefix("filter: error: ") && refused.output.contains("already contains 1 .h5 file(s)"), refused.output)
        XCTAssertEqual(refused.output.filter { $0 == "\n" }.count, 1, refused.output)
        let late = try runCommandMerged("filter", ["--checkpoint", checkpoint, "--data", data, "--output", path("out"), "--threshold", "2"])
        XCTAssertEqual(late.status, 1)
        let lines = late.output.split(separator: "\n")
        XCTAssertEqual(lines.first, "scoring: embedding", late.output)
        XCTAssertTrue(lines.last?.hasPrefix("filter: error: nothing kept: no score reaches the threshold") ?? false, late.output)

        // A negative threshold is a number, not an option (issue 25.5), in both spellings: cosines are ≥ -1.
        for threshold in [["--threshold", "-1"], ["--threshold=-1"], ["--threshold", "-1e0"]] {
            let r = try runCommand("filter", ["--checkpoint", checkpoint, "--data", data, "--output", path("all"), "--overwrite"] + threshold)
            XCTAssertEqual(r.status, 0, "\(threshold): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("scored 24 of 24 pairs; kept 24"), "\(threshold): \(r.stdout)")
        }

        let usage: [([String], String)] = [
            (["--keep", "0.5", "--threshold", "0.2"], "give exactly one of --keep FRACTION and --threshold T"),
            (["--keep", "1.5"], "--keep must be in (0, 1], got 1.5"),
            (["--keep", "0.5", "--dedup", "0"], "--dedup must be in (0, 1], got 0.0"),
            (["--keep", "0.5", "--precision", "fp16"], "--precision"),
            (["--threshold", "-x"], "--threshold"),
            (["--threshold"], "--threshold"),
        ]
        for (arguments, expected) in usage {
            let r = try runCommand("filter", ["--checkpoint", checkpoint, "--data", data, "--output", path("out")] + arguments)
            XCTAssertEqual(r.status, 64, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
        }
    }
}
