import Foundation
import XCTest
@testable import NeuralNet

/// The built-in OpenCLIP architecture names, checked against OpenCLIP's own parameter counts
/// (`docs/model_profile.csv`, millions to two decimals), and the refusal of OpenCLIP options
/// SwiftCLIP does not implement.
final class BuiltInModelConfigTests: XCTestCase {
    /// OpenCLIP's `model_profile.csv` `mparams` column (quickgelu variants share their base's).
    let openCLIPMillions: [String: Double] = [
        "ViT-B-32": 151.28, "ViT-B-16": 149.62, "ViT-L-14": 427.62, "ViT-L-14-336": 427.94,
        "ViT-H-14": 986.11, "ViT-g-14": 1366.68, "ViT-bigG-14": 2539.57,
    ]

    /// Closed-form parameter count of a ViT CLIP (REFERENCE.md's state dict), without building it.
    func parameterCount(_ c: ModelConfig) -> Int {
        func blocks(_ w: Int, _ layers: Int, _ ratio: Double) -> Int {
            let hidden = Int(Double(w) * ratio)
            return layers * (4 * w + 3 * w * w + 3 * w + w * w + w + hidden * w + hidden + w * hidden + w)
        }
        let v = c.visionCfg, t = c.textCfg, e = c.embedDim
        let grid = v.imageSize / v.patchSize
        let vision = v.width * 3 * v.patchSize * v.patchSize + v.width + (grid * grid + 1) * v.width + 2 * v.width
            + blocks(v.width, v.layers, v.mlpRatio) + 2 * v.width + v.width * e
        let text = t.vocabSize * t.width + t.contextLength * t.width + blocks(t.width, t.layers, t.mlpRatio)
            + 2 * t.width + t.width * e
        return vision + text + 1
    }

    func testEveryBuiltInNameHasOpenCLIPsParameterCount() throws {
        XCTAssertEqual(ModelConfig.builtInNames.count, 13)
        for name in ModelConfig.builtInNames {
            let config = try XCTUnwrap(ModelConfig.builtIn(name), name)
            let base = name.replacingOccurrences(of: "-quickgelu", with: "")
            let expected = try XCTUnwrap(openCLIPMillions[base], name)
            XCTAssertEqual(Double(parameterCount(config)) / 1e6, expected, accuracy: 0.005, name)
            XCTAssertEqual(config.quickGelu, name.hasSuffix("-quickgelu"), name)
            if name != base {
                var plain = config
                plain.quickGelu = false
                XCTAssertEqual(plain, ModelConfig.builtIn(base), "\(name) differs from \(base) only in quick_gelu")
            }
            XCTAssertEqual(try ModelConfig.resolve(name), config)
        }
    }

    /// The model SwiftCLIP builds has the closed-form count: exactly 151,277,313 for ViT-B-32, and
    /// OpenCLIP's `int(width · mlp_ratio)` hidden width for a fractional ratio (as ViT-g-14's 4.3637).
    func testBuiltModelsHaveTheClosedFormCount() throws {
        let b32 = try XCTUnwrap(ModelConfig.builtIn("ViT-B-32"))
        XCTAssertEqual(parameterCount(b32), 151_277_313)
        XCTAssertEqual(CLIPModel(b32).parameterCount, 151_277_313)
        let small = ModelConfig(embedDim: 16, visionCfg: VisionConfig(imageSize: 16, patchSize: 8, width: 22, layers: 1,
                                                                       headWidth: 11, mlpRatio: 4.3637),
                                textCfg: TextConfig(contextLength: 5, vocabSize: 30, width: 16, heads: 2, layers: 1))
        XCTAssertEqual(CLIPModel(small).parameterCount, parameterCount(small))
    }

    func testAnUnknownNameListsTheBuiltInOnes() {
        XCTAssertThrowsError(try ModelConfig.resolve("ViT-Z-99")) { error in
            XCTAssertTrue("\(error)".hasPrefix("ViT-Z-99: neither a model-config JSON file nor a built-in architecture (ViT-B-32, "), "\(error)")
        }
    }

    private func decode(_ json: String) throws -> ModelConfig {
        try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
    }

    private func config(vision: String = "", text: String = "", top: String = "") -> String {
        #"{"embed_dim": 8, "#
            + #""vision_cfg": {"image_size": 8, "patch_size": 4, "width": 16, "head_width": 8, "layers": 1\#(vision)}, "#
            + #""text_cfg": {"context_length": 4, "vocab_size": 10, "width": 8, "heads": 2, "layers": 1\#(text)}\#(top)}"#
    }

    /// OpenCLIP options that change the network are refused with one line naming the key, unless
    /// they hold OpenCLIP's default; options without effect on the network pass.
    func testUnimplementedOpenCLIPOptionsAreRefusedUnlessDefault() throws {
        let refused: [(String, String)] = [
            (config(vision: #", "ls_init_value": 0.1"#), "vision_cfg.ls_init_value"),
            (config(vision: #", "no_ln_pre": true"#), "vision_cfg.no_ln_pre"),
            (config(vision: #", "attentional_pool": true"#), "vision_cfg.attentional_pool"),
            (config(vision: #", "final_ln_after_pool": true"#), "vision_cfg.final_ln_after_pool"),
            (config(vision: #", "timm_model_name": "vit_base""#), "vision_cfg.timm_model_name"),
            (config(text: #", "proj_bias": true"#), "text_cfg.proj_bias"),
            (config(text: #", "hf_model_name": "roberta-base""#), "text_cfg.hf_model_name"),
            (config(text: #", "tokenizer_kwargs": {"clean": "canonicalize"}"#), "text_cfg.tokenizer_kwargs"),
            (config(top: #", "custom_text": true"#), "custom_text"),
            (config(vision: #", "spline_pool": 3"#), "vision_cfg.spline_pool"),
        ]
        for (json, key) in refused {
            XCTAssertThrowsError(try decode(json), key) { error in
                XCTAssertTrue("\(error)".hasPrefix(key + ": "), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
        let accepted = config(vision: #", "ls_init_value": null, "no_ln_pre": false, "patch_dropout": 0.5, "pos_embed_type": "learnable""#,
                              text: #", "proj_bias": false, "hf_model_name": null, "pad_id": 1, "proj_type": "linear""#,
                              top: #", "custom_text": false, "cast_dtype": "bf16""#)
        XCTAssertEqual(try decode(accepted), try decode(config()))
    }

    /// Kinds are typed but keep their spellings: a wrong one is one line naming the key and the
    /// allowed values, and the JSON a checkpoint embeds spells them as before.
    func testKindsKeepTheirSpellings() throws {
        let wrong: [(String, String)] = [
            (config(vision: #", "type": "resnet""#), "src: vision_cfg.type must be one of vit, convnet, got resnet"),
            (config(vision: #", "pool_type": "none""#), "src: vision_cfg.pool_type must be tok or avg, got none"),
            (config(text: #", "pool_type": "last""#), "src: text_cfg.pool_type must be argmax or first, got last"),
        ]
        for (json, expected) in wrong {
            XCTAssertThrowsError(try ModelConfig.decode(ModelConfig.self, from: Data(json.utf8), source: "src") { try $0.validate() }) {
                XCTAssertEqual("\($0)", expected)
            }
        }
        let typed = try decode(config(vision: #", "pool_type": "avg""#, text: #", "pool_type": "first""#))
        XCTAssertEqual([typed.visionCfg.poolType.rawValue, typed.textCfg.poolType.rawValue], ["avg", "first"])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: typed.jsonData()) as? [String: Any])
        let vision = try XCTUnwrap(json["vision_cfg"] as? [String: Any]), text = try XCTUnwrap(json["text_cfg"] as? [String: Any])
        XCTAssertEqual(vision["type"] as? String, "vit")
        XCTAssertEqual(vision["pool_type"] as? String, "avg")
        XCTAssertEqual(text["pool_type"] as? String, "first")
        XCTAssertEqual(try JSONDecoder().decode(ModelConfig.self, from: typed.jsonData()), typed)
    }
}
