import Foundation
import SwiftCLIP
import XCTest

/// AdamW and SGD against scalar reference recurrences; OpenCLIP's decay exclusions; clipping.
final class OptimizerTests: XCTestCase {
    func testAdamWMatchesTheReferenceRecurrence() {
        let values: [Float] = (0..<37).map { Float($0) * 0.1 - 1.5 }
        let p = Variable(Tensor(shape: [37], scalars: values), requiresGrad: true)
        let opt = AdamW([ParameterGroupEntry(name: "w", parameter: p, weightDecay: 0.1)], betas: (0.9, 0.98), eps: 1e-6)
        var ref = values.map(Double.init), m = [Double](repeating: 0, count: 37), v = m
        for t in 1...5 {
            let g = (0..<37).map { Float(sin(Double($0 + t))) }
            p.grad = Tensor(shape: [37], scalars: g)
            opt.update(lr: 0.01)
            for i in 0..<37 {
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.98 * v[i] + 0.02 * Double(g[i]) * Double(g[i])
                let mh = m[i] / (1 - pow(0.9, Double(t))), vh = v[i] / (1 - pow(0.98, Double(t)))
                ref[i] = ref[i] * (1 - 0.01 * 0.1) - 0.01 * mh / (vh.squareRoot() + 1e-6)
            }
        }
        for i in 0..<37 { XCTAssertEqual(Double(p.value[flat: i]), ref[i], accuracy: 1e-5) }
    }

    func testSGDWithMomentum() {
        let p = Variable(Tensor(shape: [2], scalars: [1, -1]), requiresGrad: true)
        let opt = SGD([ParameterGroupEntry(name: "w", parameter: p, weightDecay: 0)], momentum: 0.5)
        p.grad = Tensor(shape: [2], scalars: [1, 2]); opt.update(lr: 0.1)   // b = g
        p.grad = Tensor(shape: [2], scalars: [1, 2]); opt.update(lr: 0.1)   // b = 0.5 g + g
        XCTAssertEqual(p.value.scalars[0], 1 - 0.1 - 0.15, accuracy: 1e-6)
        XCTAssertEqual(p.value.scalars[1], -1 - 0.2 - 0.3, accuracy: 1e-6)
    }

    func testOpenCLIPDecayExclusions() {
        XCTAssertTrue(decays("visual.transformer.resblocks.0.attn.in_proj_weight", shape: [96, 32]))
        XCTAssertFalse(decays("visual.transformer.resblocks.0.attn.in_proj_bias", shape: [96]))
        XCTAssertFalse(decays("visual.positional_embedding", shape: [50, 32]))
        XCTAssertFalse(decays("visual.class_embedding", shape: [32]))
        XCTAssertFalse(decays("positional_embedding", shape: [77, 32]))
        XCTAssertFalse(decays("logit_scale", shape: []))
        XCTAssertTrue(decays("token_embedding.weight", shape: [49408, 32]))
    }

    func testGlobalNormClipping() {
        let a = Variable(.zeros([2]), requiresGrad: true), b = Variable(.zeros([1]), requiresGrad: true)
        a.grad = Tensor(shape: [2], scalars: [3, 0]); b.grad = Tensor(shape: [1], scalars: [4])
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        XCTAssertEqual(a.grad!.scalars[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(b.grad!.scalars[0], 0.8, accuracy: 1e-5)
    }
}

/// A non-finite update is found before it is applied (issue 12.2).
final class NonfiniteUpdateTests: XCTestCase {
    func testAdamWWithZeroEpsAndZeroGradientIsCaughtBeforeTheUpdate() {
        // m = v = 0 and ε = 0 give 0/0 for the zero gradient of `b`.
        let a = Variable(Tensor(shape: [20], scalars: (0..<20).map(Float.init)), requiresGrad: true)
        let b = Variable(Tensor(shape: [3], scalars: [1, 2, 3]), requiresGrad: true)
        a.grad = Tensor(shape: [20], scalars: (0..<20).map { Float($0) - 7.5 })
        b.grad = Tensor.zeros([3])
        let adam = AdamW([ParameterGroupEntry(name: "a", parameter: a, weightDecay: 0),
                          ParameterGroupEntry(name: "b", parameter: b, weightDecay: 0)], eps: 0)
        XCTAssertEqual(adam.firstNonfiniteUpdate(lr: 0.1), "b")
        XCTAssertEqual(adam.step, 0)
        XCTAssertEqual(b.value.scalars, [1, 2, 3])
        XCTAssertTrue(adam.stateTensors().allSatisfy { $0.value.scalars.allSatisfy { $0 == 0 } })
        b.grad = Tensor(shape: [3], scalars: [1, -1, 2])
        XCTAssertNil(adam.firstNonfiniteUpdate(lr: 0.1))
    }

    func testSGDOverflowIsCaughtBeforeTheUpdate() {
        let p = Variable(Tensor(shape: [40], scalars: [Float](repeating: 2, count: 40)), requiresGrad: true)
        p.grad = Tensor(shape: [40], scalars: [Float](repeating: 1e30, count: 40))
        let sgd = SGD([ParameterGroupEntry(name: "w", parameter: p, weightDecay: 0)])
        XCTAssertEqual(sgd.firstNonfiniteUpdate(lr: 1e10), "w")
        XCTAssertNil(sgd.firstNonfiniteUpdate(lr: 1e-3))
        XCTAssertEqual(p.value.scalars, [Float](repeating: 2, count: 40))
    }
}
