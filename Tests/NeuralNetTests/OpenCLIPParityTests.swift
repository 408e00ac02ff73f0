import Checkpointing
import Foundation
import NeuralNet
import TestSupport
import XCTest

/// Parity with OpenCLIP: fixtures made by Scripts/make-model-fixtures.py hold OpenCLIP's
/// random-init weights under their state-dict names, fixed inputs, and OpenCLIP's outputs.
final class OpenCLIPParityTests: XCTestCase {
    func load(_ name: String) throws -> (model: CLIPModel, file: SafeTensorsFile, tensors: [String: Tensor]) {
        try ModelFixtures.load(name)
    }

    func check(_ name: String) throws {
        let (model, _, t) = try load(name)
        let images = t["input.images"]!.permuted([0, 2, 3, 1])  // NCHW → NHWC
        let tokens = t["input.tokens"]!.scalars.map { Int32($0) }
        let m = t["input.tokens"]!.shape[0]
        let (image, imageTokens) = GradMode.noGrad { model.encodeImage(images, returnTokens: true) }
        let text = GradMode.noGrad { model.encodeText(tokens, batch: m).pooled }
        XCTAssertLessThanOrEqual(image.value.maxAbsDifference(t["expected.image_features"]!), 1e-4, "\(name) image features")
        XCTAssertLessThanOrEqual(text.value.maxAbsDifference(t["expected.text_features"]!), 1e-4, "\(name) text features")
        XCTAssertEqual(image.shape, t["expected.image_features"]!.shape)
        XCTAssertEqual(text.shape, t["expected.text_features"]!.shape)
        // Patch tokens: OpenCLIP's ln_post output projected with `proj`.
        let expectedTokens = t["expected.image_tokens"]!.matmul(model.visual.namedParameters().first { $0.name == "proj" }!.parameter.value)
        XCTAssertLessThanOrEqual(imageTokens!.value.maxAbsDifference(expectedTokens), 1e-4, "\(name) image tokens")
        let logits = image.value.l2Normalized().y.matmul(text.value.l2Normalized().y, transposeOther: true)
            * Foundation.exp(model.logitScale.value.scalar)
        XCTAssertLessThanOrEqual(logits.maxAbsDifference(t["expected.logits_per_image"]!), 1e-3, "\(name) logits")
    }

    func testExactGELUModel() throws { try check("vit-gelu-a") }
    func testQuickGELUModelWithContext77() throws { try check("vit-quickgelu-b") }
    func testDeeperTextShallowerVision() throws { try check("vit-gelu-c") }

    func testStateDictNamesAndShapesMatchOpenCLIP() throws {
        let (model, file, _) = try load("vit-gelu-a")
        let ours = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.parameter.shape) })
        let theirs = Dictionary(uniqueKeysWithValues: file.records.filter { !$0.name.hasPrefix("input.") && !$0.name.hasPrefix("expected.") }
            .map { ($0.name, $0.shape) })
        XCTAssertEqual(ours, theirs)
    }

    func testStrictLoadingListsTheOffendingKeys() throws {
        let (model, _, t) = try load("vit-gelu-a")
        var weights = t.filter { !$0.key.hasPrefix("input.") && !$0.key.hasPrefix("expected.") }
        weights.removeValue(forKey: "ln_final.bias")
        weights["extra.weight"] = Tensor.zeros([1])
        weights["visual.proj"] = Tensor.zeros([2, 2])
        XCTAssertThrowsError(try model.load(weights, source: "w.safetensors")) { error in
            let m = String(describing: error)
            XCTAssertTrue(m.contains("missing ln_final.bias"), m)
            XCTAssertTrue(m.contains("unexpected extra.weight"), m)
            XCTAssertTrue(m.contains("wrong shape visual.proj [2, 2]"), m)
            XCTAssertFalse(m.contains("\n"))
        }
    }
}
