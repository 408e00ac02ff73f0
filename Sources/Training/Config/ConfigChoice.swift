import Foundation
import NeuralNet
import TensorCore
import Autograd
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// A config value spelled as one of a fixed set of strings (the YAML/JSON spellings are the user
/// contract, docs/DESIGN.md). Decoding another string is a one-line error naming the key and the
/// allowed values (`decodeChoice`); encoding writes the spelling.
protocol ConfigChoice: ModelConfigChoice {}

extension ConfigChoice {
    /// The choice spelled `text`, or `key.path: expected …, got text`.
    static func spelled(_ text: String, at path: [any CodingKey]) throws -> Self {
        guard let value = Self(rawValue: text) else {
            throw ConfigError("\(path.map(\.stringValue).joined(separator: ".")): expected \(spellings), got \(text)")
        }
        return value
    }
}

extension KeyedDecodingContainer {
    /// The choice at `key`, nil when absent (null is an error, as in `decodeUnlessNull`).
    func decodeChoice<T: ConfigChoice>(_ type: T.Type, forKey key: Key) throws -> T? {
        try decodeUnlessNull(String.self, forKey: key).map { try T.spelled($0, at: codingPath + [key]) }
    }

    /// A list of choices at `key`, nil when absent.
    func decodeChoices<T: ConfigChoice>(_ type: T.Type, forKey key: Key) throws -> [T]? {
        try decodeUnlessNull([String].self, forKey: key).map { try $0.map { try T.spelled($0, at: codingPath + [key]) } }
    }
}

/// `optimizer.type`.
public enum OptimizerKind: String, ConfigChoice { case adamw, sgd }

/// `schedule.type`.
public enum ScheduleKind: String, ConfigChoice { case cosine, constant, constCooldown = "const-cooldown" }

/// `data.caption_source`: which text is the main caption.
public enum CaptionSource: String, ConfigChoice {
    /// `/captions`.
    case caption
    /// `/long_captions`.
    case longCaption = "long_caption"
}

/// An entry of `model.freeze`.
public enum FrozenTower: String, ConfigChoice { case visual, text }

/// A GEMM precision spelled in configs (`fp32`, `bf16`).
extension MatmulPrecision: ConfigChoice {}

/// `train.precision`: the towers' GEMM precision — `fp32`, `bf16`, or `auto`: bf16 where this CPU
/// runs bf16 GEMMs natively (AVX512-BF16 or AMX, `BF16Engine`), fp32 elsewhere (where bf16 would be
/// bf16's numerics at fp32's speed).
public enum PrecisionChoice: String, ConfigChoice {
    case auto, fp32, bf16

    /// The precision on a CPU whose bf16 GEMMs are native (`nativeBF16`) or not.
    public func resolved(nativeBF16: Bool) -> MatmulPrecision {
        switch self {
        case .fp32: .fp32
        case .bf16: .bf16
        case .auto: nativeBF16 ? .bf16 : .fp32
        }
    }
}

/// `train.gradient_sync`: when gradients are summed over ranks — during the backward pass
/// (`overlap`, as PyTorch's DDP), after it (`after_backward`), or `auto`. Never changes a result.
public enum GradientSyncChoice: String, ConfigChoice {
    case auto, overlap, afterBackward = "after_backward"

    /// The schedule for this rank: `auto` overlaps when the job spans several machines (the sum then
    /// waits on the network, not on this machine's cores) or when this machine has cores that the
    /// ranks' workers leave idle; on one machine whose cores all run workers, the communication
    /// thread would only take time from them.
    public func resolved(for communicator: any Communicator, workers: Int,
                         cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> DataParallelStep.GradientSync {
        switch self {
        case .overlap: return .overlapped
        case .afterBackward: return .afterBackward
        case .auto:
            let spansMachines = communicator.localSize < communicator.worldSize
            let idleCores = communicator.localSize * workers < cores
            return communicator.worldSize > 1 && (spansMachines || idleCores) ? .overlapped : .afterBackward
        }
    }
}
