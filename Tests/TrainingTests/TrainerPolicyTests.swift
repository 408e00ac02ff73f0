import DataPipeline
import XCTest
import SwiftCLIP
@testable import Training

/// The trainer's small policies: which steps log, checkpoint and evaluate, and the non-finite count and stop.
final class TrainerPolicyTests: XCTestCase {
    func testCadenceLogsAndCheckpointsAtTheirMultiplesAndTheLastStepEvaluatesBeforeIt() throws {
        let run = try SyntheticRun(items: 16)
        defer { run.cleanup() }
        let eval = "eval: {zeroshot: {dataset: \(run.root.appendingPathComponent("data").path), every_steps: 4}}"
        let cadence = Cadence(try run.config(run.yaml(steps: 10, every: 3, extra: eval)))   // run.log_every 2
        let steps = Array(1...10)
        XCTAssertEqual(steps.filter(cadence.logs), [2, 4, 6, 8, 10])
        XCTAssertEqual(steps.filter(cadence.checkpoints), [3, 6, 9, 10])
        XCTAssertEqual(steps.filter(cadence.evaluates), [4, 8])   // step 10's evaluation is the final one
        XCTAssertEqual(Array(1...10).filter(Cadence(try run.config(run.yaml(steps: 10))).evaluates), [])
    }

    func testNonfinitePolicyCountsStreaksAndStopsAtTheLimit() {
        let policy = NonfinitePolicy(maxConsecutive: 2)
        var state = TrainingState(step: 0, loader: LoaderState(), seed: 0, modelHash: "", configHash: "", config: "",
                                  consecutiveNonfinite: 0, skippedNonfinite: 0, optimizer: "adamw", imagesSeen: 0)
        XCTAssertEqual(policy.record(.loss, step: 1, in: &state), "step 1: non-finite loss, step skipped (1 in a row)")
        XCTAssertNil(policy.stopMessage(after: .loss, state: state))
        XCTAssertNil(policy.record(nil, step: 2, in: &state))   // a finite step ends the streak
        XCTAssertEqual(state.consecutiveNonfinite, 0)
        _ = policy.record(.gradient("visual.conv1.weight"), step: 3, in: &state)
        XCTAssertNil(policy.stopMessage(after: .gradient("visual.conv1.weight"), state: state))
        _ = policy.record(.gradient("visual.conv1.weight"), step: 4, in: &state)
        XCTAssertEqual([state.skippedNonfinite, state.consecutiveNonfinite], [3, 2])
        let stop = try? XCTUnwrap(policy.stopMessage(after: .gradient("visual.conv1.weight"), state: state))
        XCTAssertEqual(stop?.hasPrefix("stopping: 2 consecutive non-finite steps (train.max_nonfinite_steps), the last: non-finite gradient of visual.conv1.weight;"), true)
        XCTAssertNil(policy.stopMessage(after: nil, state: state))
    }
}
