import Foundation
import SwiftCLIP
import XCTest

/// Growing resolution (issue 24.3): `model.init` from a run trained at another `image_size`
/// resizes the image positional embedding (OpenCLIP's `resize_pos_embed`), says so, and trains;
/// what cannot be carried over is refused with the reason; `--resume` never resizes.
final class GrowingResolutionTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun() }
    override func tearDown() { run.cleanup() }

    var smallRun: URL { run.root.appendingPathComponent("runs/test") }

    /// A model config like the synthetic run's (16 px, patch 8, width 32) with other vision keys.
    func modelConfig(imageSize: Int, patchSize: Int = 8, width: Int = 32) throws -> String {
        let path = run.root.appendingPathComponent("model-\(imageSize)-\(patchSize)-\(width).json")
        try """
        {"embed_dim": 16, "vision_cfg": {"image_size": \(imageSize), "patch_size": \(patchSize), "width": \(width), "layers": 1, "head_width": 16},
         "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
        """.write(to: path, atomically: true, encoding: .utf8)
        return path.path
    }

    /// Trains the synthetic run at 16 px (a 2×2 grid of 8 px patches) for 4 steps.
    func trainSmall() throws -> Trainer {
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 4)), log: { _ in })
        XCTAssertEqual(try trainer.run().finalStep, 4)
        return trainer
    }

    func fineTune(modelConfig: String, log: LogLines) throws -> Trainer {
        let cfg = try run.config(run.yaml(steps: 4), overrides: ["run.name=large", "model.config=\(modelConfig)",
                                                                "model.init=\(smallRun.path)"])
        return try Trainer(config: cfg, log: log.append)
    }

    func testFineTuningAtTwiceTheImageSizeResizesThePositionalEmbeddingAndTrains() throws {
        let small = try trainSmall()
        let log = LogLines()
        let large = try fineTune(modelConfig: try modelConfig(imageSize: 32), log: log)
        XCTAssertTrue(log.lines.contains("model.init: resized visual.positional_embedding from 2×2 to 4×4 grid (bicubic, as OpenCLIP's resize_pos_embed)"),
                      log.text)
        let before = Dictionary(uniqueKeysWithValues: small.model.stateDict().map { ($0.name, $0.value) })
        for (name, value) in large.model.stateDict() {
            if name == "visual.positional_embedding" {
                XCTAssertEqual(value.shape, [17, 32])
                let expected = PositionalEmbeddingResize.resized(before[name]!, from: .init(side: 2), to: .init(side: 4))
                XCTAssertEqual(value.scalars, expected.scalars)
                XCTAssertEqual(Array(value.scalars.prefix(32)), Array(before[name]!.scalars.prefix(32)), "class token kept")
            } else {
                XCTAssertEqual(value.scalars, before[name]?.scalars, "\(name) is carried over unchanged")
            }
        }
        let summary = try large.run()
        XCTAssertEqual(summary.finalStep, 4)
        XCTAssertTrue(try XCTUnwrap(summary.lastLoss).isFinite)
        XCTAssertEqual(large.model.visual.imageSize, 32)
    }

    func testFineTuningFromAHubFolderOfAnotherImageSize() throws {
        // OpenCLIP's hub folders declare their model_cfg; only its image_size may differ from model.config.
        let small = try trainSmall()
        let hub = run.root.appendingPathComponent("hub")
        try OpenCLIPExport.write(model: small.model, preprocess: .none, to: hub)
        let log = LogLines()
        let cfg = try run.config(run.yaml(steps: 2), overrides: ["run.name=large", "model.config=\(try modelConfig(imageSize: 32))",
                                                                "model.init=\(hub.path)"])
        let large = try Trainer(config: cfg, log: log.append)
        XCTAssertTrue(log.text.contains("resized visual.positional_embedding from 2×2 to 4×4 grid"), log.text)
        XCTAssertEqual(try large.run().finalStep, 2)
    }

    func testAnotherPatchSizeIsRefusedWithOneLine() throws {
        _ = try trainSmall()
        // 16 px with 4 px patches: a 4×4 grid, but conv1 [32, 3, 8, 8] cannot become [32, 3, 4, 4].
        XCTAssertThrowsError(try fineTune(modelConfig: try modelConfig(imageSize: 16, patchSize: 4), log: LogLines())) { error in
            let m = String(describing: error)
            XCTAssertTrue(m.contains("was trained with patch_size 8, this model's is 4: only image_size may differ"), m)
            XCTAssertFalse(m.contains("\n"), m)
        }
    }

    func testAnotherWidthIsRefusedWithOneLine() throws {
        _ = try trainSmall()
        XCTAssertThrowsError(try fineTune(modelConfig: try modelConfig(imageSize: 32, width: 64), log: LogLines())) { error in
            let m = String(describing: error)
            XCTAssertTrue(m.contains("but this model's vision width is 64"), m)
            XCTAssertFalse(m.contains("\n"), m)
        }
    }

    func testResumeNeverResizes() throws {
        _ = try trainSmall()
        // Resuming the 16 px run as a 32 px model is a different model: refused, not resized.
        let cfg = try run.config(run.yaml(steps: 8), overrides: ["model.config=\(try modelConfig(imageSize: 32))"])
        let log = LogLines()
        XCTAssertThrowsError(try Trainer(config: cfg, resume: "latest", allowConfigChange: true, log: log.append)) { error in
            XCTAssertTrue(String(describing: error).contains("trained with a different model"), "\(error)")
        }
        XCTAssertFalse(log.text.contains("resized"), log.text)
    }
}
