import DataPipeline
import Foundation
import TensorCore
import NeuralNet
import Objectives
import Optimization
import Checkpointing

/// `state.json` of a checkpoint: everything besides weights and optimizer moments needed to
/// continue exactly. All randomness derives from `seed` and the positions saved here (the
/// loader's per-sample generators are seeded by (seed, epoch, position)), so no other RNG
/// state exists.
public struct TrainingState: Codable, Equatable, Sendable {
    public var formatVersion = 1
    public var step: Int
    public var loader: LoaderState
    public var seed: UInt64
    /// Hash of everything that determines the model's shape (refuse resuming a different model).
    public var modelHash: String
    /// Hash of the whole resolved config: resuming with another one needs `--allow-config-change`
    /// unless only keys of `ConfigChanges.mayChangeOnResume` differ.
    public var configHash: String
    /// The resolved config YAML the checkpoint was trained with (to name the keys a resume changes);
    /// nil in checkpoints written before it was recorded.
    public var config: String?
    public var consecutiveNonfinite: Int
    public var skippedNonfinite: Int
    public var optimizer: String
    public var imagesSeen: Int
    /// Under MPI: every rank's loader position, in rank order (each rank reads its own rows, and
    /// skipped items can move ranks apart). Nil for a single process.
    public var rankLoaders: [LoaderState]? = nil
    /// For a mixture of training sources: the samples drawn from each source so far, all ranks
    /// together, in `data.train` order. Nil for a single dataset.
    public var sourceSamples: [Int]? = nil
    /// The layout that saved `loader` and `rankLoaders`; nil in checkpoints written before it was recorded.
    public var layout: DataLayout? = nil
    /// After a resume on another layout, while the loaders still read the rest of the epochs it left
    /// unfinished: the consumed positions their streams were dealt from (`DataLoader.dealtFrom`);
    /// nil when they read whole epochs from the beginning.
    public var dealtFrom: ConsumedPositions? = nil

    public init(step: Int, loader: LoaderState, seed: UInt64, modelHash: String, configHash: String, config: String?,
                consecutiveNonfinite: Int, skippedNonfinite: Int, optimizer: String, imagesSeen: Int,
                rankLoaders: [LoaderState]? = nil) {
        (self.step, self.loader, self.seed, self.modelHash, self.configHash, self.config) =
            (step, loader, seed, modelHash, configHash, config)
        (self.consecutiveNonfinite, self.skippedNonfinite, self.optimizer, self.imagesSeen, self.rankLoaders) =
            (consecutiveNonfinite, skippedNonfinite, optimizer, imagesSeen, rankLoaders)
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", step, loader, seed, modelHash = "model_hash", configHash = "config_hash", config
        case consecutiveNonfinite = "consecutive_nonfinite", skippedNonfinite = "skipped_nonfinite", optimizer
        case imagesSeen = "images_seen", rankLoaders = "rank_loaders", sourceSamples = "source_samples", layout, dealtFrom = "dealt_from"
    }
}

/// How a data-parallel job splits each global batch: what decides which rows each rank's loader
/// reads (`ranks`, `accumulation` and `batchSize` — see `RankShare`) and how a rank computes (`workers`).
public struct DataLayout: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Processes of the job (1 without MPI).
    public var ranks: Int
    /// `train.workers`: threads of each rank that compute slices of its rows.
    public var workers: Int
    /// `train.accumulation`: micro-batches per global batch.
    public var accumulation: Int
    /// `data.batch_size`: the global batch.
    public var batchSize: Int

    /// A layout of `ranks` × `workers` with `accumulation` micro-batches of a global batch of `batchSize`.
    public init(ranks: Int, workers: Int, accumulation: Int, batchSize: Int) {
        (self.ranks, self.workers, self.accumulation, self.batchSize) = (ranks, workers, accumulation, batchSize)
    }

    /// Whether loaders of `other` read other rows than loaders of this layout (a single process
    /// reads every position, whatever its batch size and micro-batches).
    public func readsOtherRows(than other: DataLayout) -> Bool {
        ranks != other.ranks || (ranks > 1 && (accumulation != other.accumulation || batchSize != other.batchSize))
    }

    /// "2 ranks × 1 worker", with the accumulation when there is one.
    public var description: String {
        "\(ranks) rank\(ranks == 1 ? "" : "s") × \(workers) worker\(workers == 1 ? "" : "s")"
            + (accumulation > 1 ? " (accumulation \(accumulation))" : "")
    }

    enum CodingKeys: String, CodingKey { case ranks, workers, accumulation, batchSize = "batch_size" }
}

/// A stable 64-bit FNV-1a hash, hex-encoded (for config fingerprints).
public func fingerprint(_ text: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return String(h, radix: 16)
}
