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

/// What the towers see of a batch: images, token rows (the objective's caption sets), kept patches.
extension Trainer {
    /// Images and token rows of a batch, including the objective's extra caption sets.
    func towerInputs(_ batch: Batch) throws -> TowerInputs {
        let s = batch.imageSize
        let images = Tensor(shape: [batch.size, s, s, 3], scalars: batch.images)
        var sets = CaptionSets.make(for: objective, captions: batch.captions, longCaptions: batch.longCaptions,
                                    indices: batch.indices, epoch: batch.epoch, seed: config.run.seed)
        if config.data.captionSource == .longCaption && sets.main == nil {
            guard let long = batch.longCaptions else { throw ConfigError("data.caption_source: the training data has no /long_captions") }
            sets.main = long
        }
        let ctx = contextLength
        func tokens(_ captions: [String]) -> [Int32] { captions.flatMap { tokenizer.tokenize($0, contextLength: ctx) } }
        return TowerInputs(images: images, tokens: sets.main.map(tokens) ?? batch.tokens, extraTokens: sets.extra.map(tokens),
                           keptPatches: keptPatches(batch))
    }

    /// Patch dropout: each sample's kept patches, from a seed of (run seed, epoch, dataset index),
    /// so the choice is the same for any worker count and after resuming. [B, K] row-major; nil (every
    /// patch) in the last `model.unmasked_tuning_steps` steps.
    func keptPatches(_ batch: Batch) -> [Int]? {
        guard config.model.patchDropout > 0, let patches = model.visual.patchTokenCount,
              state.step < config.train.steps - config.model.unmaskedTuningSteps else { return nil }
        let dropout = PatchDropout(rate: config.model.patchDropout)
        return batch.indices.flatMap { index in
            dropout.keptPatches(of: patches, seed: RandomGenerator.derivedSeed(config.run.seed, domain: 5, UInt64(batch.epoch), UInt64(index)))
        }
    }
}
