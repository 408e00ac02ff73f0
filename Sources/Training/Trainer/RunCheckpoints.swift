import Foundation
import Checkpointing

/// The run folder's checkpoints (DESIGN.md): `checkpoints/step-00000500/{model.safetensors,
/// optimizer.safetensors, state.json}` and `checkpoints/latest`. The only file of the trainer
/// that talks to the Checkpointing layer.
public struct RunCheckpoints {
    public let runDirectory: URL
    let store: CheckpointStore

    public init(runDirectory: URL) {
        self.runDirectory = runDirectory
        store = CheckpointStore(directory: runDirectory.appendingPathComponent("checkpoints"))
    }

    public func latest() throws -> URL? { try store.latest() }

    /// `latest` or a checkpoint folder path → the folder.
    public func resolve(_ spec: String) throws -> URL {
        if spec == "latest" {
            guard let url = try store.latest() else {
                throw ConfigError("\(runDirectory.path): no checkpoint to resume (checkpoints/latest is missing)")
            }
            return url
        }
        let url = URL(fileURLWithPath: spec)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("state.json").path) else {
            throw ConfigError("\(spec): not a checkpoint folder (no state.json)")
        }
        return url
    }

    /// Writes a complete checkpoint atomically, updates `latest`, prunes old ones.
    /// `modelMetadata` joins the model file's metadata (e.g. the objective, for evaluation's scoring).
    public func save(step: Int, model: CLIPModel, optimizer: any Optimizer, state: TrainingState, keepLast: Int,
                     modelMetadata: [String: String] = [:]) throws -> URL {
        let base = ["format": "pt", "producer": "swiftclip", "model_config": String(decoding: model.config.jsonData(), as: UTF8.self)]
        let modelWriter = try Self.writer(model.stateDict(), metadata: base.merging(modelMetadata) { old, _ in old })
        let optimizerWriter = try Self.writer(optimizer.stateTensors(), metadata: ["producer": "swiftclip", "optimizer": state.optimizer])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let stateData = try encoder.encode(state)
        let url = try store.save(step: step, writing: [
            "model.safetensors": { try modelWriter.write(into: &$0) },
            "optimizer.safetensors": { try optimizerWriter.write(into: &$0) },
            "state.json": { try $0.write(stateData) },
        ])
        _ = try store.prune(keepLast: keepLast)
        return url
    }

    /// Restores weights and optimizer moments from a checkpoint folder; returns its training state.
    public func load(_ folder: URL, model: CLIPModel, optimizer: any Optimizer, expectedModelHash: String) throws -> TrainingState {
        let statePath = folder.appendingPathComponent("state.json")
        let state: TrainingState
        do { state = try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: statePath)) } catch {
            throw ConfigError("\(statePath.path): unreadable training state (\(error.localizedDescription))")
        }
        guard state.modelHash == expectedModelHash else {
            throw ConfigError("\(folder.path): the checkpoint was trained with a different model or objective; resuming would change the model (start a new run instead)")
        }
        try model.load(try Self.readTensors(folder.appendingPathComponent("model.safetensors")), source: folder.appendingPathComponent("model.safetensors").path)
        let optPath = folder.appendingPathComponent("optimizer.safetensors")
        do { try optimizer.loadState(try Self.readTensors(optPath), step: state.step) } catch let e as OptimizerError {
            throw ConfigError("\(optPath.path): \(e.description)")
        }
        return state
    }

    static func writer(_ tensors: [(name: String, value: Tensor)], metadata: [String: String]) throws -> SafeTensorsWriter {
        var writer = try SafeTensorsWriter(metadata: metadata)
        for t in tensors { try writer.add(t.name, shape: t.value.shape, floats: t.value.scalars) }
        return writer
    }

    /// The string metadata of a safetensors file (e.g. the `objective` a checkpoint was trained with).
    public static func readMetadata(_ url: URL) throws -> [String: String] { try SafeTensorsFile(contentsOf: url).metadata }

    /// Every tensor of a safetensors file as Float32 (F16/BF16 converted).
    public static func readTensors(_ url: URL) throws -> [String: Tensor] {
        let file = try SafeTensorsFile(contentsOf: url)
        var result: [String: Tensor] = [:]
        for record in file.records {
            result[record.name] = Tensor(shape: record.shape, scalars: try file.floats(named: record.name))
        }
        return result
    }
}
