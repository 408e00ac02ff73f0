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

    /// This job's layout: ranks, `train.workers`, `train.accumulation`, `data.batch_size`.
    static func layout(_ config: TrainingConfig, _ communicator: any Communicator) -> DataLayout {
        DataLayout(ranks: communicator.worldSize, workers: config.train.workers,
                   accumulation: config.train.accumulation, batchSize: config.data.batchSize)
    }

    /// The layout a checkpoint was written by: recorded, or for checkpoints from before it was,
    /// read from its rank count and recorded config (nil when it has none).
    static func savedLayout(of state: TrainingState) -> DataLayout? {
        if let layout = state.layout { return layout }
        guard let config = state.config else { return nil }
        let leaves = ConfigChanges.leaves(config)
        guard let workers = leaves["train.workers"].flatMap({ Int($0) }), let accumulation = leaves["train.accumulation"].flatMap({ Int($0) }),
              let batchSize = leaves["data.batch_size"].flatMap({ Int($0) }) else { return nil }
        return DataLayout(ranks: state.rankLoaders?.count ?? 1, workers: workers, accumulation: accumulation, batchSize: batchSize)
    }

    /// Where this rank's loader starts: the beginning of a new run; under the layout that saved the
    /// checkpoint, this rank's saved position (byte-exact resume); under another one, the positions
    /// the old ranks left unconsumed, dealt out again in the global order (`ConsumedPositions`).
    /// `state.layout` is the checkpoint's (`savedLayout`).
    static func loaderStart(in state: TrainingState, datasetCount: Int, layout: DataLayout, rank: Int, resumed: URL?,
                            log: (String) -> Void) throws -> (resumeFrom: LoaderState?, dealtFrom: ConsumedPositions?) {
        guard let resumed else { return (nil, nil) }
        let positions = state.rankLoaders ?? [state.loader]
        guard let saved = state.layout else {   // `resume` read it (`savedLayout`) before replacing the config
            guard positions.count == layout.ranks else {
                throw ConfigError("--resume: \(resumed.lastPathComponent) was written by \(positions.count) rank\(positions.count == 1 ? "" : "s") and does not record its layout (no config in state.json), so this run's \(layout.ranks) cannot take over its data positions; resume it with \(positions.count) rank\(positions.count == 1 ? "" : "s")")
            }
            return (positions[rank], state.dealtFrom)
        }
        guard positions.count == saved.ranks else {
            throw ConfigError("--resume: \(resumed.lastPathComponent): state.json records \(positions.count) rank positions for a layout of \(saved.ranks) ranks")
        }
        // Every rank checks every rank's position: a bad one is refused by all alike, none waits for the others.
        let consumed: ConsumedPositions
        do {
            consumed = try ConsumedPositions.reconcile(positions, count: datasetCount, batchSize: saved.batchSize,
                                                       groups: saved.accumulation, dealtFrom: state.dealtFrom)
        } catch { throw ConfigError("--resume: \(resumed.lastPathComponent): \(error)") }
        guard saved.readsOtherRows(than: layout) else {
            if saved != layout { log("resuming on \(layout), the checkpoint was written on \(saved): the layout changed; every rank reads the same rows as before") }
            return (positions[rank], state.dealtFrom)
        }
        let epoch = consumed.frontier / datasetCount
        log("resuming on \(layout), the checkpoint was written on \(saved): the layout changed; the \(consumed.remaining(inEpoch: epoch, count: datasetCount)) positions of epoch \(epoch) not yet read (from position \(consumed.frontier % datasetCount), \(consumed.beyond.count) later ones already read) are dealt out again in the global order")
        return (nil, consumed)
    }

    /// Every rank's loader position in rank order (nil for a single rank). Called by every rank.
    func gatherLoaderStates() -> [LoaderState]? {
        guard communicator.worldSize > 1 else { return nil }
        let flat = communicator.allGather([state.loader.epoch, state.loader.position])
        return stride(from: 0, to: flat.count, by: 2).map { LoaderState(epoch: flat[$0], position: flat[$0 + 1]) }
    }

    /// What a checkpoint records about the data besides the positions (`positions`, every rank's):
    /// the layout, and what the loaders' streams were dealt from while they still read epochs a
    /// resume on another layout left unfinished.
    func dataRecord(positions: [LoaderState]) -> (layout: DataLayout, dealtFrom: ConsumedPositions?) {
        (Self.layout(config, communicator),
         loader.dealtFrom.flatMap { $0.isSettled(by: positions, count: loader.dataset.count) ? nil : $0 })
    }
}
