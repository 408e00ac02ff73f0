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

/// Which steps log a metrics line, save a checkpoint and run the periodic zero-shot evaluation
/// (`run.log_every`, `checkpoint.every_steps`, `eval.zeroshot.every_steps`). The last step always
/// logs and checkpoints; its evaluation is the final one, after the loop.
struct Cadence {
    let total: Int
    let logEvery: Int
    let checkpointEvery: Int
    let evalEvery: Int?

    init(_ config: TrainingConfig) {
        total = config.train.steps
        logEvery = config.run.logEvery
        checkpointEvery = config.checkpoint.everySteps
        evalEvery = config.eval.zeroshot?.everySteps
    }

    func logs(_ step: Int) -> Bool { step % logEvery == 0 || step == total }
    func checkpoints(_ step: Int) -> Bool { step % checkpointEvery == 0 || step == total }
    func evaluates(_ step: Int) -> Bool { evalEvery.map { step % $0 == 0 && step < total } ?? false }
}
