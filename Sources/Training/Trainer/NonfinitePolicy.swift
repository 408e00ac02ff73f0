import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// What the trainer does with a step whose loss, gradient or update is not finite: the update is
/// never applied (parameters and optimizer moments stay as they were), the step is counted in
/// `TrainingState`, and `train.max_nonfinite_steps` such steps in a row stop the run.
struct NonfinitePolicy {
    /// `train.max_nonfinite_steps`.
    let maxConsecutive: Int

    /// `.loss` for a non-finite loss, else `.gradient` naming the first parameter whose gradient is
    /// not finite, else nil (the step may go on to the optimizer).
    static func cause(loss: Float, gradientsOf model: CLIPModel) -> NonfiniteCause? {
        guard loss.isFinite else { return .loss }
        for (name, p) in model.namedParameters() {
            guard let g = p.grad else { continue }
            if !sumVectorized(g.pointer, g.count).isFinite { return .gradient(name) }
        }
        return nil
    }

    /// Counts the step in `state` (a finite step ends the streak); the log line of a skipped step, nil for a finite one.
    func record(_ cause: NonfiniteCause?, step: Int, in state: inout TrainingState) -> String? {
        guard let cause else { state.consecutiveNonfinite = 0; return nil }
        state.skippedNonfinite += 1
        state.consecutiveNonfinite += 1
        return "step \(step): \(cause), step skipped (\(state.consecutiveNonfinite) in a row)"
    }

    /// The reason to stop after this step (too many non-finite steps in a row, with advice for the last cause), or nil.
    func stopMessage(after cause: NonfiniteCause?, state: TrainingState) -> String? {
        guard let cause, state.consecutiveNonfinite >= maxConsecutive else { return nil }
        return "stopping: \(state.consecutiveNonfinite) consecutive non-finite steps (train.max_nonfinite_steps), the last: \(cause); \(cause.advice)"
    }
}
