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
        case imagesSeen = "images_seen", rankLoaders = "rank_loaders", sourceSamples = "source_samples"
    }
}

/// A stable 64-bit FNV-1a hash, hex-encoded (for config fingerprints).
public func fingerprint(_ text: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return String(h, radix: 16)
}
