import Foundation
import SwiftCLIP
import XCTest

/// Deterministic random inputs for a model config.
func syntheticInputs(batch: Int, config: ModelConfig) -> TowerInputs {
    var rng = RandomGenerator(seed: 5)
    let s = config.visionCfg.imageSize, ctx = config.textCfg.contextLength
    let images = Tensor.randomNormal([batch, s, s, 3], using: &rng)
    var tokens = [Int32](repeating: 0, count: batch * ctx)
    for b in 0..<batch {
        let end = 3 + b % 4
        tokens[b * ctx] = 49406
        for t in 1..<end { tokens[b * ctx + t] = Int32(100 + (b * 7 + t) % 300) }
        tokens[b * ctx + end] = 49407
    }
    return TowerInputs(images: images, tokens: tokens)
}

/// The data-parallel step and feature-caching accumulation compute the large-batch gradient.
final class StepEquivalenceTests: XCTestCase {
    func gradients(workers: Int, accumulation: Int) -> [Float] {
        let config = ModelConfig(embedDim: 8, visionCfg: VisionConfig(imageSize: 8, patchSize: 4, width: 16, layers: 1, headWidth: 8),
                                 textCfg: TextConfig(contextLength: 8, vocabSize: 49408, width: 16, heads: 2, layers: 1))
        let model = CLIPModel(config, seed: 1)
        let step = DataParallelStep(model: model, objective: CLIPObjective(), workers: workers, accumulation: accumulation)
        step.run(syntheticInputs(batch: 24, config: config))
        return model.parameters.flatMap { $0.grad?.scalars ?? [] }
    }

    func testWorkersAndAccumulationGiveTheFullBatchGradient() {
        let reference = gradients(workers: 1, accumulation: 1)
        for (w, k) in [(2, 1), (3, 1), (4, 1), (1, 2), (2, 2), (1, 4)] {
            let g = gradients(workers: w, accumulation: k)
            XCTAssertEqual(g.count, reference.count)
            let diff = zip(g, reference).map { abs($0 - $1) }.max()!
            let scale = reference.map(abs).max()!   // float32 summation-order noise scales with the gradients
            // fp32 summation-order noise: ≈ 16 ulps of the largest gradient at most (a wrong split is O(1)).
            XCTAssertLessThan(diff, 2e-6 * scale, "workers \(w), accumulation \(k) (largest gradient \(scale))")
        }
    }

    /// Workers that share a gradient store finish in whatever order the threads run; the result
    /// must not depend on it.
    func testSameWorkerCountIsBitIdentical() {
        for (w, k) in [(2, 1), (2, 2), (3, 1), (4, 2)] {
            let first = gradients(workers: w, accumulation: k)
            for _ in 0..<4 { XCTAssertEqual(gradients(workers: w, accumulation: k), first, "workers \(w), accumulation \(k)") }
        }
    }
}

/// Recomputing transformer blocks in the backward pass gives the same gradients.
final class RecomputationTests: XCTestCase {
    func testRecomputedBlocksGiveTheSameGradients() {
        let config = ModelConfig(embedDim: 8, visionCfg: VisionConfig(imageSize: 8, patchSize: 4, width: 16, layers: 2, headWidth: 8),
                                 textCfg: TextConfig(contextLength: 8, vocabSize: 49408, width: 16, heads: 2, layers: 2))
        func grads(_ recompute: Bool) -> [Float] {
            let model = CLIPModel(config, seed: 1)
            model.setActivationRecomputation(recompute)
            DataParallelStep(model: model, objective: CLIPObjective(), workers: 1)
                .run(syntheticInputs(batch: 4, config: config))
            return model.parameters.flatMap { $0.grad?.scalars ?? [] }
        }
        let plain = grads(false), recomputed = grads(true)
        XCTAssertEqual(plain.count, recomputed.count)
        XCTAssertLessThan(zip(plain, recomputed).map { abs($0 - $1) }.max()!, 1e-6)
    }
}
