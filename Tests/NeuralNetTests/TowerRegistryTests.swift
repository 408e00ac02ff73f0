import Foundation
import NeuralNet
import XCTest

/// An image tower the package does not have, registered from outside: the mean colour of the
/// image through one linear layer (`proj.*`).
final class MeanColorTower: ImageTower {
    let imageSize: Int
    let projection: Linear
    var patchTokenCount: Int? { nil }

    init(_ config: VisionConfig, embedDim: Int, using rng: inout RandomGenerator) {
        imageSize = config.imageSize
        projection = Linear(3, embedDim, using: &rng)
    }

    func callAsFunction(_ images: Variable, returnTokens: Bool, keptPatches: [Int]?) -> (pooled: Variable, tokens: Variable?) {
        let b = images.shape[0]
        return (projection(images.reshaped([b, imageSize * imageSize, 3]).mean(axis: 1)), nil)
    }

    func setActivationRecomputation(_ on: Bool) {}
    func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) { projection.visitParameters(prefix + "proj.", visit) }

    static let registered: Void = {
        try! TowerFactory.registerImageTower("test-mean-color", validate: { config in
            guard config.imageSize > 0 else { throw ModelError("vision_cfg.image_size: must be positive") }
        }) { config, embedDim, _, rng in MeanColorTower(config, embedDim: embedDim, using: &rng) }
    }()
}

final class TowerRegistryTests: XCTestCase {
    func config(_ type: String) -> Data {
        Data("""
        {"embed_dim": 8, "vision_cfg": {"type": "\(type)", "image_size": 4},
         "text_cfg": {"context_length": 6, "vocab_size": 100, "width": 16, "heads": 2, "layers": 1}}
        """.utf8)
    }

    func testARegisteredImageTowerIsBuiltFromItsConfigType() throws {
        _ = MeanColorTower.registered
        let config = try ModelConfig.decode(ModelConfig.self, from: config("test-mean-color"), source: "m.json") { try $0.validate() }
        let model = CLIPModel(config, seed: 1)
        XCTAssertTrue(model.visual is MeanColorTower)
        XCTAssertEqual(model.namedParameters().filter { $0.name.hasPrefix("visual.") }.map(\.name), ["visual.proj.weight", "visual.proj.bias"])
        // Its forward is its formula: the mean colour of a constant image is that colour.
        let image = Tensor(shape: [1, 4, 4, 3], scalars: Array(repeating: [0.5, -1, 2] as [Float], count: 16).flatMap { $0 })
        let pooled = model.encodeImage(image).pooled.value.scalars
        let tower = model.visual as! MeanColorTower
        let w = tower.projection.weight.value.scalars, bias = tower.projection.bias!.value.scalars
        for e in 0..<8 { XCTAssertEqual(pooled[e], 0.5 * w[e * 3] - w[e * 3 + 1] + 2 * w[e * 3 + 2] + bias[e], accuracy: 1e-5) }
        // Written JSON keeps the type, so checkpoints load it back.
        XCTAssertEqual(try JSONDecoder().decode(ModelConfig.self, from: config.jsonData()).visionCfg.type, "test-mean-color")
    }

    func testUnknownTowersAreRefusedNamingTheRegisteredOnes() {
        XCTAssertThrowsError(try ModelConfig.decode(ModelConfig.self, from: config("resnet"), source: "m.json") { try $0.validate() }) {
            XCTAssertTrue("\($0)".contains("vision_cfg.type must be one of vit, convnet"), "\($0)")
        }
        XCTAssertThrowsError(try TowerFactory.registerImageTower("vit", validate: { _ in }) { c, e, a, rng in
            VisionTransformer(c, embedDim: e, activation: a, using: &rng)
        })
    }

    func testTheDefaultTextTowerIsNotWrittenSoConfigsKeepTheirBytes() throws {
        let config = try JSONDecoder().decode(ModelConfig.self, from: config("vit"))
        XCTAssertEqual(config.textCfg.type, .transformer)
        XCTAssertFalse(String(decoding: config.jsonData(), as: UTF8.self).contains("transformer"))
    }
}
