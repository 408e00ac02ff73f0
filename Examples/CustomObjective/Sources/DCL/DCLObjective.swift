import Foundation
import SwiftCLIP

/// Decoupled contrastive loss (Yeh et al., "Decoupled Contrastive Learning", ECCV 2022): CLIP's
/// InfoNCE without the positive pair in the denominator, which removes the negative-positive
/// coupling that makes InfoNCE need large batches:
///
///     L = ½ · mean_i [ −s·⟨x_i, y_i⟩ + log Σ_{j≠i} exp(s·⟨x_i, y_j⟩) ]      (image → text)
///       + ½ · mean_i [ −s·⟨y_i, x_i⟩ + log Σ_{j≠i} exp(s·⟨y_i, x_j⟩) ]      (text → image)
///
/// with x, y the L2-normalized image and text embeddings and s = exp(logit_scale) as in CLIP.
public struct DCLObjective: Objective {
    public var needs: ObjectiveNeeds { ObjectiveNeeds() }
    public var initialScalars: InitialScalars
    /// CLIP's clamp: s ≤ 100.
    public var maxLogitScale = Foundation.log(Float(100))

    public init(temperature: Float = 0.07) { initialScalars = InitialScalars(logitScale: Foundation.log(1 / temperature)) }

    public func loss(_ features: Features, _ scalars: ObjectiveScalars) -> Variable {
        let x = features.image.l2Normalized(), y = features.text.l2Normalized()
        let logits = x.matmul(y, transposeOther: true) * scalars.logitScale.exp()   // [B, B]
        let b = logits.shape[0]
        let identity = Tensor.zeros([b, b]), offDiagonal = Tensor.zeros([b, b])
        for i in 0..<b { identity.pointer[i * b + i] = 1; offDiagonal.pointer[i * b + i] = -1e4 }
        let positives = (logits * Variable(identity))   // only the diagonal stays
        let masked = logits + Variable(offDiagonal)      // exp(−1e4) = 0: the positive leaves the denominator
        let imageToText = (masked.logSumExp(axis: 1) - positives.sum(axis: 1)).mean()
        let textToImage = (masked.logSumExp(axis: 0) - positives.sum(axis: 0)).mean()
        return (imageToText + textToImage) * 0.5
    }

    public func constrain(_ scalars: ObjectiveScalars) {
        if scalars.logitScale.value.scalar > maxLogitScale { scalars.logitScale.value = Tensor(maxLogitScale) }
    }

    /// `objective: {type: dcl, temperature_init: 0.07}`.
    public struct Options: ObjectiveOptions {
        public static let type = "dcl"
        public static let readsCLIPScalars = true   // s = exp(logit_scale), no bias: CLIP checkpoints fine-tune
        public var temperatureInit: Float?
        public enum CodingKeys: String, CodingKey, CaseIterable { case temperatureInit = "temperature_init" }
        public init(temperatureInit: Float? = nil) { self.temperatureInit = temperatureInit }

        public func makeObjective() throws -> any Objective {
            _ = try checkedPositive(.temperatureInit, temperatureInit)
            return DCLObjective(temperature: temperatureInit ?? 0.07)
        }
    }

    /// Makes `objective.type: dcl` known to SwiftCLIP's configs (once per process).
    public static func register() {
        if ObjectiveRegistry.kind(named: Options.type) == nil { try? ObjectiveRegistry.register(Options.self) }
    }
}
