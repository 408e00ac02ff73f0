/// ALIGN's normalized-softmax loss (Jia et al., 2021, "Scaling Up Visual and Vision-Language
/// Representation Learning With Noisy Text Supervision"):
///
///     x = l2norm(image), y = l2norm(text), L = x yᵀ / σ   [B, B]
///     loss = CE_ε(L, arange) + CE_ε(Lᵀ, arange)          (a sum of both directions)
///
/// with label smoothing ε = 0.1 over the B classes of the global batch
/// (target `(1−ε)·onehot + ε/B`).
///
/// σ is a learnable *raw* temperature (a divisor, no `exp`), initialised to 1.0 and kept at or
/// above `minTemperature` = 0.01 after each step (a multiplier of at most 100, CLIP's cap), so it
/// never reaches 0 or changes sign.
/// It lives in the model's `logit_scale` parameter: for ALIGN, `ObjectiveScalars.logitScale` holds
/// σ itself, and `initialScalars.logitScale` (= `initialTemperature`) is what the trainer sets it
/// to. A checkpoint trained with ALIGN therefore stores σ under `logit_scale`, not ln(1/σ).
public struct ALIGNObjective: Objective {
    public var labelSmoothing: Float
    /// Initial σ.
    public var initialTemperature: Float
    /// The smallest σ `constrain` allows.
    public var minTemperature: Float = 0.01
    /// False when the features are already L2-normalized; gradients are then with respect to them.
    public var normalizesFeatures = true

    public init(labelSmoothing: Float = 0.1, initialTemperature: Float = 1.0) {
        ensure(initialTemperature > 0, "ALIGN's initial temperature must be positive, got \(initialTemperature)")
        (self.labelSmoothing, self.initialTemperature) = (labelSmoothing, initialTemperature)
    }

    public var needs: ObjectiveNeeds { ObjectiveNeeds() }
    public var initialScalars: InitialScalars { InitialScalars(logitScale: initialTemperature) }

    public func loss(_ f: Features, _ s: ObjectiveScalars) -> Variable {
        let x = normalized(f.image, normalizesFeatures), y = normalized(f.text, normalizesFeatures)
        let logits = x.matmul(y, transposeOther: true) / s.logitScale   // [B, B]
        return contrastiveLoss(logits, imageWeight: 1, textWeight: 1, labelSmoothing: labelSmoothing)
    }

    public func constrain(_ s: ObjectiveScalars) {
        s.logitScale.value = s.logitScale.value.clamped(min: minTemperature)
    }

    /// The similarities are divided by σ.
    public func logitMultiplier(_ logitScale: Float) -> Float { 1 / logitScale }
}

extension ALIGNObjective {
    /// `objective: {type: align}`: `label_smoothing`, `temperature_init` (σ itself).
    public struct Options: ObjectiveOptions {
        public static let type = "align"
        public var labelSmoothing: Float?
        public var temperatureInit: Float?
        public enum CodingKeys: String, CodingKey, CaseIterable { case labelSmoothing = "label_smoothing", temperatureInit = "temperature_init" }
        public init(labelSmoothing: Float? = nil, temperatureInit: Float? = nil) { (self.labelSmoothing, self.temperatureInit) = (labelSmoothing, temperatureInit) }

        public func makeObjective() throws -> any Objective {
            var o = ALIGNObjective()
            if let e = try checkedLabelSmoothing(.labelSmoothing, labelSmoothing) { o.labelSmoothing = e }
            if let sigma = try checkedPositive(.temperatureInit, temperatureInit) {
                let floor = o.minTemperature
                o.initialTemperature = try checked(.temperatureInit, sigma, "ALIGN's σ is kept at or above \(floor)") { $0 >= floor }!
            }
            return o
        }
    }
}
