import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// Why a training step was skipped as non-finite, with the advice that fits the cause.
enum NonfiniteCause: Equatable, CustomStringConvertible {
    /// The loss of the forward pass.
    case loss
    /// The gradient of the named parameter.
    case gradient(String)
    /// The named parameter (or its optimizer moment) after the optimizer's update.
    case parameter(String, optimizer: String)

    /// `loss`, `gradient` or `parameter` (the `nonfinite` field of `metrics.jsonl`).
    var kind: String {
        switch self {
        case .loss: "loss"
        case .gradient: "gradient"
        case .parameter: "parameter"
        }
    }

    var description: String {
        switch self {
        case .loss: "non-finite loss"
        case .gradient(let name): "non-finite gradient of \(name)"
        case .parameter(let name, let optimizer): "non-finite parameter \(name) after the \(optimizer) update"
        }
    }

    var advice: String {
        switch self {
        case .loss:
            "the forward pass overflows: check model.init's weights and the objective's options (objective.temperature_init), or lower optimizer.lr if the loss grew before"
        case .gradient:
            "lower optimizer.lr or set train.grad_clip_norm"
        case .parameter:
            "the update itself overflows: lower optimizer.lr (or raise optimizer.eps)"
        }
    }
}
