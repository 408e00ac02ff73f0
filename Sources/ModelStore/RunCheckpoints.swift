import Foundation
import Checkpointing
import DataPipeline
import TensorCore
import NeuralNet
import Objectives
import Optimization

/// The run folder's checkpoints (docs/DESIGN.md): `checkpoints/step-00000500/{model.safetensors,
/// optimizer.safetensors, state.json, manifest.json}` and `checkpoints/latest`, and the one path
/// by which checkpoints are read — resume, evaluate, embed and `model.init` alike. The only file
/// of the trainer that talks to the Checkpointing layer.
///
/// Every read is verified: files against the sizes and CRC-32s of `manifest.json` (a SwiftCLIP
/// checkpoint without one is refused), `state.json`'s step against the checkpoint's, weights for
/// NaN/Inf. Weights from other tools (a safetensors file with no manifest) are validated
/// structurally by the safetensors reader.
public struct RunCheckpoints {
    public let runDirectory: URL
    let store: CheckpointStore

    public init(runDirectory: URL) {
        self.runDirectory = runDirectory
        store = CheckpointStore(runDirectory: runDirectory)
    }

    /// Whether the run folder holds any checkpoint folder (complete or not).
    public func exist() throws -> Bool { try !store.checkpoints().isEmpty }

    /// Writes a complete checkpoint atomically, updates `latest`, prunes old ones. Tensors stream
    /// from their buffers to disk (no copy). `modelMetadata` joins the model file's metadata (e.g.
    /// the objective, for evaluation's scoring).
    public func save(step: Int, model: CLIPModel, optimizer: any Optimizer, state: TrainingState, keepLast: Int,
                     modelMetadata: [String: String] = [:]) throws -> URL {
        let base = ["format": "pt", "producer": "swiftclip", "model_config": String(decoding: model.config.jsonData(), as: UTF8.self)]
        let modelWriter = try Self.writer(model.stateDict(), metadata: base.merging(modelMetadata) { old, _ in old })
        let optimizerWriter = try Self.writer(optimizer.stateTensors(), metadata: ["producer": "swiftclip", "optimizer": state.optimizer])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let stateData = try encoder.encode(state)
        let url = try store.save(step: step, writing: [
            Self.modelFile: { try modelWriter.write(into: &$0) },
            Self.optimizerFile: { try optimizerWriter.write(into: &$0) },
            Self.stateFile: { try $0.write(stateData) },
        ])
        _ = try store.prune(keepLast: keepLast)
        return url
    }

    /// Refuses to start a run on a disk that cannot hold one more checkpoint of this model and
    /// optimizer (weights and moments, 4 bytes each), rather than failing at the first save.
    public func requireSpace(model: CLIPModel, optimizer: any Optimizer) throws {
        let values = model.parameterCount + optimizer.stateTensors().reduce(0) { $0 + $1.value.count }
        var info = statvfs()
        guard statvfs(runDirectory.path, &info) == 0 else { throw fileSystemError(errno, path: runDirectory.path) }
        try Self.requireSpace(needed: 4 * values, available: Int(info.f_bavail) * Int(info.f_frsize), path: runDirectory.path)
    }

    public static func requireSpace(needed: Int, available: Int, path: String) throws {
        guard available < needed else { return }
        func mb(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
        throw RunError("no space left on device: \(path) (\(mb(available)) free, one checkpoint needs about \(mb(needed)))")
    }

    static let modelFile = CheckpointSource.weightsFileName
    static let optimizerFile = "optimizer.safetensors"
    static let stateFile = "state.json"

    static func writer(_ tensors: [(name: String, value: Tensor)], metadata: [String: String]) throws -> SafeTensorsWriter {
        var writer = try SafeTensorsWriter(metadata: metadata)
        for t in tensors { try writer.add(t.name, tensor: t.value) }
        return writer
    }

    // MARK: Reading

    /// Restores weights and optimizer moments for `--resume SPEC`; returns the training state and
    /// the checkpoint folder. SPEC is `latest` (this run's newest intact checkpoint) or a path in
    /// any form `CheckpointSource` accepts; skipped checkpoints are logged, one line each.
    public func resume(_ spec: String, model: CLIPModel, optimizer: any Optimizer, expectedModelHash: String,
                       log: (String) -> Void) throws -> (state: TrainingState, folder: URL) {
        let source = spec == "latest" ? .newest(store) : try CheckpointSource(path: spec)
        // Each file's bytes are dropped once its tensors are made.
        let (checkpoint, (state, weights, moments)) = try source.read(skipped: log) { checkpoint in
            (try Self.state(of: checkpoint), try checkpoint.safeTensors(Self.modelFile).tensors(),
             try checkpoint.safeTensors(Self.optimizerFile).tensors())
        }
        let weightsPath = checkpoint.url.appendingPathComponent(Self.modelFile).path
        guard state.modelHash == expectedModelHash else {
            throw ConfigError("\(checkpoint.url.path): the checkpoint was trained with a different model or objective; "
                + "resuming would change the model (start a new run instead)")
        }
        try Self.requireFinite(weights, path: weightsPath)
        try model.load(weights, source: weightsPath)
        do { try optimizer.loadState(moments, step: state.step) } catch let e as OptimizerError {
            throw RunError("\(checkpoint.url.appendingPathComponent(Self.optimizerFile).path): \(e.description)")
        }
        return (state, checkpoint.url)
    }

    /// `state.json` of `checkpoint` (checksum verified), whose step must be the checkpoint's.
    static func state(of checkpoint: Checkpoint) throws -> TrainingState {
        let path = checkpoint.url.appendingPathComponent(stateFile).path
        let state: TrainingState
        do { state = try JSONDecoder().decode(TrainingState.self, from: checkpoint.data(stateFile)) } catch let error as DecodingError {
            throw RunError("\(path): unreadable training state (\(error.localizedDescription))")
        }
        guard state.step == checkpoint.step else {
            throw RunError("\(path): says step \(state.step), but the checkpoint is step \(checkpoint.step)")
        }
        return state
    }

    /// The weights a checkpoint path names (`--checkpoint`, `model.init`): verified, as read from
    /// `model.safetensors` (or a foreign safetensors file, or an OpenCLIP hub folder's
    /// `open_clip_model.safetensors`), with its metadata, and for a hub folder its
    /// `open_clip_config.json`.
    public static func readWeights(_ path: String, log: (String) -> Void)
        throws -> (tensors: [String: Tensor], file: SafeTensorsFile, hubConfig: URL?) {
        let file: SafeTensorsFile
        var hubConfig: URL? = nil
        switch try CheckpointSource(path: path) {
        case .foreignFile(let url): file = try SafeTensorsFile(contentsOf: url)
        case .hubFolder(let url):
            file = try SafeTensorsFile(contentsOf: url.appendingPathComponent(CheckpointSource.hubWeightsFileName))
            hubConfig = url.appendingPathComponent(CheckpointSource.hubConfigFileName)
        case let source: file = try source.read(skipped: log) { try $0.safeTensors(modelFile) }.value
        }
        let tensors = try file.tensors()
        try requireFinite(tensors, path: file.path)
        return (tensors, file, hubConfig)
    }

    /// The weights `model.init` names (as `readWeights`), and for a hub folder its
    /// `open_clip_config.json` and `model_cfg` (which `Trainer` compares with `model.config`). Training
    /// normalizes images with OpenAI's mean and std; a hub folder whose `preprocess_cfg` says otherwise
    /// is reported through `log`.
    public static func readInitWeights(_ path: String, log: (String) -> Void)
        throws -> (tensors: [String: Tensor], metadata: [String: String], hub: (config: URL, model: ModelConfig)?) {
        let (tensors, file, hubConfig) = try readWeights(path, log: log)
        var hub: (URL, ModelConfig)? = nil
        if let hubConfig {
            let config = try OpenCLIPHubConfig(contentsOf: hubConfig)
            let preprocess = config.preprocessCfg, trained = PreprocessConfig()
            if preprocess.mean != trained.mean || preprocess.std != trained.std {
                log("model.init: \(hubConfig.path) normalizes with mean \(preprocess.mean), std \(preprocess.std); "
                    + "training uses OpenAI's \(trained.mean), \(trained.std)")
            }
            hub = (hubConfig, config.modelCfg)
        }
        return (tensors, file.metadata, hub)
    }

    /// Refuses weights with NaN or ±Inf, naming the first such tensor and the file at `path`.
    static func requireFinite(_ tensors: [String: Tensor], path: String) throws {
        for name in tensors.keys.sorted() {
            let bad = tensors[name]!.withUnsafeBufferPointer { values in values.first { !$0.isFinite } }
            if let bad {
                throw RunError("\(path): tensor '\(name)' holds \(bad.isNaN ? "NaN" : "infinite") values; "
                    + "these weights are unusable (did the training diverge?)")
            }
        }
    }
}
