import Checkpointing
import DataPipeline
import Foundation
import SwiftCLIP
import XCTest

/// OpenCLIP hub folders (`open_clip_config.json` + `open_clip_model.safetensors`): export, load
/// back, and the preprocessing they carry.
final class OpenCLIPHubFolderTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun(items: 8) }
    override func tearDown() { run.cleanup() }

    private let modelJSON = """
        {"embed_dim": 16, "quick_gelu": true,
         "vision_cfg": {"image_size": 16, "patch_size": 8, "width": 32, "layers": 2, "head_width": 16},
         "text_cfg": {"context_length": 12, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1}}
        """

    /// A foreign safetensors file of a random model and its model-config JSON.
    private func foreignModel() throws -> (weights: URL, config: URL, model: CLIPModel) {
        let config = run.root.appendingPathComponent("m.json"), weights = run.root.appendingPathComponent("m.safetensors")
        try modelJSON.write(to: config, atomically: true, encoding: .utf8)
        let model = CLIPModel(try ModelConfig.load(config), seed: 9)
        var writer = try SafeTensorsWriter()
        for (name, value) in model.stateDict() { try writer.add(name, tensor: value) }
        try writer.write(to: weights)
        return (weights, config, model)
    }

    private func embeddings(_ encoder: ModelEncoder) -> (images: [Float], texts: [Float]) {
        var rng = RandomGenerator(seed: 4)
        let images = Tensor(shape: [3, 16, 16, 3], scalars: (0..<(3 * 16 * 16 * 3)).map { _ in Float.random(in: -2...2, using: &rng) })
        // Two captions of 12 positions: ids 1…7 at positions 0–4, EOT (the largest id, 63) at 5, padding after.
        var tokens = [Int32](repeating: 0, count: 2 * 12)
        for row in 0..<2 {
            for p in 0..<5 { tokens[row * 12 + p] = Int32(1 + (row * 12 + p) % 7) }
            tokens[row * 12 + 5] = 63
        }
        return (encoder.images(images).scalars, encoder.texts(tokens, batch: 2).scalars)
    }

    /// Export → load as a hub folder: the same weights (bit for bit), the same embeddings, the
    /// preprocess_cfg SwiftCLIP trains with, and a model_cfg OpenCLIP's config classes accept.
    func testExportRoundTripsWeightsEmbeddingsAndPreprocessing() throws {
        let (weights, config, original) = try foreignModel()
        let loaded = try ModelLoading.load(checkpoint: weights.path, modelConfig: config.path)
        let hub = run.root.appendingPathComponent("hub")
        try OpenCLIPExport.write(model: loaded.model, preprocess: loaded.preprocess, to: hub)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: hub.path).sorted(),
                       ["open_clip_config.json", "open_clip_model.safetensors"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.root.path).filter { $0.contains(".tmp-") }, [])

        let back = try ModelLoading.load(checkpoint: hub.path)
        XCTAssertEqual(back.model.config, original.config)
        XCTAssertEqual(back.model.stateDict().map(\.name), original.stateDict().map(\.name))
        XCTAssertEqual(back.model.stateDict().map(\.value.scalars), original.stateDict().map(\.value.scalars))
        XCTAssertEqual(back.preprocess, Augmentation.none)
        let a = embeddings(ModelEncoder(model: original, workers: 1)), b = embeddings(ModelEncoder(model: back.model, workers: 1))
        XCTAssertEqual(a.images, b.images)
        XCTAssertEqual(a.texts, b.texts)

        // The weights file holds OpenCLIP's names as F32; the config JSON has only OpenCLIP's keys.
        let file = try SafeTensorsFile(contentsOf: hub.appendingPathComponent("open_clip_model.safetensors"))
        XCTAssertEqual(Set(try file.tensors().keys), Set(original.stateDict().map(\.name)))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: hub.appendingPathComponent("open_clip_config.json"))) as! [String: Any]
        let model = json["model_cfg"] as! [String: Any], preprocess = json["preprocess_cfg"] as! [String: Any]
        XCTAssertEqual(Set((model["vision_cfg"] as! [String: Any]).keys),
                       ["image_size", "patch_size", "width", "layers", "head_width", "mlp_ratio", "pool_type"])
        XCTAssertEqual(model["quick_gelu"] as? Bool, true)
        XCTAssertEqual(preprocess["size"] as? Int, 16)
        XCTAssertEqual(preprocess["interpolation"] as? String, "bicubic")
        XCTAssertEqual(preprocess["resize_mode"] as? String, "shortest")
        let mean = try XCTUnwrap(preprocess["mean"] as? [Double]), std = try XCTUnwrap(preprocess["std"] as? [Double])
        XCTAssertEqual(mean + std, [0.48145466, 0.4578275, 0.40821073, 0.26862954, 0.26130258, 0.27577711])   // OpenCLIP's constants

        // Never over an existing folder; nothing half-written is left.
        XCTAssertThrowsError(try OpenCLIPExport.write(model: loaded.model, preprocess: loaded.preprocess, to: hub)) { error in
            XCTAssertTrue("\(error)".contains("already exists"), "\(error)")
        }
        XCTAssertThrowsError(try OpenCLIPExport.requireNew(run.root.appendingPathComponent("missing/hub"))) { error in
            XCTAssertTrue("\(error)".contains("no such folder"), "\(error)")
        }
        // SwiftCLIP's conv tower has no OpenCLIP equivalent: refused, and no folder appears.
        let convnetJSON = #"{"embed_dim": 8, "vision_cfg": {"type": "convnet", "image_size": 8, "convnet_widths": [4, 8]}, "#
            + #""text_cfg": {"context_length": 4, "vocab_size": 10, "width": 8, "heads": 2, "layers": 1}}"#
        let convnet = CLIPModel(try JSONDecoder().decode(ModelConfig.self, from: Data(convnetJSON.utf8)))
        let refused = run.root.appendingPathComponent("convnet-hub")
        XCTAssertThrowsError(try OpenCLIPExport.write(model: convnet, preprocess: .none, to: refused)) { error in
            XCTAssertTrue("\(error)".hasPrefix("vision_cfg.type convnet: "), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: refused.path))
    }

    /// `model.init` from a hub folder whose `model_cfg` computes otherwise than `model.config` (QuickGELU
    /// against GELU, another head count: the same weight shapes, another network) is refused, naming each
    /// key with both values (issue 25.3); values that only start parameters the weights replace may differ.
    func testModelInitRefusesAHubFolderWhoseModelConfigDiffers() throws {
        let model = try ModelConfig.load(run.root.appendingPathComponent("model.json"))
        let hub = run.root.appendingPathComponent("hub")
        try OpenCLIPExport.write(model: CLIPModel(model, seed: 3), preprocess: .none, to: hub)
        let hubJSON = hub.appendingPathComponent("open_clip_config.json")
        let exported = try String(contentsOf: hubJSON, encoding: .utf8)
        func hubSays(_ edit: (String) -> String) throws {
            let edited = edit(exported)
            XCTAssertNotEqual(edited, exported)
            try edited.write(to: hubJSON, atomically: true, encoding: .utf8)
        }
        func trainer() throws -> Trainer {
            try Trainer(config: try run.config(run.yaml(), overrides: ["model.init=\(hub.path)"]), log: { _ in })
        }
        XCTAssertNoThrow(try trainer())
        XCTAssertTrue(exported.contains(#""quick_gelu" : false"#), exported)
        try hubSays { $0.replacingOccurrences(of: #""quick_gelu" : false"#, with: #""quick_gelu" : true"#)
                        .replacingOccurrences(of: #""head_width" : 16"#, with: #""head_width" : 32"#) }
        XCTAssertThrowsError(try trainer()) { error in
            let text = "\(error)"
            for part in ["model.init: \(hubJSON.path): ", "model_cfg.quick_gelu true", "model_cfg.vision_cfg.head_width 32",
                         "model.config (\(run.root.appendingPathComponent("model.json").path)) has false and 16"] {
                XCTAssertTrue(text.contains(part), "\(part) not in \(text)")
            }
            XCTAssertFalse(text.contains("\n"), text)
        }
        try hubSays { $0.replacingOccurrences(of: #""embed_dim""#, with: #""init_logit_scale" : 1.5, "embed_dim""#) }
        XCTAssertNoThrow(try trainer())
    }

    /// Evaluation (`embed`, zero-shot, retrieval: the loader) applies the hub folder's transform:
    /// the embeddings of a shard are those of its images transformed by hand with that transform,
    /// and differ from those under SwiftCLIP's default normalization.
    func testEvaluationAppliesTheHubFoldersTransform() throws {
        let (weights, _, _) = try foreignModel()
        let hub = run.root.appendingPathComponent("hub")
        try FileManager.default.createDirectory(at: hub, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: weights, to: hub.appendingPathComponent("open_clip_model.safetensors"))
        try #"{"model_cfg": \#(modelJSON), "preprocess_cfg": {"mean": [0.5, 0.4, 0.3], "std": [0.25, 0.5, 1.0], "interpolation": "bilinear"}}"#
            .write(to: hub.appendingPathComponent("open_clip_config.json"), atomically: true, encoding: .utf8)
        let loaded = try ModelLoading.load(checkpoint: hub.path)
        let encoder = ModelEncoder(model: loaded.model, workers: 1, preprocess: loaded.preprocess)
        let shard = run.root.appendingPathComponent("data/shard-00000.h5").path
        let embedded = try EmbeddingExport.embedImages(encoder: encoder, dataset: try ShardDataset(path: shard), batchSize: 3)

        let reader = try ShardReader(path: shard)
        let size = loaded.model.visual.imageSize
        var pixels: [Float] = []
        var rng = RandomGenerator(seed: 0)
        let transform = Augmentation(randomResizedCrop: nil, filter: .bilinear,
                                     normalization: Normalization(mean: [0.5, 0.4, 0.3], std: [0.25, 0.5, 1.0]))
        for i in 0..<reader.count {
            let image = try reader.image(at: i).decoded()
            pixels += [Float](unsafeUninitializedCapacity: size * size * 3) { buffer, count in
                transform.apply(to: image, size: size, training: false, using: &rng, into: buffer)
                count = size * size * 3
            }
        }
        let expected = encoder.images(Tensor(shape: [reader.count, size, size, 3], scalars: pixels))
        XCTAssertEqual(embedded.shape, expected.shape)
        for (a, b) in zip(embedded.scalars, expected.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        let plain = try EmbeddingExport.embedImages(encoder: ModelEncoder(model: loaded.model, workers: 1), dataset: try ShardDataset(path: shard))
        XCTAssertGreaterThan(zip(plain.scalars, expected.scalars).map { abs($0 - $1) }.max()!, 1e-2)
    }

    /// A hub folder written by OpenCLIP: its preprocess_cfg (mean, std, interpolation, resize
    /// mode) becomes the evaluation transform; what SwiftCLIP cannot apply is refused in one line.
    func testHubFolderPreprocessingIsAppliedOrRefused() throws {
        let (weights, _, original) = try foreignModel()
        func hub(_ preprocess: String, model: String? = nil) throws -> String {
            let folder = run.root.appendingPathComponent("hub-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: weights, to: folder.appendingPathComponent("open_clip_model.safetensors"))
            try #"{"model_cfg": \#(model ?? modelJSON), "preprocess_cfg": \#(preprocess)}"#
                .write(to: folder.appendingPathComponent("open_clip_config.json"), atomically: true, encoding: .utf8)
            return folder.path
        }
        let custom = try ModelLoading.load(checkpoint: hub(
            #"{"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.5, 1.0], "interpolation": "bilinear", "resize_mode": "longest", "fill_color": 7}"#))
        XCTAssertEqual(custom.model.stateDict().map(\.value.scalars), original.stateDict().map(\.value.scalars))
        XCTAssertEqual(custom.preprocess, Augmentation(randomResizedCrop: nil, filter: .bilinear,
                                                       normalization: Normalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1.0]),
                                                       resizeMode: .longest, fill: 7))
        XCTAssertEqual(try ModelLoading.load(checkpoint: hub(#"{"resize_mode": "squash"}"#)).preprocess.resizeMode, .squash)
        // As OpenCLIP, the transform's size is the model's image_size whatever preprocess_cfg.size says.
        XCTAssertEqual(try ModelLoading.load(checkpoint: hub(#"{"size": [224, 224]}"#)).preprocess, .none)
        XCTAssertEqual(try ModelLoading.load(checkpoint: hub("{}")).preprocess, .none)
        // model.init reads the same weights, and says when the folder normalizes unlike training.
        for (preprocess, logged) in [("{}", false), (#"{"mean": [0.5, 0.5, 0.5]}"#, true)] {
            var lines: [String] = []
            let tensors = try RunCheckpoints.readInitWeights(hub(preprocess), log: { lines.append($0) }).tensors
            XCTAssertEqual(tensors.keys.sorted(), original.stateDict().map(\.name).sorted())
            XCTAssertEqual(lines.count, logged ? 1 : 0, "\(lines)")
            XCTAssertTrue(lines.allSatisfy { $0.contains("mean [0.5, 0.5, 0.5]") }, "\(lines)")
        }

        let refused: [(String, String?, String)] = [
            (#"{"interpolation": "nearest"}"#, nil, "preprocess_cfg.interpolation: nearest is not supported"),
            (#"{"resize_mode": "crop"}"#, nil, "preprocess_cfg.resize_mode: crop is not supported"),
            (#"{"std": [0.5, 0.5, 0.0]}"#, nil, "preprocess_cfg.std: expected 3 finite values (std positive)"),
            (#"{"mode": "L"}"#, nil, "preprocess_cfg.mode: L is not supported (RGB only)"),
            ("{}", modelJSON.replacingOccurrences(of: #""head_width": 16"#, with: #""head_width": 16, "ls_init_value": 0.1"#),
             "model_cfg.vision_cfg.ls_init_value: OpenCLIP option not implemented"),
        ]
        for (preprocess, model, expected) in refused {
            let path = try hub(preprocess, model: model)
            XCTAssertThrowsError(try ModelLoading.load(checkpoint: path), expected) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(expected) && text.contains(path + "/open_clip_config.json"), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
    }
}
