import Foundation
import SwiftCLIP
import XCTest

/// Bad configs give one-line errors naming the file and the offending key.
final class ConfigTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun(items: 8) }
    override func tearDown() { run.cleanup() }

    func message(_ yaml: String, overrides: [String] = []) -> String {
        do {
            _ = try run.config(yaml, overrides: overrides)
            return "no error"
        } catch {
            return String(describing: error)
        }
    }

    func testTableOfBadConfigs() {
        let good = run.yaml()
        let cases: [(String, [String], String)] = [
            (good + "\nextra_section: 1\n", [], "test.yaml: extra_section: unknown key"),
            (good.replacingOccurrences(of: "batch_size: 16", with: "batch_sise: 16"), [], "test.yaml: data.batch_sise: unknown key"),
            (good, ["data.batch_size=ten"], "test.yaml: data.batch_size: expected an integer"),
            (good, ["data.batch_size=15", "train.workers=2"], "test.yaml: data.batch_size: 15 is not divisible by train.workers × train.accumulation = 2"),
            (good, ["model.config=/nonexistent.json"], "test.yaml: model.config: file not found: /nonexistent.json"),
            (good, ["optimizer.type=adam"], "test.yaml: optimizer.type: expected adamw or sgd, got adam"),
            (good, ["optimizer.lr=-1"], "test.yaml: optimizer.lr: must be positive"),
            (good, ["schedule.type=linear"], "test.yaml: schedule.type: expected cosine, constant or const-cooldown, got linear"),
            (good, ["train.steps=0"], "test.yaml: train.steps: must be positive"),
            (good, ["train.precision=fp16"], "test.yaml: train.precision: expected auto, fp32 or bf16, got fp16"),
            (good, ["data.augment.random_resized_crop=[0.5]"], "test.yaml: data.augment.random_resized_crop: expected [min, max]"),
            (good, ["objective.type=simclr"], "test.yaml: objective.type: unknown objective 'simclr'"),
            (good, ["model.freeze=[visual, txt]"], "test.yaml: model.freeze: expected visual or text, got txt"),
            (good, ["data.caption_source=longcaption"], "test.yaml: data.caption_source: expected caption or long_caption, got longcaption"),
            (good, ["objective.lambda=0.5"], "test.yaml: objective.lambda: not an option of objective 'clip'"),
            ("run: [1, 2]\n", [], "test.yaml: run: expected a mapping"),
            ("data: {batch_size: 4}\nmodel: {config: x}\n", [], "test.yaml: data.train: missing required key"),
            ("model: {config: a\n", [], "test.yaml: not valid YAML"),
            (good, ["nokey"], "--set nokey: expected key.path=value"),
        ]
        for (yaml, overrides, expected) in cases {
            let m = message(yaml, overrides: overrides)
            XCTAssertTrue(m.hasPrefix(expected) || m.contains(expected), "expected «\(expected)», got «\(m)»")
            XCTAssertFalse(m.contains("\n"), "multi-line error: \(m)")
        }
    }

    func testOverridesAndJSONAreAccepted() throws {
        let c = try run.config(run.yaml(), overrides: ["train.steps=3", "optimizer.betas=[0.8, 0.9]", "run.name=other"])
        XCTAssertEqual(c.train.steps, 3)
        XCTAssertEqual(c.optimizer.betas, [0.8, 0.9])
        XCTAssertEqual(c.run.name, "other")
        // model.config may name a built-in OpenCLIP architecture instead of a file.
        XCTAssertEqual(try run.config(run.yaml(), overrides: ["model.config=ViT-B-16"]).model.config, "ViT-B-16")
        let json = """
        {"model": {"config": "\(run.root.appendingPathComponent("model.json").path)"},
         "data": {"train": "\(run.root.appendingPathComponent("data").path)", "batch_size": 4}}
        """
        XCTAssertEqual(try run.config(json).data.batchSize, 4)
    }

    /// config.yaml (saved with every run, hashed on resume) keeps its spellings and key order:
    /// `type` first, then the options set, in the order the flat objective section wrote them.
    func testSavedYAMLKeepsSpellingsAndOrder() throws {
        let c = try run.config(run.yaml(), overrides: ["objective={type: filip, temperature_init: 0.5, include_special_tokens: false, block_size: 8}",
                                                       "optimizer.type=sgd", "schedule.type=const-cooldown",
                                                       "data.caption_source=long_caption", "model.freeze=[text, visual]",
                                                       "train.precision=bf16"])
        let yaml = try c.yaml()
        for expected in ["objective:\n  type: filip\n  temperature_init: 5e-1\n  block_size: 8\n  include_special_tokens: false\n",
                         "  type: sgd\n", "  type: const-cooldown\n", "  caption_source: long_caption\n", "  precision: bf16\n", "  freeze:\n  - text\n  - visual\n"] {
            XCTAssertTrue(yaml.contains(expected), "«\(expected)» not in «\(yaml)»")
        }
        XCTAssertEqual(try run.config(yaml), c)
        let defaults = try run.config(run.yaml()).yaml()
        XCTAssertTrue(defaults.contains("objective:\n  type: clip\n") && !defaults.contains("label_smoothing"), defaults)
    }

    func testSchedulesArePureFunctionsOfTheStep() {
        let cosine = LearningRateSchedule.cosine(baseLR: 1, warmup: 10, totalSteps: 110)
        XCTAssertEqual(cosine.lr(at: 0), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosine.lr(at: 9), 1, accuracy: 1e-7)
        XCTAssertEqual(cosine.lr(at: 60), 0.5, accuracy: 1e-6)
        XCTAssertEqual(cosine.lr(at: 110), 0, accuracy: 1e-6)
        let cool = LearningRateSchedule.constCooldown(baseLR: 1, warmup: 0, totalSteps: 100, cooldown: 20, power: 1, endLR: 0.1)
        XCTAssertEqual(cool.lr(at: 50), 1)
        XCTAssertEqual(cool.lr(at: 90), 0.55, accuracy: 1e-6)
    }
}

/// Every config shipped in Configs/ decodes (keys and types; files are checked when used).
final class ShippedConfigTests: XCTestCase {
    func testShippedConfigsDecode() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Configs").standardizedFileURL
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertGreaterThanOrEqual(files.count, 8)
        var objectives = Set<String>()
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            let c = try TrainingConfig.parse(text, file: f, validate: false)
            objectives.insert(c.objective.type)
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.deletingLastPathComponent().appendingPathComponent(c.model.config).path), f)
        }
        XCTAssertEqual(objectives, Set(ObjectiveRegistry.builtIn.map { $0.type }), "a shipped config for every built-in objective")
        for m in try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("models").path) {
            XCTAssertNoThrow(try ModelConfig.load(dir.appendingPathComponent("models/\(m)")), m)
        }
    }
}
