import Checkpointing
import Foundation
import NeuralNet

/// OpenCLIP parity fixtures (Tests/Fixtures/models, made by Scripts/make-model-fixtures.py):
/// OpenCLIP's random-init weights under their state-dict names, fixed inputs (`input.*`) and
/// OpenCLIP's outputs (`expected.*`).
public enum ModelFixtures {
    public static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/models").standardizedFileURL

    /// The model of fixture `name` with its weights loaded, the file, and all its tensors.
    public static func load(_ name: String) throws -> (model: CLIPModel, file: SafeTensorsFile, tensors: [String: Tensor]) {
        let file = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("\(name).safetensors"))
        var tensors: [String: Tensor] = [:]
        for r in file.records { tensors[r.name] = Tensor(shape: r.shape, scalars: try file.floats(named: r.name)) }
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(file.metadata["model_config"]!.utf8))
        let model = CLIPModel(config)
        try model.load(tensors.filter { !$0.key.hasPrefix("input.") && !$0.key.hasPrefix("expected.") }, source: name)
        return (model, file, tensors)
    }
}
