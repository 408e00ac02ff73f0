import Foundation
import SwiftCLIP
import XCTest

/// An objective the package does not have, registered from outside as a user's package would:
/// FILIP's token-wise loss without the SOT/EOT tokens, under a type name of its own. Evaluation
/// must score its checkpoints token-wise without special tokens because the objective says so.
struct ContentTokenwiseObjective: Objective {
    var inner = FILIPObjective(includeSpecialTokens: false)
    var needs: ObjectiveNeeds { inner.needs }
    var similarity: Similarity { inner.similarity }
    func loss(_ features: Features, _ scalars: ObjectiveScalars) -> Variable { inner.loss(features, scalars) }

    struct Options: ObjectiveOptions {
        static let type = "test-content-tokenwise"
        var blockSize: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case blockSize = "block_size" }
        func makeObjective() throws -> any Objective {
            var o = ContentTokenwiseObjective()
            if let b = try checkedAtLeastOne(.blockSize, blockSize) { o.inner.blockSize = b }
            return o
        }
    }

    static let registered: Void = { try! ObjectiveRegistry.register(Options.self) }()
}

/// A dataset kind the package does not have: a `.colors` text file, one item per line
/// `R G B caption`, each a solid 16×16 image of that colour.
final class ColorListSource: DatasetSource, @unchecked Sendable {
    let path: String
    let rows: [(rgb: [UInt8], caption: String)]

    init(path: String) throws {
        self.path = path
        rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 3)
            guard parts.count == 4, let r = UInt8(parts[0]), let g = UInt8(parts[1]), let b = UInt8(parts[2]) else {
                throw RunError("\(path): not 'R G B caption': \(line)")
            }
            return ([r, g, b], String(parts[3]))
        }
    }

    var count: Int { rows.count }
    func origin(of index: Int) -> (path: String, part: Int, index: Int) { (path, 0, index) }
    func image(at index: Int) throws -> ShardImage {
        let c = rows[index].rgb
        return .raw(RGBImage(height: 16, width: 16, filledWith: (c[0], c[1], c[2])))
    }
    func caption(at index: Int) throws -> String { rows[index].caption }
    func longCaption(at index: Int) throws -> String { throw RunError("no long captions") }
    func label(at index: Int) -> Int? { nil }

    static let registered: Void = {
        DatasetSourceRegistry.register(name: "color-list", reads: { $0.allSatisfy { $0.hasSuffix(".colors") } }) { paths in
            guard paths.count == 1 else { throw RunError("one .colors file at a time") }
            return try ColorListSource(path: paths[0])
        }
    }()
}

final class ExtensionPointTests: XCTestCase {
    func testARegisteredObjectiveTrainsFromItsTypeAndIsScoredAsItSays() throws {
        _ = ContentTokenwiseObjective.registered
        let run = try SyntheticRun()
        defer { run.cleanup() }
        let config = try run.config(run.yaml(steps: 4, every: 4, objective: ContentTokenwiseObjective.Options.type))
        XCTAssertTrue(try config.objective.makeObjective() is ContentTokenwiseObjective)
        let trainer = try Trainer(config: config, overwrite: true, log: { _ in })
        let summary = try trainer.run()
        XCTAssertEqual(summary.finalStep, 4)
        XCTAssertTrue(trainer.metrics.steps.allSatisfy { $0.loss?.isFinite == true })
        // evaluate's model loading reads the similarity the objective recorded: token-wise, content tokens only.
        XCTAssertEqual(try ModelLoading.load(checkpoint: trainer.runDirectory.path).scoring,
                       .tokenwise(includeSpecialTokens: false))
    }

    func testSimilarityRecordedInMetadataAndReadFromOlderCheckpoints() throws {
        for kind in ObjectiveRegistry.kinds {
            let config = ObjectiveConfig(try kind.defaults())
            let metadata = try Similarity.checkpointMetadata(for: config)
            XCTAssertEqual(try Similarity(checkpointMetadata: metadata, source: "m"), try config.makeObjective().similarity, kind.type)
        }
        // Checkpoints written before the similarity was recorded: their objective reads its own keys.
        let filip = FILIPObjective.Options.type
        XCTAssertEqual(try Similarity(checkpointMetadata: ["objective": filip], source: "m"), .tokenwise(includeSpecialTokens: true))
        XCTAssertEqual(try Similarity(checkpointMetadata: ["objective": filip, "filip_include_special_tokens": "false"], source: "m"),
                       .tokenwise(includeSpecialTokens: false))
        XCTAssertEqual(try Similarity(checkpointMetadata: ["objective": CLIPObjective.Options.type], source: "m"), .embedding)
        XCTAssertEqual(try Similarity(checkpointMetadata: [:], source: "m"), .embedding)   // OpenCLIP's files
        XCTAssertThrowsError(try Similarity(checkpointMetadata: [Similarity.metadataKey: "cosine-ish"], source: "m.safetensors")) {
            XCTAssertTrue("\($0)".contains("m.safetensors: metadata similarity is 'cosine-ish'"), "\($0)")
        }
    }

    func testRegistryRefusesATakenOrMalformedName() {
        XCTAssertThrowsError(try ObjectiveRegistry.register(CLIPObjective.Options.self)) {
            XCTAssertEqual("\($0)", "objective type '\(CLIPObjective.Options.type)' is already registered")
        }
        struct Bad: ObjectiveOptions {
            static let type = "Has Space"
            enum CodingKeys: String, CodingKey, CaseIterable { case x }
            var x: Int?
            func makeObjective() throws -> any Objective { CLIPObjective() }
        }
        XCTAssertThrowsError(try ObjectiveRegistry.register(Bad.self))
        XCTAssertNil(ObjectiveRegistry.kind(named: "Has Space"))
    }

    func testARegisteredDatasetKindIsWhatTrainingReads() throws {
        _ = ColorListSource.registered
        let run = try SyntheticRun(items: 8)
        defer { run.cleanup() }
        let list = run.root.appendingPathComponent("train.colors")
        let lines = (0..<32).map { i in ["220 30 30 a red square.", "30 40 220 a blue square."][i % 2] }
        try lines.joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        XCTAssertTrue(try DatasetSourceRegistry.open(list.path) is ColorListSource)
        XCTAssertTrue(try DatasetSourceRegistry.open(run.root.appendingPathComponent("data").path) is ShardDataset)
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 4, every: 4), overrides: ["data.train=\(list.path)"]),
                                  overwrite: true, log: { _ in })
        XCTAssertEqual(try trainer.run().finalStep, 4)
        XCTAssertEqual(trainer.state.imagesSeen, 4 * 16)
        XCTAssertEqual(trainer.loader.state.epoch, 2, "32 items, 4 batches of 16: two epochs of the color list")
    }

    func testCallbacksSeeEveryLoggedStepAndEvaluationAndCancelStopsWithACheckpoint() throws {
        let run = try SyntheticRun(items: 16)
        defer { run.cleanup() }
        // A labelled shard for the zero-shot evaluation.
        let eval = run.root.appendingPathComponent("eval.h5").path
        let writer = ShardWriter(path: eval, classnames: ["red", "blue"])
        for i in 0..<4 {
            try writer.append(ShardItem(image: .raw(RGBImage(height: 16, width: 16, filledWith: i % 2 == 0 ? (220, 30, 30) : (30, 40, 220))),
                                        caption: "x", label: i % 2))
        }
        _ = try writer.finish()
        let config = try run.config(run.yaml(steps: 8, every: 100, extra: "eval: {zeroshot: {dataset: \(eval), every_steps: 2}}"))
        do {
            let trainer = try Trainer(config: config, overwrite: true, log: { _ in })
            var steps: [Int] = [], evaluations: [Int] = []
            trainer.onStep = { [unowned trainer] record in
                steps.append(record.step)
                if record.step == 4 { trainer.cancel() }
            }
            trainer.onEvaluation = { evaluations.append($0.step) }
            let summary = try trainer.run()
            XCTAssertEqual(steps, [2, 4])   // run.log_every 2
            XCTAssertEqual(evaluations, [2, 4])
            XCTAssertTrue(summary.stoppedEarly)
            XCTAssertEqual(summary.finalStep, 4)
            XCTAssertEqual(summary.checkpoint?.lastPathComponent, "step-00000004")
            XCTAssertEqual(trainer.metrics.events.last?.reason, "cancelled")
        }   // the trainer (and its run lock) is released here
        // Resuming finishes the run.
        let resumed = try Trainer(config: config, resume: "latest", log: { _ in })
        XCTAssertEqual(try resumed.run().finalStep, 8)
    }

    func testCancellingTheTaskStopsTheRun() async throws {
        let run = try SyntheticRun(items: 16)
        defer { run.cleanup() }
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 200, every: 1000)), overwrite: true, log: { _ in })
        let task = Task.detached { try trainer.run() }
        task.cancel()
        let summary = try await task.value
        XCTAssertTrue(summary.stoppedEarly)
        XCTAssertLessThan(summary.finalStep, 200)
    }
}
