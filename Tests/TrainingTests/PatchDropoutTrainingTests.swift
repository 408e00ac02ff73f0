import Foundation
import SwiftCLIP
import XCTest

/// Patch dropout in training: it changes what is learned, is the same for any worker count, and
/// resumes exactly (each sample's kept patches come from the seed, epoch and dataset index).
final class PatchDropoutTrainingTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun() }
    override func tearDown() { run.cleanup() }

    func weights(workers: Int, dropout: Double, unmasked: Int = 0, steps: Int = 3) throws -> [Float] {
        // SGD: Adam's first steps amplify float-rounding differences of near-zero gradients.
        let trainer = try Trainer(config: try run.config(run.yaml(steps: steps, workers: workers, every: 100),
                                                         overrides: ["optimizer.type=sgd", "optimizer.lr=0.05",
                                                                     "model.patch_dropout=\(dropout)",
                                                                     "model.unmasked_tuning_steps=\(unmasked)"]),
                                  overwrite: true, log: { _ in })
        _ = try trainer.run()
        return trainer.model.parameters.flatMap { $0.value.scalars }
    }

    func testPatchDropoutChangesTrainingAndDoesNotDependOnWorkers() throws {
        let one = try weights(workers: 1, dropout: 0.5), two = try weights(workers: 2, dropout: 0.5)
        XCTAssertLessThan(zip(one, two).map { abs($0 - $1) }.max()!, 1e-5)
        let none = try weights(workers: 1, dropout: 0)
        XCTAssertGreaterThan(zip(one, none).map { abs($0 - $1) }.max()!, 1e-4, "patch dropout had no effect")
    }

    /// FLIP's unmasked tuning: the last N steps see every patch — all of them unmasked is exactly no
    /// patch dropout; only the last one unmasked is neither.
    func testUnmaskedTuningStepsSeeEveryPatch() throws {
        let none = try weights(workers: 1, dropout: 0), masked = try weights(workers: 1, dropout: 0.5)
        XCTAssertEqual(try weights(workers: 1, dropout: 0.5, unmasked: 3), none)
        XCTAssertEqual(try weights(workers: 1, dropout: 0.5, unmasked: 5), none)
        let last = try weights(workers: 1, dropout: 0.5, unmasked: 1)
        XCTAssertGreaterThan(zip(last, none).map { abs($0 - $1) }.max()!, 1e-4)
        XCTAssertGreaterThan(zip(last, masked).map { abs($0 - $1) }.max()!, 1e-6)
        for bad in [["model.unmasked_tuning_steps=-1"], ["model.patch_dropout=0", "model.unmasked_tuning_steps=10"]] {
            XCTAssertThrowsError(try run.config(run.yaml(), overrides: bad)) {
                XCTAssertTrue("\($0)".contains("model.unmasked_tuning_steps"), "\($0)")
            }
        }
    }

    func testResumeWithPatchDropoutIsExact() throws {
        let overrides = ["model.patch_dropout=0.5"]
        func train(resume: String? = nil) throws {
            let trainer = try Trainer(config: try run.config(run.yaml(steps: 8, workers: 2), overrides: overrides),
                                      resume: resume, overwrite: resume == nil, log: { _ in })
            _ = try trainer.run()
        }
        try train()
        let straight = try run.modelBytes(step: 8)
        try train()
        try FileManager.default.removeItem(at: run.root.appendingPathComponent("runs/test/checkpoints/step-00000008"))
        try train(resume: run.root.appendingPathComponent("runs/test/checkpoints/step-00000004").path)
        XCTAssertEqual(try run.modelBytes(step: 8), straight)
    }

    func testConvolutionalTowerRefusesPatchDropout() throws {
        let conv = run.root.appendingPathComponent("conv.json")
        try """
        {"embed_dim": 16, "vision_cfg": {"type": "convnet", "image_size": 16, "convnet_widths": [8, 16], "width": 16, "layers": 1},
         "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
        """.write(to: conv, atomically: true, encoding: .utf8)
        let cfg = try run.config(run.yaml(), overrides: ["model.config=\(conv.path)", "model.patch_dropout=0.5"])
        XCTAssertThrowsError(try Trainer(config: cfg, log: { _ in })) { XCTAssertTrue("\($0)".contains("model.patch_dropout"), "\($0)") }
        XCTAssertThrowsError(try run.config(run.yaml(), overrides: ["model.patch_dropout=1"])) {
            XCTAssertTrue("\($0)".contains("model.patch_dropout"), "\($0)")
        }
    }
}
