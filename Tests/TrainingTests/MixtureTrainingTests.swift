import Foundation
import SwiftCLIP
import XCTest

/// `data.train` as a weighted mixture (issue 24.2): the config forms and their errors, old configs
/// saved as before, per-source counts in metrics, exact resume and any rank count.
final class MixtureTrainingTests: XCTestCase {
    var run: SyntheticRun!
    var a = "", b = ""
    override func setUpWithError() throws {
        run = try SyntheticRun()   // 64 items in data/; a copy in data-b/ is the second source
        a = run.root.appendingPathComponent("data").path
        b = run.root.appendingPathComponent("data-b").path
        try FileManager.default.createDirectory(atPath: b, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: a + "/shard-00000.h5", toPath: b + "/shard-00000.h5")
    }
    override func tearDown() { run.cleanup() }

    func yaml(_ train: String, steps: Int = 8, workers: Int = 1, extra: String = "") -> String {
        run.yaml(steps: steps, workers: workers, extra: extra).replacingOccurrences(of: "train: \(a)\n", with: "train: \(train)\n")
    }
    func message(_ yaml: String, _ overrides: [String] = []) -> String {
        do { _ = try run.config(yaml, overrides: overrides); return "no error" } catch { return "\(error)" }
    }

    func testConfigForms() throws {
        XCTAssertEqual(try run.config(yaml(a)).data.train, .paths([a]))
        XCTAssertEqual(try run.config(yaml("[\(a), \(b)]")).data.train, .paths([a, b]))
        let mixed = try run.config(yaml("[{source: \(a), weight: 0.7}, {source: [\(b)], weight: 0.3}]"))
        XCTAssertEqual(mixed.data.train, .mixture([.init(source: [a], weight: 0.7), .init(source: [b], weight: 0.3)]))
        XCTAssertFalse(mixed.data.resampled)
        XCTAssertTrue(try run.config(yaml(a), overrides: ["data.resampled=true"]).data.resampled)
        // Saved and parsed again: the same config.
        let again = try TrainingConfig.parse(try mixed.yaml(), file: "saved.yaml")
        XCTAssertEqual(again.data, mixed.data)
    }

    /// The `data:` block a config with a plain path saves as, written by the `train` command before
    /// mixtures existed (main at 8775996): old configs keep their text and hash.
    func testPlainPathsSaveAsBefore() throws {
        let config = try run.config(yaml(a), overrides: ["data.batch_size=8", "data.augment=none"])
        let text = try config.yaml()
        let block = text.components(separatedBy: "\ndata:\n")[1].components(separatedBy: "\noptimizer:")[0]
        XCTAssertEqual(block, """
              train:
              - \(a)
              tokenizer: {}
              batch_size: 8
              shuffle: true
              augment:
                horizontal_flip: false
              loader_threads: 2
              caption_source: caption
            """)
    }

    func testBadMixturesGiveOneLineErrorsNamingTheKey() {
        let cases: [(String, [String], String)] = [
            (yaml("[{source: \(a), weight: 1}, {source: \(b), weight: -1}]"), [], "test.yaml: data.train[1].weight: must be a positive finite number, got -1.0"),
            (yaml("[{source: \(a), weight: 0}]"), [], "test.yaml: data.train[0].weight: must be a positive finite number, got 0.0"),
            (yaml("[{source: \(a), weight: .nan}]"), [], "test.yaml: data.train[0].weight: must be a positive finite number, got nan"),
            (yaml("[{source: \(a), weight: .inf}]"), [], "test.yaml: data.train[0].weight: must be a positive finite number, got inf"),
            (yaml("[{source: \(a)}]"), [], "test.yaml: data.train[0].weight: missing required key"),
            (yaml("[{source: \(a), weight: heavy}]"), [], "test.yaml: data.train[0].weight: expected a number"),
            (yaml("[{source: \(a), weight: 1, wieght: 2}]"), [], "test.yaml: data.train[0].wieght: unknown key (expected one of: source, weight)"),
            (yaml("[{source: [], weight: 1}]"), [], "test.yaml: data.train[0].source: needs at least one path"),
            (yaml("[{weight: 1}]"), [], "test.yaml: data.train[0].source: missing required key"),
            (yaml("[\(a), {source: \(b), weight: 1}]"), [], "test.yaml: data.train: either a list of paths or a list of {source, weight} mappings, not both"),
            (yaml("[]"), [], "test.yaml: data.train: needs at least one shard or folder"),
            (yaml("[{source: /nonexistent, weight: 1}]"), [], "test.yaml: data.train[0].source: not found: /nonexistent"),
            (yaml("[{source: \(a), weight: 1}, {source: \(a), weight: 2}]"), [], "test.yaml: data.train[1].source: the same source as data.train[0]"),
            (yaml(a), ["data.resampled=maybe"], "test.yaml: data.resampled: expected true or false"),
        ]
        for (text, overrides, expected) in cases {
            let m = message(text, overrides)
            XCTAssertTrue(m.hasPrefix(expected), "expected «\(expected)», got «\(m)»")
            XCTAssertFalse(m.contains("\n"), "multi-line error: \(m)")
        }
    }

    func testSourcesOfDifferentImageSizesAreRefused() throws {
        let c = run.root.appendingPathComponent("small.h5").path
        let writer = ShardWriter(path: c)
        try writer.append(ShardItem(image: .raw(RGBImage(height: 8, width: 8, pixels: [UInt8](repeating: 9, count: 192))), caption: "a small one."))
        _ = try writer.finish()
        XCTAssertThrowsError(try Trainer(config: try run.config(yaml("[{source: \(a), weight: 1}, {source: \(c), weight: 1}]")), log: { _ in })) {
            XCTAssertEqual("\($0)", "data.train: \(c): images are 8×8 but \(a)'s are 16×16; build the sources at one image size")
        }
    }

    /// Weights 3 : 1 over two 64-item sources: epochs of 128 with 96 and 32 (largest remainder). Eight steps
    /// of 16 are one epoch, so the counts in metrics.jsonl and the summary are exactly those; a resumed
    /// run gives the same weights and counts.
    func testCountsResumeAndRanks() throws {
        let text = yaml("[{source: \(a), weight: 3}, {source: \(b), weight: 1}]", workers: 2)
        let straight = try Trainer(config: try run.config(text), log: { _ in }).run()
        XCTAssertEqual(straight.sourceSamples, [a: 96, b: 32])
        let weights = try run.modelBytes(step: 8)
        let lines = try String(contentsOf: run.root.appendingPathComponent("runs/test/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let counts = try lines.compactMap { line -> [String: Int]? in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["source_samples"] as? [String: Int]
        }
        XCTAssertEqual(counts.count, 4, "every logged step (log_every 2) has the counts")
        XCTAssertEqual(counts.last, [a: 96, b: 32])
        XCTAssertEqual(counts.map { $0.values.reduce(0, +) }, [32, 64, 96, 128])

        var lines2: [String] = []
        let resumed = try Trainer(config: try run.config(text), resume: run.root.appendingPathComponent("runs/test/checkpoints/step-00000004").path,
                                  log: { lines2.append($0) }).run()
        XCTAssertEqual(try run.modelBytes(step: 8), weights, "4 steps + resume + 4 steps differ from 8 straight")
        XCTAssertEqual(resumed.sourceSamples, [a: 96, b: 32])
        XCTAssertTrue(lines2.contains("data: samples per source: \(a) 96 (75.0%, weight 75.0%), \(b) 32 (25.0%, weight 25.0%)"), "\(lines2)")

        try FileManager.default.removeItem(at: run.root.appendingPathComponent("runs/test"))
        let config = UncheckedBox(try run.config(yaml("[{source: \(a), weight: 3}, {source: \(b), weight: 1}]", workers: 1)))
        let summaries = onRanks(2) { communicator in
            (try? Trainer(config: config.value, communicator: communicator, log: { _ in }).run())?.sourceSamples
        }
        XCTAssertEqual(try run.modelBytes(step: 8), weights, "2 ranks × 1 worker differ from 1 process × 2 workers")
        XCTAssertEqual(summaries, [[a: 96, b: 32], [a: 96, b: 32]])
    }

    func testResampledRunCountsEverySample() throws {
        let summary = try Trainer(config: try run.config(yaml(a), overrides: ["data.resampled=true", "train.steps=4"]), log: { _ in }).run()
        XCTAssertEqual(summary.sourceSamples, [a: 64])
        let saved = try String(contentsOf: run.root.appendingPathComponent("runs/test/config.yaml"), encoding: .utf8)
        XCTAssertTrue(saved.contains("  resampled: true\n"), saved)
    }
}
