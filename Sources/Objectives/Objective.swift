@_exported import Autograd
import Foundation

/// Features of one global batch, gathered from all data-parallel workers. The objective
/// normalizes them itself, so gradients flow through the normalization.
public struct Features {
    /// Pooled image features [B, E] (unnormalized).
    public var image: Variable
    /// Pooled text features [B, E] (unnormalized) of the main caption (the long caption for Long-CLIP).
    public var text: Variable
    /// Image patch-token features [B, N, E] (FILIP).
    public var imageTokens: Variable?
    /// Text token features [B, T, E] (FILIP).
    public var textTokens: Variable?
    /// [B, T]: 1 for tokens that count (FILIP), 0 for padding.
    public var textMask: Tensor?
    /// Further caption sets, each [B, E]: Long-CLIP's short captions, or multi-positive sub-captions.
    public var extraTexts: [Variable]

    public init(image: Variable, text: Variable, imageTokens: Variable? = nil, textTokens: Variable? = nil,
                textMask: Tensor? = nil, extraTexts: [Variable] = []) {
        (self.image, self.text, self.imageTokens, self.textTokens, self.textMask, self.extraTexts) =
            (image, text, imageTokens, textTokens, textMask, extraTexts)
    }

    public var batchSize: Int { image.shape[0] }
}

/// The learnable scalars an objective may use; they are model parameters (`logit_scale`,
/// `logit_bias`) so checkpoints stay OpenCLIP-compatible.
public struct ObjectiveScalars {
    public var logitScale: Variable
    public var logitBias: Variable?
    public init(logitScale: Variable, logitBias: Variable? = nil) { (self.logitScale, self.logitBias) = (logitScale, logitBias) }
}

/// What an objective needs from the model and the data loader.
public struct ObjectiveNeeds: Equatable, Sendable {
    /// Token-level features (FILIP).
    public var tokens = false
    /// Extra caption sets per sample: 1 for Long-CLIP (short caption), K for multi-positive.
    public var extraCaptionSets = 0
    public init(tokens: Bool = false, extraCaptionSets: Int = 0) { (self.tokens, self.extraCaptionSets) = (tokens, extraCaptionSets) }
}

/// The values an objective wants the model's `logit_scale` / `logit_bias` parameters to start
/// from. The trainer copies them into a freshly initialized model (not into a loaded checkpoint).
public struct InitialScalars: Equatable, Sendable {
    /// Initial raw `logit_scale`; what it means is the objective's (usually `t` with scale `exp(t)`).
    public var logitScale: Float
    /// Initial `logit_bias`, or nil when the objective uses no bias (the model then has none).
    public var logitBias: Float?
    public init(logitScale: Float, logitBias: Float? = nil) { (self.logitScale, self.logitBias) = (logitScale, logitBias) }

    /// CLIP's `logit_scale = ln(1/0.07)`, no bias.
    public static let clip = InitialScalars(logitScale: Foundation.log(1 / 0.07))
}

/// The raw texts of one batch, for an objective that builds its own caption sets.
public struct CaptionBatch {
    /// `/captions` of each sample.
    public var captions: [String]
    /// `/long_captions` of each sample, when the shards have them.
    public var longCaptions: [String]?
    /// Dataset index of each sample and the epoch: with `seed`, what sampled caption sets derive
    /// from, so that resuming reproduces them.
    public var indices: [Int]
    public var epoch: Int
    public var seed: UInt64
    /// The sentence splitter (`Tokenization.sentences(of:)`; Objectives sits below Tokenization).
    public var sentences: (String) -> [String]

    public init(captions: [String], longCaptions: [String]?, indices: [Int], epoch: Int, seed: UInt64,
                sentences: @escaping (String) -> [String]) {
        (self.captions, self.longCaptions, self.indices, self.epoch, self.seed, self.sentences) =
            (captions, longCaptions, indices, epoch, seed, sentences)
    }
}

/// The texts an objective trains on: the main caption of each sample (nil: the loader's tokens
/// of `/captions`) and `ObjectiveNeeds.extraCaptionSets` further sets, each one text per sample.
public struct CaptionSets: Equatable {
    public var main: [String]?
    public var extra: [[String]]
    public init(main: [String]? = nil, extra: [[String]] = []) { (self.main, self.extra) = (main, extra) }
}

/// A contrastive objective computed on the global batch.
///
/// Besides the loss, an objective says what it needs (`needs`, `captionSets`), how its model is
/// evaluated (`similarity`) and how its scalars start, are constrained and are shown
/// (`initialScalars`, `constrain`, `logitMultiplier`); the trainer asks, never checks the type.
public protocol Objective: Sendable {
    var needs: ObjectiveNeeds { get }
    /// The texts of a batch to train on (default: the loader's captions, no extra sets).
    func captionSets(_ batch: CaptionBatch) -> CaptionSets
    /// How evaluation scores with a model trained with this objective (default: `.embedding`).
    var similarity: Similarity { get }
    /// Initial values for the model's `logit_scale` (and `logit_bias`).
    var initialScalars: InitialScalars { get }
    /// The scalar loss; back-propagating it yields the gradients of the features and scalars.
    func loss(_ features: Features, _ scalars: ObjectiveScalars) -> Variable
    /// Applied to the scalars after each optimizer step (e.g. CLIP's clamp of the logit scale).
    func constrain(_ scalars: ObjectiveScalars)
    /// The factor the similarities are multiplied by, given the raw `logit_scale` parameter
    /// (what metrics and the report show): exp(t) for CLIP-style objectives, 1/σ for ALIGN.
    func logitMultiplier(_ logitScale: Float) -> Float
}

extension Objective {
    public func captionSets(_ batch: CaptionBatch) -> CaptionSets { CaptionSets() }
    public var similarity: Similarity { .embedding }
    public func constrain(_ scalars: ObjectiveScalars) {}
    public var initialScalars: InitialScalars { .clip }
    public func logitMultiplier(_ logitScale: Float) -> Float { Foundation.exp(logitScale) }
}

/// Symmetric cross-entropy over a similarity matrix `logits` [B, B] whose diagonal holds the
/// positives: `wI·CE(logits) + wT·CE(logitsᵀ)`, with label smoothing ε.
public func contrastiveLoss(_ logits: Variable, imageWeight: Float = 0.5, textWeight: Float = 0.5,
                            labelSmoothing: Float = 0) -> Variable {
    let targets = Array(0..<logits.shape[0])
    let li = logits.crossEntropy(targets: targets, labelSmoothing: labelSmoothing)
    let lt = logits.transposed().crossEntropy(targets: targets, labelSmoothing: labelSmoothing)
    return li * imageWeight + lt * textWeight
}

/// `l2norm(v)` along the last axis, or `v` itself when `normalize` is false (features that are
/// already unit vectors, as in the reference fixtures).
@inline(__always)
func normalized(_ v: Variable, _ normalize: Bool) -> Variable { normalize ? v.l2Normalized() : v }

/// CLIP's symmetric loss on already-normalized features:
/// `½[CE_ε(s·x yᵀ) + CE_ε(s·y xᵀ)]` with `s = exp(t)`.
/// - Parameters: x [B, D], y [B, D], logitScale `t` [] (0-d).
func clipLoss(_ x: Variable, _ y: Variable, logitScale: Variable, labelSmoothing: Float) -> Variable {
    let logits = x.matmul(y, transposeOther: true) * logitScale.exp()   // [B, B]
    return contrastiveLoss(logits, labelSmoothing: labelSmoothing)
}
