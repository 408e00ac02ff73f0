import Foundation
import XCTest

/// The `train` executable's failures (issue 13.14): one line on stderr, exit status 1, no usage text.
final class TrainCommandTests: XCTestCase {
    func testRuntimeAndConfigFailuresAreOneLineAndExitOne() throws {
        let run = try SyntheticRun(items: 8)
        defer { run.cleanup() }
        let config = run.root.appendingPathComponent("c.yaml")
        try run.yaml().write(to: config, atomically: true, encoding: .utf8)
        let huge = run.root.appendingPathComponent("huge.json")
        try """
        {"embed_dim": 16, "vision_cfg": {"image_size": 16, "patch_size": 8, "width": 65536, "layers": 1, "head_width": 64},
         "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
        """.write(to: huge, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--set", "train.steps=abc"], "train.steps: expected an integer, got \"abc\""),
            (["--set", "model.config=\(huge.path)"], "the run needs about"),
            (["--resume", "latest"], "no checkpoint saved yet"),
        ]
        for (extra, expected) in cases {
            let (status, _, stderr) = try runCommand("train", ["--config", config.path] + extra)
            XCTAssertEqual(status, 1, "\(extra): \(stderr)")
            XCTAssertTrue(stderr.hasPrefix("train: error: ") && stderr.contains(expected), "\(extra): \(stderr)")
            XCTAssertEqual(stderr.filter { $0 == "\n" }.count, 1, "\(extra): not one line: \(stderr)")
            XCTAssertFalse(stderr.contains("USAGE"), "\(extra): \(stderr)")
        }
        // An argument error is a usage error.
        let (status, _, stderr) = try runCommand("train", ["--config", config.path, "--threads", "0"])
        XCTAssertEqual(status, 64, stderr)
        XCTAssertTrue(stderr.contains("--threads must be at least 1, got 0"), stderr)
    }
}
