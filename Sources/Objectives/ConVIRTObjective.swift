import Foundation

/// ConVIRT's asymmetric InfoNCE (Zhang et al., 2020, "Contrastive Learning of Medical Visual
/// Representations from Paired Images and Text"):
///
///     x = l2norm(image), y = l2norm(text), L = x yᵀ / τ   [B, B]
///     loss = λ·CE(L, arange) + (1 − λ)·CE(Lᵀ, arange)
///
/// λ = 0.75 weights the image→text term (each image over all texts); τ = 0.1 is fixed.
/// No learnable scalar: the model's `logit_scale` is unused (the trainer sets it to ln(1/τ) so a
/// checkpoint still records the temperature it was trained with).
public struct ConVIRTObjective: Objective {
    /// Weight λ of the image→text term; the text→image term gets 1 − λ.
    public var lambda: Float
    /// Fixed temperature τ.
    public var temperature: Float
    /// False when the features are already L2-normalized; gradients are then with respect to them.
    public var normalizesFeatures = true

    public init(lambda: Float = 0.75, temperature: Float = 0.1) {
        ensure((0...1).contains(lambda), "ConVIRT's lambda must lie in [0, 1], got \(lambda)")
        ensure(temperature > 0, "ConVIRT's temperature must be positive, got \(temperature)")
        (self.lambda, self.temperature) = (lambda, temperature)
    }

    public var needs: ObjectiveNeeds { ObjectiveNeeds() }
    public var initialScalars: InitialScalars { InitialScalars(logitScale: Foundation.log(1 / temperature)) }

    public func loss(_ f: Features, _ s: ObjectiveScalars) -> Variable {
        let x = normalized(f.image, normalizesFeatures), y = normalized(f.text, normalizesFeatures)
        let logits = x.matmul(y, transposeOther: true) * (1 / temperature)   // [B, B]
        return contrastiveLoss(logits, imageWeight: lambda, textWeight: 1 - lambda)
    }

    /// The fixed 1/τ (the model's `logit_scale` is unused).
    public func logitMultiplier(_ logitScale: Float) -> Float { 1 / temperature }
}

extension ConVIRTObjective {
    /// `objective: {type: convirt}`: `lambda`, `tau`.
    public struct Options: ObjectiveOptions {
        public static let type = "convirt"
        public var lambda: Float?
        public var tau: Float?
        public enum CodingKeys: String, CodingKey, CaseIterable { case lambda, tau }
        public init(lambda: Float? = nil, tau: Float? = nil) { (self.lambda, self.tau) = (lambda, tau) }

        public func makeObjective() throws -> any Objective {
            var o = ConVIRTObjective()
            if let l = try checked(.lambda, lambda, "must be in [0, 1]", { $0 >= 0 && $0 <= 1 }) { o.lambda = l }
            if let t = try checkedPositive(.tau, tau) { o.temperature = t }
            return o
        }
    }
}
