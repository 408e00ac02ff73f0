import Foundation
import Checkpointing

/// Loads a trained model for `evaluate` and `embed` from any checkpoint path (a run folder, its
/// `checkpoints` folder or `latest`, a checkpoint folder, a `model.safetensors`), read and verified
/// by `RunCheckpoints.readWeights`. The model config comes from the file's metadata, or from
/// `modelConfig` (a model-config JSON, e.g. for OpenCLIP weights).
public enum ModelLoading {
    /// The model and the scoring its training objective calls for (from the file's metadata).
    /// - Parameter log: where skipped damaged checkpoints are reported (standard error by default).
    public static func load(checkpoint: String, modelConfig: String? = nil,
                            log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        throws -> (model: CLIPModel, scoring: Scoring) {
        let (tensors, file) = try RunCheckpoints.readWeights(checkpoint, log: log)
        let config: ModelConfig
        if let path = modelConfig {
            config = try ModelConfig.resolve(path)
        } else if let json = file.metadata["model_config"] {
            do { config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)) } catch {
                throw ConfigError("\(file.path): unreadable model_config metadata (\(error))")
            }
        } else {
            throw ConfigError("\(file.path): no model_config in the file's metadata; pass --model-config JSON")
        }
        let model = CLIPModel(config)
        try model.load(tensors, source: file.path)
        return (model, try Scoring(metadata: file.metadata, source: file.path))
    }
}
