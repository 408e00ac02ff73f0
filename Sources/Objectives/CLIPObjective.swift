import Foundation

/// CLIP's symmetric InfoNCE (Radford et al., 2021, "Learning Transferable Visual Models From
/// Natural Language Supervision"):
///
///     x = l2norm(image), y = l2norm(text), L = exp(t) · x yᵀ   [B, B]
///     loss = ½ [CE(L, arange) + CE(Lᵀ, arange)]
///
/// `t` is the model's `logit_scale` (init ln(1/0.07)), clamped to [0, ln 100] after each step.
public struct CLIPObjective: Objective {
    public var labelSmoothing: Float
    public var maxLogitScale: Float
    /// False when the features are already L2-normalized; gradients are then with respect to them.
    public var normalizesFeatures = true
    /// Initial `logit_scale` t (CLIP: ln(1/0.07)).
    public var initialLogitScale: Float = Foundation.log(1 / 0.07)

    public init(labelSmoothing: Float = 0, maxLogitScale: Float = Foundation.log(100)) {
        (self.labelSmoothing, self.maxLogitScale) = (labelSmoothing, maxLogitScale)
    }

    public var initialScalars: InitialScalars { InitialScalars(logitScale: initialLogitScale) }

    public var needs: ObjectiveNeeds { ObjectiveNeeds() }

    public func loss(_ f: Features, _ s: ObjectiveScalars) -> Variable {
        clipLoss(normalized(f.image, normalizesFeatures), normalized(f.text, normalizesFeatures),
                 logitScale: s.logitScale, labelSmoothing: labelSmoothing)
    }

    public func constrain(_ s: ObjectiveScalars) {
        s.logitScale.value = s.logitScale.value.clamped(min: 0, max: maxLogitScale)
    }
}

extension CLIPObjective {
    /// `objective: {type: clip}`: `label_smoothing`, `temperature_init` (τ, logit_scale = ln(1/τ)).
    public struct Options: ObjectiveOptions {
        public static let type = "clip"
        public static let readsCLIPScalars = true
        public var labelSmoothing: Float?
        public var temperatureInit: Float?
        public enum CodingKeys: String, CodingKey, CaseIterable { case labelSmoothing = "label_smoothing", temperatureInit = "temperature_init" }
        public init(labelSmoothing: Float? = nil, temperatureInit: Float? = nil) { (self.labelSmoothing, self.temperatureInit) = (labelSmoothing, temperatureInit) }

        public func makeObjective() throws -> any Objective {
            var o = CLIPObjective()
            if let e = try checkedLabelSmoothing(.labelSmoothing, labelSmoothing) { o.labelSmoothing = e }
            if let t = try logitScale(temperature: .temperatureInit, temperatureInit) { o.initialLogitScale = t }
            return o
        }
    }
}
