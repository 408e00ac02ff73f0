import Foundation

/// Multi-positive contrastive loss in the style of DreamLIP (Zheng et al., 2024, "DreamLIP:
/// Language-Image Pre-training with Long Captions"): each image has K sub-captions sampled from
/// its long caption plus the caption itself, and
///
///     loss = 1/(K+1) · Σ_{k=0}^{K} CLIP_ε(x, y_k),   CLIP_ε = ½[CE_ε(s x y_kᵀ) + CE_ε(s y_k xᵀ)]
///
/// with x = l2norm(image), y_0 = l2norm(`Features.text`), y_k = l2norm(`Features.extraTexts[k−1]`),
/// s = exp(t) (the model's `logit_scale`, clamped like CLIP). The data loader fills the K extra
/// caption sets with `sampleSubCaptions`.
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

    /// `k` sub-captions of `caption`, drawn deterministically from `rng`.
    ///
    /// Sentences end at a run of `.`, `!` or `?` followed by whitespace or the end of the text
    /// (so "3.5" and "e.g.x" stay whole; abbreviations such as "Dr. " do split). Each sentence
    /// keeps its punctuation and is trimmed; empty ones are dropped. With at least `k` sentences,
    /// `k` distinct ones are drawn without replacement (in draw order); with fewer, `k` are drawn
    /// with replacement. A caption with no sentence gives `k` copies of the trimmed caption.
    public static func sampleSubCaptions(_ caption: String, k: Int, using rng: inout RandomGenerator) -> [String] {
        ensure(k >= 0, "sampleSubCaptions needs k ≥ 0, got \(k)")
        let sentences = splitSentences(caption)
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

    /// Splits text into trimmed, non-empty sentences (see `sampleSubCaptions`).
    public static func splitSentences(_ text: String) -> [String] {
        var sentences: [String] = []
        var current = ""
        let chars = Array(text)
        var i = 0
        func flush() {
            let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !s.isEmpty { sentences.append(s) }
            current = ""
        }
        while i < chars.count {
            let c = chars[i]
            current.append(c)
            i += 1
            if ".!?".contains(c) {
                while i < chars.count, ".!?".contains(chars[i]) { current.append(chars[i]); i += 1 }
                if i == chars.count || chars[i].isWhitespace { flush() }
            }
        }
        flush()
        return sentences
    }
}
