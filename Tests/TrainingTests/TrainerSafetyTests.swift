import DataPipeline
import Foundation
import SwiftCLIP
import XCTest

/// Collects a trainer's log lines.
final class LogLines: @unchecked Sendable {
    var lines: [String] = []
    func append(_ line: String) { lines.append(line) }
    var text: String { lines.joined(separator: "\n") }
}

/// Non-finite updates, the metrics log, evaluation failures and objective scalars on fine-tuning
/// (issue 12.2, 12.8, 12.9, 13.1).
final class TrainerSafetyTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun() }
    override func tearDown() { run.cleanup() }

    var runFolder: URL { run.root.appendingPathComponent("runs/test") }

    /// `metrics.jsonl` as JSON objects; every line must parse.
    func metricsLines() throws -> [[String: Any]] {
        let text = try String(contentsOf: runFolder.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try XCTUnwrap(object, "not a JSON object: \(line)")
        }
    }

    func testANonfiniteParameterUpdateIsNeverAppliedAndIsNamed() throws {
        // lr·weight_decay overflows Float: every decayed parameter would become ±inf or NaN.
        let cfg = try run.config(run.yaml(steps: 8), overrides: ["optimizer.lr=1e38", "optimizer.weight_decay=10",
                                                                 "train.max_nonfinite_steps=3"])
        let log = LogLines()
        let trainer = try Trainer(config: cfg, log: log.append)
        let before = trainer.model.parameters.map { $0.value.scalars }
        XCTAssertThrowsError(try trainer.run()) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("non-finite parameter") && m.contains("after the AdamW update"), m)
            XCTAssertTrue(m.contains("lower optimizer.lr"), m)
            XCTAssertFalse(m.contains("grad_clip_norm"), "clipping cannot help an overflowing update: \(m)")
            XCTAssertFalse(m.contains("\n"), m)
        }
        // Nothing was applied: weights and optimizer moments are those of the start.
        XCTAssertEqual(trainer.model.parameters.map { $0.value.scalars }, before)
        XCTAssertTrue(trainer.optimizer.stateTensors().allSatisfy { $0.value.scalars.allSatisfy { $0 == 0 } })
        XCTAssertTrue(log.text.contains("step 1: non-finite parameter"), log.text)
        XCTAssertEqual(trainer.state.skippedNonfinite, 3)
    }

    func testNonfiniteStepsAndTheStopAreInTheMetricsLog() throws {
        let cfg = try run.config(run.yaml(steps: 8), overrides: ["optimizer.lr=1e38", "optimizer.weight_decay=10",
                                                                 "train.max_nonfinite_steps=3"])
        let trainer = try Trainer(config: cfg, log: { _ in })
        XCTAssertThrowsError(try trainer.run())
        let lines = try metricsLines()
        let skipped = lines.filter { $0["nonfinite"] as? String == "parameter" }
        XCTAssertEqual(skipped.map { $0["step"] as? Int }, [1, 2, 3], "\(lines)")   // logged although log_every is 2
        let stop = try XCTUnwrap(lines.last)
        XCTAssertEqual(stop["kind"] as? String, "stop")
        XCTAssertEqual(stop["reason"] as? String, "nonfinite")
        XCTAssertTrue((stop["message"] as? String ?? "").contains("non-finite parameter"), "\(stop)")
    }

    func testACompletedRunRecordsWhyItStopped() throws {
        _ = try Trainer(config: try run.config(run.yaml(steps: 2)), log: { _ in }).run()
        let last = try XCTUnwrap(try metricsLines().last)
        XCTAssertEqual(last["kind"] as? String, "stop")
        XCTAssertEqual(last["reason"] as? String, "completed")
    }

    func testARunEndedByAnErrorRecordsIt() throws {
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 4)), log: { _ in })
        // A file where the checkpoints folder belongs: the first checkpoint cannot be written.
        let checkpoints = runFolder.appendingPathComponent("checkpoints")
        try? FileManager.default.removeItem(at: checkpoints)
        try Data("x".utf8).write(to: checkpoints)
        XCTAssertThrowsError(try trainer.run())
        let last = try XCTUnwrap(try metricsLines().last)
        XCTAssertEqual(last["kind"] as? String, "stop", "\(last)")
        XCTAssertEqual(last["reason"] as? String, "error", "\(last)")
    }

    func testAFailingEvaluationNeverCostsACheckpointNorTheRun() throws {
        // The training shard has no class names: every zero-shot evaluation fails.
        let data = run.root.appendingPathComponent("data/shard-00000.h5").path
        let cfg = try run.config(run.yaml(steps: 4, every: 2, extra: "eval: {zeroshot: {dataset: \(data), every_steps: 2}}"))
        let log = LogLines()
        let summary = try Trainer(config: cfg, log: log.append).run()
        XCTAssertEqual(summary.finalStep, 4)
        XCTAssertNil(summary.zeroShotTop1)
        for step in [2, 4] {
            XCTAssertNoThrow(try run.modelBytes(step: step), "checkpoint of step \(step)")
        }
        let failures = try metricsLines().filter { $0["kind"] as? String == "eval_failed" }
        XCTAssertEqual(failures.map { $0["step"] as? Int }, [2, 4], "\(failures)")
        XCTAssertTrue(failures.allSatisfy { ($0["message"] as? String ?? "").contains("classnames") })
        XCTAssertFalse(try metricsLines().contains { $0["zeroshot_top1"] != nil }, "a failed evaluation logged a top-1")
        XCTAssertTrue(log.text.contains("zero-shot evaluation failed"), log.text)
    }

    func testAnEmptyEvaluationIsNotATop1OfZero() throws {
        // Class names and labels, but no image decodes: nothing can be evaluated.
        let path = run.root.appendingPathComponent("broken.h5").path
        let writer = ShardWriter(path: path, classnames: ["red", "green"])
        for i in 0..<4 {
            try writer.append(ShardItem(image: .jpeg([0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3]), caption: "a thing.", label: i % 2))
        }
        _ = try writer.finish()
        let cfg = try run.config(run.yaml(steps: 4, every: 2, extra: "eval: {zeroshot: {dataset: \(path), every_steps: 2}}"))
        let summary = try Trainer(config: cfg, log: { _ in }).run()
        XCTAssertNil(summary.zeroShotTop1)
        let lines = try metricsLines()
        XCTAssertFalse(lines.contains { $0["zeroshot_top1"] != nil }, "an empty evaluation logged a top-1: \(lines)")
        XCTAssertEqual(lines.filter { $0["kind"] as? String == "eval_failed" }.count, 2, "\(lines)")
    }

    /// A CLIP checkpoint of the synthetic run (in runs/test), and its logit_scale.
    func clipCheckpoint() throws -> Float {
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 2)), log: { _ in })
        _ = try trainer.run()
        return trainer.model.logitScale.value.scalar
    }

    func fineTune(_ objective: String, log: LogLines) throws -> Trainer {
        let cfg = try run.config(run.yaml(objective: objective), overrides: ["run.name=ft-\(objective)", "model.init=\(runFolder.path)"])
        return try Trainer(config: cfg, log: log.append)
    }

    func testALIGNFromACLIPCheckpointStartsSigmaFromItsDefault() throws {
        let clipScale = try clipCheckpoint()
        XCTAssertNotEqual(clipScale, 1, accuracy: 0.5)
        let log = LogLines()
        let align = try fineTune("align", log: log)
        XCTAssertEqual(align.model.logitScale.value.scalar, 1)   // ALIGN's σ default, not CLIP's t
        XCTAssertTrue(log.text.contains("align starts its scalars from its defaults"), log.text)
        // A CLIP fine-tune keeps the checkpoint's logit scale.
        XCTAssertEqual(try fineTune("clip", log: LogLines()).model.logitScale.value.scalar, clipScale)
    }

    func testSigLIPFromACLIPCheckpointGetsItsBias() throws {
        _ = try clipCheckpoint()
        let log = LogLines()
        let siglip = try fineTune("siglip", log: log)
        XCTAssertEqual(try XCTUnwrap(siglip.model.logitBias).value.scalar, -10)
        XCTAssertEqual(siglip.model.logitScale.value.scalar, Foundation.log(10), accuracy: 1e-6)
        XCTAssertTrue(log.text.contains("logit_bias -10"), log.text)
        XCTAssertEqual(try siglip.run().finalStep, 8)
    }

    func testALIGNLogsOneOverSigmaAndKeepsSigmaPositive() throws {
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 2, objective: "align")), log: { _ in })
        _ = try trainer.run()
        let sigma = trainer.model.logitScale.value.scalar
        XCTAssertEqual(try XCTUnwrap(trainer.metrics.steps.last).logitMultiplier, Double(1 / sigma), accuracy: 1e-5)
        let scalars = ObjectiveScalars(logitScale: Variable(Tensor(-0.5)))
        ALIGNObjective().constrain(scalars)
        XCTAssertEqual(scalars.logitScale.value.scalar, 0.01)
    }
}
