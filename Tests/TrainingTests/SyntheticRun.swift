import DataPipeline
import Foundation
import SwiftCLIP

/// A tiny synthetic captioned dataset and model config in a temporary folder, for end-to-end tests.
struct SyntheticRun {
    let root: URL
    static let colors: [(String, [UInt8])] = [("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 40, 220]), ("yellow", [230, 220, 30])]
    static let shapes = ["square", "stripe"]

    init(items: Int = 64) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftclip-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("data"), withIntermediateDirectories: true)
        var rng = RandomGenerator(seed: 11)
        let writer = ShardWriter(path: root.appendingPathComponent("data/shard-00000.h5").path)
        for i in 0..<items {
            let (color, rgb) = Self.colors[i % Self.colors.count]
            let shape = Self.shapes[(i / Self.colors.count) % Self.shapes.count]
            var pixels = [UInt8](repeating: 0, count: 16 * 16 * 3)
            for y in 0..<16 { for x in 0..<16 {
                let on = shape == "square" ? (x > 3 && x < 12 && y > 3 && y < 12) : (y % 4 < 2)
                let noise = UInt8(rng.next() % 20)
                for c in 0..<3 { pixels[(y * 16 + x) * 3 + c] = on ? rgb[c] &- noise : noise }
            } }
            try writer.append(ShardItem(image: .raw(RGBImage(height: 16, width: 16, pixels: pixels)),
                                        caption: "a \(color) \(shape).", longCaption: "a \(color) \(shape). it is small. the background is dark."))
        }
        _ = try writer.finish()
        let model = """
        {"embed_dim": 16, "vision_cfg": {"image_size": 16, "patch_size": 8, "width": 32, "layers": 1, "head_width": 16},
         "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
        """
        try model.write(to: root.appendingPathComponent("model.json"), atomically: true, encoding: .utf8)
    }

    func yaml(steps: Int = 8, workers: Int = 1, accumulation: Int = 1, batch: Int = 16, every: Int = 4, objective: String = "clip",
              extra: String = "") -> String {
        """
        run: {name: test, output_dir: \(root.appendingPathComponent("runs").path), seed: 3, log_every: 2}
        model: {config: \(root.appendingPathComponent("model.json").path)}
        objective: {type: \(objective)}
        data:
          train: \(root.appendingPathComponent("data").path)
          batch_size: \(batch)
          augment: {random_resized_crop: [0.8, 1.0]}
          loader_threads: 2
        optimizer: {type: adamw, lr: 2.0e-3, weight_decay: 0.1}
        schedule: {type: cosine, warmup_steps: 2}
        train: {steps: \(steps), workers: \(workers), accumulation: \(accumulation)}
        checkpoint: {every_steps: \(every), keep_last: 5}
        \(extra)
        """
    }

    func config(_ yaml: String, overrides: [String] = []) throws -> TrainingConfig {
        try TrainingConfig.parse(yaml, file: "test.yaml", overrides: overrides)
    }

    func modelBytes(step: Int) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent(String(format: "runs/test/checkpoints/step-%08d/model.safetensors", step)))
    }

    func cleanup() { try? FileManager.default.removeItem(at: root) }
}
