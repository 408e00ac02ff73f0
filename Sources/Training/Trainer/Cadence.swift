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

/// Which steps log a metrics line, save a checkpoint and run the periodic evaluations
/// (`run.log_every`, `checkpoint.every_steps`, `eval.zeroshot.every_steps`, `eval.retrieval.every_steps`).
/// The last step always logs and checkpoints; its evaluations are the final ones, after the loop.
struct Cadence {
    let total: Int
    let logEvery: Int
    let checkpointEvery: Int
    let evalEvery: Int?
    let retrievalEvery: Int?

    init(_ config: TrainingConfig) {
        total = config.train.steps
        logEvery = config.run.logEvery
        checkpointEvery = config.checkpoint.everySteps
        evalEvery = config.eval.zeroshot?.everySteps
        retrievalEvery = config.eval.retrieval?.everySteps
    }

    func logs(_ step: Int) -> Bool { step % logEvery == 0 || step == total }
    func checkpoints(_ step: Int) -> Bool { step % checkpointEvery == 0 || step == total }
    /// A periodic zero-shot evaluation (never at the last step: the final one follows the loop).
    func evaluates(_ step: Int) -> Bool { Self.periodic(step, every: evalEvery, total: total) }
    /// A periodic retrieval evaluation, by the same rule.
    func evaluatesRetrieval(_ step: Int) -> Bool { Self.periodic(step, every: retrievalEvery, total: total) }

    private static func periodic(_ step: Int, every: Int?, total: Int) -> Bool { every.map { step % $0 == 0 && step < total } ?? false }
}
