import Foundation
import Checkpointing
import DataPipeline
import TensorCore
import NeuralNet
import Objectives
import Optimization

/// An OpenCLIP hub folder's `open_clip_config.json` — what `open_clip.push_to_hf_hub` uploads and
/// `create_model_and_transforms("hf-hub:…" | "local-dir:…")` reads:
/// `{"model_cfg": MODEL-CONFIG, "preprocess_cfg": {"mean", "std", "interpolation", "resize_mode", …}}`.
public struct OpenCLIPHubConfig: Codable {
    public var modelCfg: ModelConfig
    public var preprocessCfg: PreprocessConfig

    enum CodingKeys: String, CodingKey { case modelCfg = "model_cfg", preprocessCfg = "preprocess_cfg" }

    public init(modelCfg: ModelConfig, preprocessCfg: PreprocessConfig) {
        (self.modelCfg, self.preprocessCfg) = (modelCfg, preprocessCfg)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelCfg = try c.decode(ModelConfig.self, forKey: .modelCfg)
        preprocessCfg = try c.decodeIfPresent(PreprocessConfig.self, forKey: .preprocessCfg) ?? PreprocessConfig()
    }

    /// Reads `open_clip_config.json`; a missing or unsupported key is one line naming the file and key.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RunError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        do {
            self = try ModelConfig.decode(OpenCLIPHubConfig.self, from: data, source: url.path) { try $0.modelCfg.validate() }
        } catch let error as ModelError {
            throw ConfigError(error.message)
        }
    }

    /// The file's JSON as OpenCLIP reads it: `model_cfg` without SwiftCLIP's own keys (OpenCLIP's
    /// config classes reject unknown ones). A conv-tower model has no OpenCLIP equivalent: refused.
    public func jsonData() throws -> Data {
        guard modelCfg.visionCfg.type == .vit else {
            throw ConfigError("vision_cfg.type \(modelCfg.visionCfg.type.rawValue): only the ViT image tower has an OpenCLIP equivalent, so this model cannot be exported")
        }
        guard modelCfg.textCfg.type == .transformer else {
            throw ConfigError("text_cfg.type \(modelCfg.textCfg.type.rawValue): only the transformer text tower has an OpenCLIP equivalent, so this model cannot be exported")
        }
        func object(_ data: Data) -> [String: Any] { try! JSONSerialization.jsonObject(with: data) as! [String: Any] }
        var model = object(modelCfg.jsonData())
        var vision = model["vision_cfg"] as! [String: Any]
        vision["type"] = nil
        vision["convnet_widths"] = nil
        model["vision_cfg"] = vision
        let encoder = JSONEncoder()
        let preprocess = object(try encoder.encode(preprocessCfg))
        return try JSONSerialization.data(withJSONObject: ["model_cfg": model, "preprocess_cfg": preprocess],
                                          options: [.prettyPrinted, .sortedKeys])
    }
}

/// Writes a model as an OpenCLIP hub folder: `open_clip_config.json` and
/// `open_clip_model.safetensors` (OpenCLIP's state-dict names, F32), created atomically (a
/// temporary sibling folder renamed into place), so `open_clip.create_model_and_transforms(
/// "local-dir:DIR")` — or `hf-hub:` after uploading the folder — loads it unchanged.
public enum OpenCLIPExport {
    /// Refuses, before any work, a `folder` that exists or could not be created (`OutputFile`).
    public static func requireNew(_ folder: URL) throws {
        let path = folder.standardizedFileURL.path
        guard !FileManager.default.fileExists(atPath: path) else {
            throw ConfigError("\(path): already exists; remove it or choose another folder")
        }
        try OutputFile.requireWritable(path)
    }

    /// - Parameters:
    ///   - preprocess: the evaluation transform the model expects (its mean, std, interpolation,
    ///     resize mode and fill go into `preprocess_cfg`; the size is the model's image size).
    public static func write(model: CLIPModel, preprocess: Augmentation, to folder: URL) throws {
        let config = OpenCLIPHubConfig(modelCfg: model.config,
                                       preprocessCfg: PreprocessConfig(size: model.visual.imageSize, augmentation: preprocess))
        let json = try config.jsonData()
        let weights = try RunCheckpoints.writer(model.stateDict(), metadata: ["format": "pt", "producer": "swiftclip"])
        try AtomicFile.writeFolder(at: folder, files: [
            CheckpointSource.hubConfigFileName: { try $0.write(json) },
            CheckpointSource.hubWeightsFileName: { try weights.write(into: &$0) },
        ])
    }
}
