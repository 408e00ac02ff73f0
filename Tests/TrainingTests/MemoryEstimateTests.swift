import Foundation
import SwiftCLIP
import XCTest

/// The memory estimate made before training (issue 13.7).
final class MemoryEstimateTests: XCTestCase {
    func testParameterCountMatchesTheBuiltModels() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Configs/models").standardizedFileURL
        for name in ["tiny.json", "vit-fashion.json", "convnet-fashion.json", "vit-scenes.json", "vit-scenes-long.json"] {
            var config = try ModelConfig.load(dir.appendingPathComponent(name))
            XCTAssertEqual(MemoryEstimate.parameterCount(config, withBias: false), CLIPModel(config).parameterCount, name)
            config.initLogitBias = -10
            XCTAssertEqual(MemoryEstimate.parameterCount(config, withBias: true), CLIPModel(config).parameterCount, name)
        }
    }

    func testAModelThatCannotFitIsRefusedInOneLine() throws {
        let run = try SyntheticRun()
        defer { run.cleanup() }
        let huge = run.root.appendingPathComponent("huge.json")
        try """
        {"embed_dim": 16, "vision_cfg": {"image_size": 16, "patch_size": 8, "width": 65536, "layers": 1, "head_width": 64},
         "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
        """.write(to: huge, atomically: true, encoding: .utf8)
        let cfg = try run.config(run.yaml(), overrides: ["model.config=\(huge.path)"])
        XCTAssertThrowsError(try Trainer(config: cfg, log: { _ in })) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("the run needs about") && m.contains("but this machine has"), m)
            XCTAssertFalse(m.contains("\n"), m)
        }
        // The estimate's parameters alone: 12·w² weights of one block at w = 65536, 4 bytes each.
        let estimate = MemoryEstimate(model: try ModelConfig.load(huge), config: cfg)
        XCTAssertGreaterThan(estimate.parameterBytes, 4 * 12 * 65536.0 * 65536)
    }

    func testRecomputationAndAccumulationLowerTheActivationEstimate() throws {
        let run = try SyntheticRun(items: 8)
        defer { run.cleanup() }
        var model = try ModelConfig.load(run.root.appendingPathComponent("model.json"))
        (model.visionCfg.layers, model.textCfg.layers) = (4, 4)
        func activations(_ overrides: [String]) throws -> Double {
            MemoryEstimate(model: model, config: try run.config(run.yaml(batch: 16), overrides: overrides)).activationBytes
        }
        let plain = try activations([])
        XCTAssertLessThan(try activations(["train.recompute_activations=true"]), plain)
        XCTAssertEqual(try activations(["train.accumulation=2"]), plain / 2, accuracy: plain * 1e-9)
    }
}
