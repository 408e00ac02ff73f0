import Foundation
import SwiftCLIP
import XCTest

/// End-to-end training through the library entry point: learning, exact resume, data-parallel
/// and accumulation equivalence.
final class TrainerTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun() }
    override func tearDown() { run.cleanup() }

    func train(_ yaml: String, resume: String? = nil, overwrite: Bool = false) throws -> Trainer.Summary {
        let trainer = try Trainer(config: try run.config(yaml), resume: resume, overwrite: overwrite, log: { _ in })
        return try trainer.run()
    }

    func testLossDecreasesOnSyntheticData() throws {
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 40, batch: 16, every: 40)), log: { _ in })
        let summary = try trainer.run()
        let losses = trainer.metrics.steps.compactMap(\.loss)
        XCTAssertEqual(summary.finalStep, 40)
        let first = losses.prefix(2).reduce(0, +) / 2, last = losses.suffix(2).reduce(0, +) / 2
        XCTAssertLessThan(last, first * 0.7, "loss went from \(first) to \(last)")
        for name in ["config.yaml", "metrics.jsonl", "report.html", "checkpoints/latest", "checkpoints/step-00000040/state.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.root.appendingPathComponent("runs/test/\(name)").path), name)
        }
    }

    func checkResumeIsExact(workers: Int, accumulation: Int) throws {
        _ = try train(run.yaml(steps: 8, workers: workers, accumulation: accumulation))
        let straight = try run.modelBytes(step: 8)
        // Half the steps, then a fresh trainer resumes from the step-4 checkpoint.
        _ = try train(run.yaml(steps: 8, workers: workers, accumulation: accumulation), overwrite: true)
        _ = try train(run.yaml(steps: 8, workers: workers, accumulation: accumulation),
                      resume: run.root.appendingPathComponent("runs/test/checkpoints/step-00000004").path)
        XCTAssertEqual(try run.modelBytes(step: 8), straight, "resumed weights differ (workers \(workers), accumulation \(accumulation))")
    }

    func testResumeIsExact() throws { try checkResumeIsExact(workers: 1, accumulation: 1) }
    func testResumeIsExactWithTwoWorkersAndAccumulation() throws { try checkResumeIsExact(workers: 2, accumulation: 2) }

    func testStopSignalCheckpointsAndResumeContinues() throws {
        StopSignal.request()
        defer { StopSignal.reset() }
        let summary = try train(run.yaml(steps: 8))
        XCTAssertTrue(summary.stoppedEarly)
        StopSignal.reset()
        let resumed = try train(run.yaml(steps: 8), resume: "latest")
        XCTAssertEqual(resumed.finalStep, 8)
    }

    func testWorkerCountsGiveTheSameWeights() throws {
        var weights: [[Float]] = []
        for workers in [1, 2, 4] {
            // SGD: Adam's first steps amplify float-rounding differences of near-zero gradients.
            let trainer = try Trainer(config: try run.config(run.yaml(steps: 3, workers: workers, every: 100),
                                                             overrides: ["optimizer.type=sgd", "optimizer.lr=0.05"]),
                                      overwrite: true, log: { _ in })
            _ = try trainer.run()
            weights.append(trainer.model.parameters.flatMap { $0.value.scalars })
        }
        for w in weights.dropFirst() {
            let diff = zip(w, weights[0]).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(diff, 1e-5)
        }
    }

    func testResumingWithADifferentModelIsRefused() throws {
        _ = try train(run.yaml(steps: 4))
        let other = run.root.appendingPathComponent("model2.json")
        try String(contentsOf: run.root.appendingPathComponent("model.json"), encoding: .utf8)
            .replacingOccurrences(of: "\"embed_dim\": 16", with: "\"embed_dim\": 8").write(to: other, atomically: true, encoding: .utf8)
        let cfg = try run.config(run.yaml(steps: 8), overrides: ["model.config=\(other.path)"])
        XCTAssertThrowsError(try Trainer(config: cfg, resume: "latest", log: { _ in })) { e in
            XCTAssertTrue("\(e)".contains("different model"), "\(e)")
        }
    }
}

/// Every objective trains end to end from the config (features, caption sets, scalars wired).
final class ObjectiveTrainingTests: XCTestCase {
    func testEveryObjectiveTrains() throws {
        let run = try SyntheticRun()
        defer { run.cleanup() }
        for kind in ObjectiveRegistry.kinds {
            let objective = kind.type, expected = try kind.defaults().makeObjective()
            let trainer = try Trainer(config: try run.config(run.yaml(steps: 6, workers: 2, every: 100, objective: objective)),
                                      overwrite: true, log: { _ in })
            let summary = try trainer.run()
            XCTAssertEqual(summary.finalStep, 6, objective)
            let losses = trainer.metrics.steps.compactMap(\.loss)
            XCTAssertEqual(losses.count, trainer.metrics.steps.count, "\(objective): \(trainer.metrics.steps)")
            XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(objective): \(losses)")
            XCTAssertLessThan(losses.last!, losses.first! + 1e-3, "\(objective) did not learn: \(losses)")
            XCTAssertEqual(trainer.model.logitBias != nil, expected.initialScalars.logitBias != nil, objective)
            // The checkpoint records the objective, so evaluation scores as it was trained.
            let scoring = try ModelLoading.load(checkpoint: trainer.runDirectory.path).scoring
            XCTAssertEqual(scoring, expected.similarity, objective)
        }
    }
}
