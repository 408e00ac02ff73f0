import Foundation
import SwiftCLIP
import XCTest

/// Configs that would silently mean something else are errors naming the key (issue 12.7, 12.2,
/// 13.5, 13.14): empty or null overrides, duplicate keys, impossible model sizes, decoder wording.
final class ConfigStrictnessTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun(items: 8) }
    override func tearDown() { run.cleanup() }

    func message(_ yaml: String, overrides: [String] = []) -> String {
        do { _ = try run.config(yaml, overrides: overrides); return "no error" } catch { return String(describing: error) }
    }

    func assertError(_ yaml: String, _ overrides: [String], contains expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        let m = message(yaml, overrides: overrides)
        for e in expected { XCTAssertTrue(m.contains(e), "expected «\(e)» in «\(m)»", file: file, line: line) }
        XCTAssertFalse(m.contains("\n"), "multi-line error: \(m)", file: file, line: line)
        for decoderWording in ["UInt64", "Int64", "The given data", "Swift.", "DecodingError"] {
            XCTAssertFalse(m.contains(decoderWording), "decoder wording in «\(m)»", file: file, line: line)
        }
    }

    func testEmptyOrNullOverridesAreErrors() {
        assertError(run.yaml(), ["train.steps="], contains: ["train.steps"])
        assertError(run.yaml(), ["train.steps=null"], contains: ["train.steps", "null"])
        assertError(run.yaml(), ["run.name="], contains: ["run.name"])
        assertError(run.yaml(), ["run.name=null"], contains: ["run.name"])
        // The same in the file itself: a null where a value is required is not "the default".
        assertError(run.yaml(extra: "eval: {}").replacingOccurrences(of: "steps: 8,", with: "steps: null,"), [], contains: ["train.steps", "null"])
        // Optional keys may still be unset with null.
        XCTAssertEqual(message(run.yaml(), overrides: ["train.grad_clip_norm=null"]), "no error")
    }

    /// `run.name` is one folder inside `run.output_dir`: names a filesystem reads otherwise (`..` is the
    /// parent, `.` the output folder itself, `/` a path, NUL the end of a C string, over 255 bytes too long)
    /// would put the run files somewhere else (issue 25.1).
    func testRunNamesThatAreNotOneFolderAreErrors() {
        for name in ["..", ".", "''", "a/b", "../x", "/abs", #""a\0b""#, String(repeating: "n", count: 256)] {
            assertError(run.yaml(), ["run.name=\(name)"], contains: ["test.yaml: run.name: ", "got"])
        }
        for name in ["my-run.v2", "v1..v2", ".hidden", "-dash", "ünï code", String(repeating: "n", count: 255)] {
            XCTAssertEqual(message(run.yaml(), overrides: ["run.name=\(name)"]), "no error", name)
        }
    }

    /// A required path set to null says the key needs a value, not "file not found: null" (issue 25.5).
    func testNullForARequiredPathSaysTheKeyNeedsAValue() {
        let data = run.root.appendingPathComponent("data").path
        let cases: [(String, [String], String)] = [
            (run.yaml(), ["model.config=null"], "test.yaml: model.config: needs a value"),
            (run.yaml(), ["model.config=~"], "test.yaml: model.config: needs a value"),
            (run.yaml(), ["data.train=null"], "test.yaml: data.train: needs a value"),
            (run.yaml(extra: "eval: {zeroshot: {dataset: \(data)}}"), ["eval.zeroshot.dataset=null"], "test.yaml: eval.zeroshot.dataset: needs a value"),
        ]
        for (yaml, overrides, expected) in cases {
            assertError(yaml, overrides, contains: [expected, "got null"])
            XCTAssertFalse(message(yaml, overrides: overrides).contains("not found"), message(yaml, overrides: overrides))
        }
    }

    func testDuplicateKeysAreErrors() {
        assertError(run.yaml() + "\ntrain: {steps: 3}\n", [], contains: ["duplicate key", "train"])
        assertError(run.yaml().replacingOccurrences(of: "batch_size: 16", with: "batch_size: 16\n  batch_size: 32"), [],
                    contains: ["duplicate key", "data.batch_size"])
    }

    func testTypeErrorsNameTheKeyAndTheValue() {
        assertError(run.yaml(), ["train.steps=abc"], contains: ["train.steps: expected an integer, got \"abc\""])
        assertError(run.yaml(), ["run.seed=-1"], contains: ["run.seed: expected a non-negative integer, got \"-1\""])
        assertError(run.yaml(), ["optimizer.lr=fast"], contains: ["optimizer.lr: expected a number, got \"fast\""])
        assertError(run.yaml(), ["data.shuffle=maybe"], contains: ["data.shuffle: expected true or false, got \"maybe\""])
        assertError(run.yaml(), ["data.augment=7"], contains: ["data.augment: expected a mapping or none, got 7"])
        assertError(run.yaml(), ["objective.type=[1]"], contains: ["objective.type: expected a single value, got a list"])
    }

    func testAZeroShotLimitOfZeroIsAnError() {
        let data = run.root.appendingPathComponent("data").path
        assertError(run.yaml(extra: "eval: {zeroshot: {dataset: \(data), limit: 0}}"), [], contains: ["eval.zeroshot.limit: must be at least 1"])
    }

    func testALIGNTemperatureBelowItsFloorIsAnError() {
        assertError(run.yaml(objective: "align"), ["objective.temperature_init=0.001"], contains: ["objective.temperature_init: 0.001 is out of range"])
    }

    func testOptimizerEpsMustBePositive() {
        assertError(run.yaml(), ["optimizer.eps=0"], contains: ["optimizer.eps: must be positive"])
        assertError(run.yaml(), ["optimizer.eps=-1e-8"], contains: ["optimizer.eps: must be positive"])
    }

    func modelConfig(_ edit: (String) -> String) throws -> String {
        let url = run.root.appendingPathComponent("model-edited.json")
        try edit(String(contentsOf: run.root.appendingPathComponent("model.json"), encoding: .utf8))
            .write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testImpossibleModelSizesNameTheKey() throws {
        let cases: [((String) -> String, String)] = [
            ({ $0.replacingOccurrences(of: "\"width\": 32, \"layers\": 1, \"head_width\"", with: "\"width\": 32, \"layers\": 0, \"head_width\"") }, "vision_cfg.layers"),
            ({ $0.replacingOccurrences(of: "\"heads\": 2, \"layers\": 1", with: "\"heads\": 2, \"layers\": 0") }, "text_cfg.layers"),
            ({ $0.replacingOccurrences(of: "\"heads\": 2, \"layers\": 1", with: "\"heads\": 2, \"layers\": 1, \"mlp_ratio\": 0") }, "text_cfg.mlp_ratio"),
            ({ $0.replacingOccurrences(of: "\"embed_dim\": 16", with: "\"embed_dim\": 0") }, "embed_dim"),
            ({ $0.replacingOccurrences(of: "\"context_length\": 12", with: "\"context_length\": 1") }, "text_cfg.context_length"),
            ({ $0.replacingOccurrences(of: "\"heads\": 2", with: "\"heads\": 0") }, "text_cfg.heads"),
        ]
        for (edit, key) in cases {
            let path = try modelConfig(edit)
            XCTAssertThrowsError(try ModelConfig.load(URL(fileURLWithPath: path))) { e in
                XCTAssertTrue("\(e)".contains(key), "expected \(key) in «\(e)»")
            }
        }
    }

    func testVocabularySmallerThanTheTokenizerIsAConfigError() throws {
        let path = try modelConfig { $0.replacingOccurrences(of: "\"vocab_size\": 49408", with: "\"vocab_size\": 100") }
        let cfg = try run.config(run.yaml(), overrides: ["model.config=\(path)"])
        XCTAssertThrowsError(try Trainer(config: cfg, log: { _ in })) { e in
            XCTAssertTrue("\(e)".contains("text_cfg.vocab_size"), "\(e)")
            XCTAssertTrue("\(e)".contains("49408"), "\(e)")
        }
    }
}
