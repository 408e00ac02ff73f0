import Foundation

/// Multi-positive contrastive loss in the style of DreamLIP (Zheng et al., 2024, "DreamLIP:
/// Language-Image Pre-training with Long Captions"): each image has K sub-captions sampled from
/// its long caption plus the caption itself, and
///
///     loss = 1/(K+1) · Σ_{k=0}^{K} CLIP_ε(x, y_k),   CLIP_ε = ½[CE_ε(s x y_kᵀ) + CE_ε(s y_k xᵀ)]
///
/// with x = l2norm(image), y_0 = l2norm(`Features.text`), y_k = l2norm(`Features.extraTexts[k−1]`),
/// s = exp(t) (the model's `logit_scale`, clamped like CLIP). The data loader fills the K extra
/// caption sets with `captionSets` (`sampleSubCaptions`).
public struct MultiPositiveObjective: Objective {
    /// Number of sub-captions K per image (the main caption comes on top).
    public var k: Int
    public var labelSmoothing: Float
    public var initialLogitScale: Float = Foundation.log(1 / 0.07)
    public var maxLogitScale: Float = Foundation.log(100)
    /// False when the features are already L2-normalized; gradients are then with respect to them.
    public var normalizesFeatures = true

    public init(k: Int = 3, labelSmoothing: Float = 0) {
        ensure(k >= 1, "multi-positive needs at least one sub-caption, got k = \(k)")
        (self.k, self.labelSmoothing) = (k, labelSmoothing)
    }

    public var needs: ObjectiveNeeds { ObjectiveNeeds(extraCaptionSets: k) }
    public var initialScalars: InitialScalars { InitialScalars(logitScale: initialLogitScale) }

    public func loss(_ f: Features, _ s: ObjectiveScalars) -> Variable {
        ensure(f.extraTexts.count == k, "multi-positive with k = \(k) needs \(k) sub-caption sets, got \(f.extraTexts.count)")
        let x = normalized(f.image, normalizesFeatures)
        let losses = ([f.text] + f.extraTexts).map {
            clipLoss(x, normalized($0, normalizesFeatures), logitScale: s.logitScale, labelSmoothing: labelSmoothing)
        }
        return losses.dropFirst().reduce(losses[0], +) * (1 / Float(k + 1))
    }

    public func constrain(_ s: ObjectiveScalars) {
        s.logitScale.value = s.logitScale.value.clamped(min: 0, max: maxLogitScale)
    }

    /// K extra sets of sub-captions sampled from each long caption (or caption), deterministic
    /// given (seed, epoch, sample index), so resuming reproduces them.
    public func captionSets(_ batch: CaptionBatch) -> CaptionSets {
        var sets = Array(repeating: [String](), count: k)
        for (i, caption) in (batch.longCaptions ?? batch.captions).enumerated() {
            var rng = RandomGenerator(seed: batch.seed &+ 0x5DEE_CE66_D).split(UInt64(batch.epoch) << 32 | UInt64(batch.indices[i]))
            let subs = MultiPositiveObjective.sampleSubCaptions(caption, sentences: batch.sentences(caption), k: k, using: &rng)
            for j in 0..<k { sets[j].append(subs[j]) }
        }
        return CaptionSets(extra: sets)
    }

    /// `k` sub-captions of `caption`, whose sentences are `sentences` (`Tokenization.sentences(of:)`:
    /// trimmed, non-empty, each keeping its end mark), drawn deterministically from `rng`.
    ///
    /// With at least `k` sentences, `k` distinct ones are drawn without replacement (in draw
    /// order); with fewer, `k` are drawn with replacement. A caption with no sentence gives `k`
    /// copies of the trimmed caption.
    public static func sampleSubCaptions(_ caption: String, sentences: [String], k: Int,
                                         using rng: inout RandomGenerator) -> [String] {
        ensure(k >= 0, "sampleSubCaptions needs k ≥ 0, got \(k)")
        if sentences.isEmpty { return Array(repeating: caption.trimmingCharacters(in: .whitespacesAndNewlines), count: k) }
        if sentences.count >= k {
            var pool = sentences
            var picked: [String] = []
            for i in 0..<k {   // partial Fisher–Yates
                let j = Int.random(in: i..<pool.count, using: &rng)
                pool.swapAt(i, j)
                picked.append(pool[i])
            }
            return picked
        }
        return (0..<k).map { _ in sentences[Int.random(in: 0..<sentences.count, using: &rng)] }
    }
}

extension MultiPositiveObjective {
    /// `objective: {type: multipos}`: `k`, `label_smoothing`, `temperature_init`.
    public struct Options: ObjectiveOptions {
        public static let type = "multipos"
        public static let readsCLIPScalars = true
        public var labelSmoothing: Float?
        public var temperatureInit: Float?
        public var k: Int?
        public enum CodingKeys: String, CodingKey, CaseIterable { case labelSmoothing = "label_smoothing", temperatureInit = "temperature_init", k }
        public init(k: Int? = nil, labelSmoothing: Float? = nil, temperatureInit: Float? = nil) {
            (self.k, self.labelSmoothing, self.temperatureInit) = (k, labelSmoothing, temperatureInit)
        }

        public func makeObjective() throws -> any Objective {
            var o = MultiPositiveObjective()
            if let e = try checkedLabelSmoothing(.labelSmoothing, labelSmoothing) { o.labelSmoothing = e }
            if let t = try logitScale(temperature: .temperatureInit, temperatureInit) { o.initialLogitScale = t }
            if let k = try checkedAtLeastOne(.k, k) { o.k = k }
            return o
        }
    }
}
