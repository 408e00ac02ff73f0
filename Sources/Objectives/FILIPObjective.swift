import Foundation

/// FILIP's fine-grained contrastive loss (Yao et al., 2021, "FILIP: Fine-grained Interactive
/// Language-Image Pre-Training"):
///
///     X_i = l2norm per token of image tokens [n1, d], Y_j = l2norm per token of text tokens [n2, d]
///     s^I_ij = (1/n1) Σ_k max_{r ∈ V_j} ⟨X_ik, Y_jr⟩,  s^T_ij = (1/|V_j|) Σ_{r ∈ V_j} max_k ⟨X_ik, Y_jr⟩
///     loss = ½ [CE(s · s^I, arange) + CE(s · (s^T)ᵀ, arange)],   s = exp(t)
///
/// The first term is, for each image i, a softmax over texts j (rows of s^I); the second, for
/// each text j, a softmax over images i (rows of (s^T)ᵀ, i.e. columns of s^T) — the axis that
/// x-clip's reimplementation gets wrong. `t` is the model's `logit_scale` (init ln(1/0.07),
/// clamped to [0, ln 100] after each step, as CLIP).
///
/// V_j are the valid text tokens of `Features.textMask` (1 for SOT … EOT, 0 for padding), which
/// must be one contiguous run per text. With `includeSpecialTokens == false` SOT (position 0) and
/// EOT (the last valid position) are dropped, unless that would leave no token. Image tokens are
/// the patch tokens the model returns (no class token), all valid.
/// The similarities come from `FILIPKernel` (blocked, argmax-only memory).
public struct FILIPObjective: Objective {
    public var includeSpecialTokens: Bool
    /// Images and texts per block of the similarity kernel.
    public var blockSize: Int
    public var initialLogitScale: Float = Foundation.log(1 / 0.07)
    public var maxLogitScale: Float = Foundation.log(100)
    /// False when the tokens are already L2-normalized; gradients are then with respect to them.
    public var normalizesFeatures = true

    public init(includeSpecialTokens: Bool = true, blockSize: Int = 16) {
        ensure(blockSize >= 1, "FILIP's block size must be at least 1, got \(blockSize)")
        (self.includeSpecialTokens, self.blockSize) = (includeSpecialTokens, blockSize)
    }

    public var needs: ObjectiveNeeds { ObjectiveNeeds(tokens: true) }
    public var similarity: Similarity { .tokenwise(includeSpecialTokens: includeSpecialTokens) }
    public var initialScalars: InitialScalars { InitialScalars(logitScale: initialLogitScale) }

    public func loss(_ f: Features, _ s: ObjectiveScalars) -> Variable {
        guard let imageTokens = f.imageTokens, let textTokens = f.textTokens, let mask = f.textMask else {
            fatalError("FILIP needs imageTokens, textTokens and textMask in Features (needs.tokens)")
        }
        let b = imageTokens.shape[0]
        let x = normalized(imageTokens, normalizesFeatures), y = normalized(textTokens, normalizesFeatures)
        let valid = FILIPObjective.validTokens(mask: mask, includeSpecialTokens: includeSpecialTokens)
        let sims = x.filipSimilarities(y, validTokens: valid, blockSize: blockSize)   // [2, B, B]
        let scale = s.logitScale.exp()
        let imageToText = sims.slice(axis: 0, 0..<1).reshaped([b, b]) * scale             // [image, text]
        let textToImage = sims.slice(axis: 0, 1..<2).reshaped([b, b]).transposed() * scale // [text, image]
        let targets = Array(0..<b)
        return (imageToText.crossEntropy(targets: targets) + textToImage.crossEntropy(targets: targets)) * 0.5
    }

    public func constrain(_ s: ObjectiveScalars) {
        s.logitScale.value = s.logitScale.value.clamped(min: 0, max: maxLogitScale)
    }

    /// The valid token range of each text from a mask [B, T] (1 valid, 0 padding; one contiguous
    /// run per row), without SOT and EOT when `includeSpecialTokens` is false.
    public static func validTokens(mask: Tensor, includeSpecialTokens: Bool) -> [Range<Int>] {
        ensure(mask.rank == 2, "FILIP's text mask must be [B, T], got \(mask.shape)")
        let (b, t) = (mask.shape[0], mask.shape[1])
        return (0..<b).map { j in
            let row = mask.pointer + j * t
            guard let lo = (0..<t).first(where: { row[$0] != 0 }) else {
                fatalError("FILIP: text \(j) has no valid token in its mask")
            }
            var hi = lo
            while hi < t && row[hi] != 0 { hi += 1 }
            ensure((hi..<t).allSatisfy { row[$0] == 0 },
                         "FILIP: the valid tokens of text \(j) must be one contiguous run in the mask")
            return trimmed(lo..<hi, includeSpecialTokens: includeSpecialTokens)
        }
    }

    /// The valid token range of each text from its EOT position (tokens 0 ... end), without SOT
    /// and EOT when `includeSpecialTokens` is false.
    public static func validTokens(ends: [Int], includeSpecialTokens: Bool) -> [Range<Int>] {
        ends.map { trimmed(0..<($0 + 1), includeSpecialTokens: includeSpecialTokens) }
    }

    /// `run` without its first (SOT) and last (EOT) token, unless that leaves none.
    static func trimmed(_ run: Range<Int>, includeSpecialTokens: Bool) -> Range<Int> {
        if includeSpecialTokens { return run }
        let first = run.lowerBound == 0 ? 1 : run.lowerBound, end = run.upperBound - 1
        return first < end ? first..<end : run
    }
}

extension FILIPObjective {
    /// `objective: {type: filip}`: `include_special_tokens`, `block_size`, `temperature_init`.
    public struct Options: ObjectiveOptions {
        public static let type = "filip"
        public static let readsCLIPScalars = true
        public var temperatureInit: Float?
        public var blockSize: Int?
        public var includeSpecialTokens: Bool?
        public enum CodingKeys: String, CodingKey, CaseIterable {
            case temperatureInit = "temperature_init", blockSize = "block_size", includeSpecialTokens = "include_special_tokens"
        }
        public init(includeSpecialTokens: Bool? = nil, blockSize: Int? = nil, temperatureInit: Float? = nil) {
            (self.includeSpecialTokens, self.blockSize, self.temperatureInit) = (includeSpecialTokens, blockSize, temperatureInit)
        }

        public func makeObjective() throws -> any Objective {
            var o = FILIPObjective()
            if let t = try logitScale(temperature: .temperatureInit, temperatureInit) { o.initialLogitScale = t }
            if let b = try checkedAtLeastOne(.blockSize, blockSize) { o.blockSize = b }
            if let s = includeSpecialTokens { o.includeSpecialTokens = s }
            return o
        }

        /// `--scoring filip` / `filip-content`: FILIP's names for its token-wise similarity.
        public static var similarityAliases: [String: Similarity] {
            ["filip": .tokenwise(includeSpecialTokens: true), "filip-content": .tokenwise(includeSpecialTokens: false)]
        }

        /// Checkpoints written before `Similarity.metadataKey` existed recorded FILIP's option as
        /// `filip_include_special_tokens`.
        public static func legacySimilarity(metadata: [String: String], source: String) throws -> Similarity? {
            switch metadata["filip_include_special_tokens"] ?? "true" {
            case "true": return .tokenwise(includeSpecialTokens: true)
            case "false": return .tokenwise(includeSpecialTokens: false)
            case let other: throw ObjectiveConfigError("\(source): metadata filip_include_special_tokens is '\(other)', expected true or false")
            }
        }
    }
}
