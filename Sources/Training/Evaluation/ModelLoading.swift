import Foundation
import Checkpointing

/// Loads a trained model from a checkpoint folder (its `model.safetensors` carries the model
/// config in its metadata) or from an OpenCLIP-format safetensors plus a model-config JSON.
public enum ModelLoading {
    /// The `model.safetensors` of a run folder (its latest checkpoint), a checkpoint folder, or the file itself.
    public static func weightsURL(_ path: String) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError("\(path): checkpoint not found")
        }
        var weights = URL(fileURLWithPath: path)
        if isDirectory.boolValue {
            let latest = weights.appendingPathComponent("checkpoints/latest")
            if let name = try? String(contentsOf: latest, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) {
                weights = weights.appendingPathComponent("checkpoints").appendingPathComponent(name)  // a run folder
            }
            weights = weights.appendingPathComponent("model.safetensors")
        }
        return weights
    }

    /// The model and the scoring its training objective calls for (from the file's metadata).
    public static func load(checkpoint: String, modelConfig: String? = nil) throws -> (model: CLIPModel, scoring: Scoring) {
        let weights = try weightsURL(checkpoint)
        let file = try SafeTensorsFile(contentsOf: weights)
        let config: ModelConfig
        if let path = modelConfig {
            config = try ModelConfig.load(URL(fileURLWithPath: path))
        } else if let json = file.metadata["model_config"] {
            do { config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)) } catch {
                throw ConfigError("\(weights.path): unreadable model_config metadata (\(error))")
            }
        } else {
            throw ConfigError("\(weights.path): no model_config in the file's metadata; pass --model-config JSON")
        }
        let model = CLIPModel(config)
        try model.load(try RunCheckpoints.readTensors(weights), source: weights.path)
        return (model, try Scoring(metadata: file.metadata, source: weights.path))
    }
}
