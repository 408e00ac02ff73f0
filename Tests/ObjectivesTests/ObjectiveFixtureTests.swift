import Foundation
import Objectives
import XCTest

/// Every objective's loss and gradients against float64 PyTorch/OpenCLIP results
/// (`Tests/Fixtures/objectives`, made by `Scripts/make-objective-fixtures.py`).
///
/// Fixture inputs are already unit rows and the reference does not re-normalize, so these tests
/// run the objectives with `normalizesFeatures = false`; `testNormalizationProjectsTheGradient`
/// covers the normalizing path. Tolerance: max |actual − expected| ≤ 1e-4 · max(max |expected|, 1e-3)
/// per tensor (float32 arithmetic against float64 references).
final class ObjectiveFixtureTests: XCTestCase {
    static let batchSizes = [1, 3, 8, 13]

    func assertClose(_ actual: Tensor?, _ expected: Tensor, _ what: String, rtol: Float = 1e-4,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let actual else { return XCTFail("\(what): no gradient", file: file, line: line) }
        XCTAssertEqual(actual.count, expected.count, "\(what): shape \(actual.shape) vs \(expected.shape)", file: file, line: line)
        var scale: Float = 1e-3
        for i in 0..<expected.count { scale = max(scale, abs(expected[flat: i])) }
        let diff = actual.maxAbsDifference(expected)
        XCTAssertLessThanOrEqual(diff, rtol * scale, "\(what): max difference \(diff) (scale \(scale))", file: file, line: line)
    }

    func leaf(_ t: Tensor) -> Variable { Variable(t, requiresGrad: true) }

    /// Runs `objective` on `features`/`scalars`, back-propagates, and checks the loss and the
    /// gradients named in `grads` (fixture input name → variable).
    func check(_ fixture: Fixture, _ objective: any Objective, _ features: Features, _ scalars: ObjectiveScalars,
               grads: [String: Variable], file: StaticString = #filePath, line: UInt = #line) {
        let loss = objective.loss(features, scalars)
        loss.backward()
        assertClose(loss.value, fixture["expected.loss"], "\(fixture.name) loss", file: file, line: line)
        for (name, v) in grads {
            assertClose(v.grad ?? Tensor.zeros(v.shape), fixture["expected.grad.\(name)"], "\(fixture.name) d\(name)", file: file, line: line)
        }
    }

    /// Image, text and logit_scale leaves of a two-tower fixture.
    func pairLeaves(_ f: Fixture, scalar: String = "logit_scale_param") -> (Variable, Variable, Variable) {
        (leaf(f["image_features"]), leaf(f["text_features"]), leaf(f[scalar]))
    }

    func testCLIP() throws {
        for b in Self.batchSizes {
            let f = try Fixture("clip-b\(b)")
            var o = CLIPObjective()
            o.normalizesFeatures = false
            let (x, y, t) = pairLeaves(f)
            check(f, o, Features(image: x, text: y), ObjectiveScalars(logitScale: t),
                  grads: ["image_features": x, "text_features": y, "logit_scale_param": t])
        }
    }

    func testALIGN() throws {
        for b in Self.batchSizes {
            let f = try Fixture("align-b\(b)")
            XCTAssertEqual(f.options["label_smoothing"] as? Double, 0.1)
            var o = ALIGNObjective()
            o.normalizesFeatures = false
            let (x, y, sigma) = pairLeaves(f, scalar: "temperature")
            check(f, o, Features(image: x, text: y), ObjectiveScalars(logitScale: sigma),
                  grads: ["image_features": x, "text_features": y, "temperature": sigma])
        }
    }

    func testConVIRT() throws {
        for b in Self.batchSizes {
            let f = try Fixture("convirt-b\(b)")
            var o = ConVIRTObjective(lambda: Float(f.options["lambda"] as! Double), temperature: Float(f.options["temperature"] as! Double))
            o.normalizesFeatures = false
            let x = leaf(f["image_features"]), y = leaf(f["text_features"])
            let unused = Variable(Tensor(0), requiresGrad: true)
            check(f, o, Features(image: x, text: y), ObjectiveScalars(logitScale: unused),
                  grads: ["image_features": x, "text_features": y])
            XCTAssertNil(unused.grad, "ConVIRT must not use the logit scale")
        }
    }

    func testSigLIPWithSeveralBlockSizes() throws {
        for b in Self.batchSizes {
            for block in [1, 4, 5, 128] {   // 4 and 5 divide none of 3 and 13
                let f = try Fixture("siglip-b\(b)")
                var o = SigLIPObjective(blockSize: block)
                o.normalizesFeatures = false
                let (x, y, t) = pairLeaves(f)
                let bias = leaf(f["logit_bias"])
                check(f, o, Features(image: x, text: y), ObjectiveScalars(logitScale: t, logitBias: bias),
                      grads: ["image_features": x, "text_features": y, "logit_scale_param": t, "logit_bias": bias])
            }
        }
    }

    func testFILIPWithSeveralBlockSizes() throws {
        for b in Self.batchSizes {
            for block in [1, 2, 5, 16] {
                let f = try Fixture("filip-b\(b)")
                var o = FILIPObjective(blockSize: block)
                o.normalizesFeatures = false
                let x = leaf(f["image_tokens"]), y = leaf(f["text_tokens"]), t = leaf(f["logit_scale_param"])
                // Pooled features are unused by FILIP; pass the token means.
                let features = Features(image: Variable(f["image_tokens"].mean(axis: 1)), text: Variable(f["text_tokens"].mean(axis: 1)),
                                        imageTokens: x, textTokens: y, textMask: f["text_mask"])
                check(f, o, features, ObjectiveScalars(logitScale: t),
                      grads: ["image_tokens": x, "text_tokens": y, "logit_scale_param": t])
                // The two similarity matrices themselves, [image, text].
                let valid = FILIPObjective.validTokens(mask: f["text_mask"], includeSpecialTokens: true)
                let r = FILIPKernel.forward(imageTokens: f["image_tokens"], textTokens: f["text_tokens"], validTokens: valid, blockSize: block)
                assertClose(r.imageToText, f["expected.image_to_text_similarity"], "\(f.name) s^I")
                assertClose(r.textToImage, f["expected.text_to_image_similarity"], "\(f.name) s^T")
            }
        }
    }

    func testFILIPPaddedTokensGetNoGradient() throws {
        let f = try Fixture("filip-b8")
        var o = FILIPObjective()
        o.normalizesFeatures = false
        let y = leaf(f["text_tokens"])
        let features = Features(image: Variable(Tensor.zeros([8, 8])), text: Variable(Tensor.zeros([8, 8])),
                                imageTokens: leaf(f["image_tokens"]), textTokens: y, textMask: f["text_mask"])
        o.loss(features, ObjectiveScalars(logitScale: leaf(f["logit_scale_param"]))).backward()
        let mask = f["text_mask"], g = y.grad!
        for j in 0..<8 { for r in 0..<7 where mask[flat: j * 7 + r] == 0 {
            for c in 0..<8 { XCTAssertEqual(g[flat: (j * 7 + r) * 8 + c], 0) }
        } }
    }

    func testMultiPositive() throws {
        for b in Self.batchSizes {
            let f = try Fixture("multipos-b\(b)")
            let sets = f["caption_features"]
            let count = sets.shape[0]
            var o = MultiPositiveObjective(k: count - 1)
            o.normalizesFeatures = false
            let x = leaf(f["image_features"]), t = leaf(f["logit_scale_param"])
            let captions = sets.split(axis: 0, sizes: Array(repeating: 1, count: count)).map { leaf($0.reshaped([b, -1])) }
            check(f, o, Features(image: x, text: captions[0], extraTexts: Array(captions.dropFirst())), ObjectiveScalars(logitScale: t),
                  grads: ["image_features": x, "logit_scale_param": t])
            let dCaptions = Tensor.concat(captions.map { $0.grad!.reshaped([1, b, -1]) }, axis: 0)
            assertClose(dCaptions, f["expected.grad.caption_features"], "\(f.name) dcaption_features")
        }
    }

    func testLongCLIP() throws {
        for name in ["longclip-b48-w1", "longclip-b48-w0.1"] {
            let f = try Fixture(name)
            let w = Float(f.options["short_weight"] as! Double)
            var o = LongCLIPObjective(shortWeight: w, components: f.options["components"] as! Int,
                                      labelSmoothing: Float(f.options["label_smoothing"] as! Double))
            o.normalizesFeatures = false
            let x = leaf(f["image_features"]), yL = leaf(f["long_text_features"]), yS = leaf(f["short_text_features"])
            let t = leaf(f["logit_scale_param"])
            check(f, o, Features(image: x, text: yL, extraTexts: [yS]), ObjectiveScalars(logitScale: t),
                  grads: ["image_features": x, "long_text_features": yL, "short_text_features": yS, "logit_scale_param": t])
            let xS = LongCLIPObjective.shortImageFeatures(Variable(f["image_features"]), components: 32)
            assertClose(xS.value, f["expected.short_image_features"], "\(name) xS")
        }
    }

    /// With normalization on, unit-norm inputs give the same loss and the gradient projected
    /// onto the tangent space: dx = (g − x̂ (x̂·g)) / ‖x‖.
    func testNormalizationProjectsTheGradient() throws {
        let f = try Fixture("align-b8")
        let (x, y, sigma) = pairLeaves(f, scalar: "temperature")
        let loss = ALIGNObjective().loss(Features(image: x, text: y), ObjectiveScalars(logitScale: sigma))
        loss.backward()
        assertClose(loss.value, f["expected.loss"], "normalized loss")
        for (v, name) in [(x, "image_features"), (y, "text_features")] {
            let (unit, norms) = v.value.l2Normalized()
            let expected = Tensor.l2NormalizedBackward(y: unit, norms: norms, dy: f["expected.grad.\(name)"])
            assertClose(v.grad, expected, "projected d\(name)")
        }
    }
}
