import Foundation
import Checkpointing
import DataPipeline
import TensorCore
import NeuralNet
import Objectives
import Optimization

/// Loads a trained model for `evaluate` and `embed` from any checkpoint path (a run folder, its
/// `checkpoints` folder or `latest`, a checkpoint folder, a `model.safetensors`, an OpenCLIP hub
/// folder), read and verified by `RunCheckpoints.readWeights`. The model config comes from
/// `modelConfig` (a model-config JSON or a built-in name) when given, else from the file's
/// metadata (SwiftCLIP checkpoints) or the hub folder's `open_clip_config.json`.
public enum ModelLoading {
    /// The model, the scoring its training objective calls for (from the file's metadata), and its
    /// evaluation image transform (a hub folder's `preprocess_cfg`; otherwise what SwiftCLIP
    /// trains with: OpenAI mean/std, bicubic, shortest side and center crop).
    /// - Parameter log: where skipped damaged checkpoints are reported (standard error by default).
    public static func load(checkpoint: String, modelConfig: String? = nil,
                            log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        throws -> (model: CLIPModel, scoring: Similarity, preprocess: Augmentation) {
        let (tensors, file, hubConfigURL) = try RunCheckpoints.readWeights(checkpoint, log: log)
        let hub = try hubConfigURL.map { try OpenCLIPHubConfig(contentsOf: $0) }
        let config: ModelConfig
        if let path = modelConfig {
            config = try ModelConfig.resolve(path)
        } else if let hub {
            config = hub.modelCfg
        } else if let json = file.metadata["model_config"] {
            do { config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)) } catch {
                throw RunError("\(file.path): unreadable model_config metadata (\(error))")
            }
        } else {
            throw ConfigError("\(file.path): no model_config in the file's metadata; pass --model-config JSON")
        }
        let model = CLIPModel(config)
        try model.load(tensors, source: file.path)
        var preprocess = Augmentation.none
        if let hub, let url = hubConfigURL {
            do { preprocess = try hub.preprocessCfg.evaluationTransform() } catch {
                throw RunError("\(url.path): \(error)")
            }
        }
        return (model, try Similarity(checkpointMetadata: file.metadata, source: file.path), preprocess)
    }
}
