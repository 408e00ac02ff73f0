import DataPipeline
import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// What the trainer does differently as one rank of a data-parallel job: which rows it reads,
/// where its loader resumes, and the loader positions a checkpoint records.
extension Trainer {
    /// This rank's share of each global batch (nil for a single rank).
    static func rankShare(_ config: TrainingConfig, _ communicator: any Communicator) throws -> RankShare? {
        let ranks = communicator.worldSize
        guard ranks > 1 else { return nil }
        let parts = ranks * config.train.workers * config.train.accumulation
        guard config.data.batchSize % parts == 0 else {
            throw ConfigError("data.batch_size: \(config.data.batchSize) is not divisible by ranks × train.workers × train.accumulation = \(ranks) × \(config.train.workers) × \(config.train.accumulation)")
        }
        return RankShare(rank: communicator.rank, ranks: ranks, groups: config.train.accumulation)
    }

    /// Where this rank's loader starts: the beginning of a new run, or this rank's saved position.
    /// A checkpoint resumes only with the rank count that wrote it (each rank's position is its own).
    static func loaderState(in state: TrainingState, for communicator: any Communicator, resumed: URL?) throws -> LoaderState {
        guard let resumed else { return state.loader }
        let saved = state.rankLoaders?.count ?? 1, ranks = communicator.worldSize
        guard saved == ranks else {
            throw ConfigError("--resume: \(resumed.lastPathComponent) was written by \(saved) rank\(saved == 1 ? "" : "s") and this run has \(ranks); resume it with the same rank count (each rank's data position is saved)")
        }
        return state.rankLoaders?[communicator.rank] ?? state.loader
    }

    /// Every rank's loader position in rank order (nil for a single rank). Called by every rank.
    func gatherLoaderStates() -> [LoaderState]? {
        guard communicator.worldSize > 1 else { return nil }
        let flat = communicator.allGather([state.loader.epoch, state.loader.position])
        return stride(from: 0, to: flat.count, by: 2).map { LoaderState(epoch: flat[$0], position: flat[$0 + 1]) }
    }
}
