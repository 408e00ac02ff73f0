import NeuralNet
import XCTest

/// The towers behind `ImageTower` / `TextTower` (issue 14.5): `TowerFactory` builds the tower a config
/// names, and activation recomputation reaches every transformer through the protocols.
final class TowerTests: XCTestCase {
    func model(vision: VisionConfig) -> CLIPModel {
        CLIPModel(ModelConfig(embedDim: 8, visionCfg: vision,
                              textCfg: TextConfig(contextLength: 6, vocabSize: 50, width: 16, heads: 2, layers: 1)), seed: 1)
    }

    let vit = VisionConfig(imageSize: 8, patchSize: 4, width: 16, layers: 1, headWidth: 8)
    let convnet = VisionConfig(type: .convnet, imageSize: 8, patchSize: 4, width: 16, layers: 1, convnetWidths: [4, 8])

    func testFactoryBuildsTheTowerTheConfigNames() {
        XCTAssertTrue(model(vision: vit).visual is VisionTransformer)
        XCTAssertTrue(model(vision: convnet).visual is ConvTower)
        XCTAssertTrue(model(vision: vit).text is TextTransformer)
        XCTAssertEqual(model(vision: convnet).visual.patchTokenCount, nil)
        XCTAssertEqual(model(vision: vit).visual.patchTokenCount, 4)
    }

    func testRecomputationReachesBothTowers() throws {
        let m = model(vision: vit)
        let visual = try XCTUnwrap(m.visual as? VisionTransformer), text = try XCTUnwrap(m.text as? TextTransformer)
        XCTAssertFalse(visual.transformer.recomputeActivations || text.transformer.recomputeActivations)
        m.setActivationRecomputation(true)
        XCTAssertTrue(visual.transformer.recomputeActivations && text.transformer.recomputeActivations)
        m.setActivationRecomputation(false)
        XCTAssertFalse(visual.transformer.recomputeActivations || text.transformer.recomputeActivations)
        // The conv tower has no blocks to recompute; its text tower still does.
        let c = model(vision: convnet)
        c.setActivationRecomputation(true)
        XCTAssertTrue(try XCTUnwrap(c.text as? TextTransformer).transformer.recomputeActivations)
    }

    /// The text tower's end positions are where its pooled features come from (OpenCLIP's argmax pooling).
    func testTextTowerPoolsAtTheEndPositions() {
        let m = model(vision: vit)
        let tokens: [Int32] = [49, 3, 7, 0, 0, 0,   1, 2, 3, 4, 5, 9]
        XCTAssertEqual(m.text.endPositions(tokens, batch: 2), [0, 5])
        let out = m.text(tokens, batch: 2, returnTokens: true)
        let pooled = out.pooled.value, all = out.tokens!.value   // [2, 8], [2, 6, 8]
        for (row, end) in [(0, 0), (1, 5)] {
            for e in 0..<8 { XCTAssertEqual(pooled[flat: row * 8 + e], all[flat: (row * 6 + end) * 8 + e], accuracy: 1e-5) }
        }
    }
}
