import Foundation
import Objectives
import Tokenization
import SwiftCLIP
import XCTest

/// Evaluation of FILIP models with token-level scores, against plain loops over the definitions
/// (Yao et al., 2021): retrieval ranks texts by s^I and images by s^T; zero-shot averages s^I
/// over each class's prompts.
final class FILIPEvaluationTests: XCTestCase {
    /// s^I and s^T [I][J] in Double from the definition.
    func naive(_ x: Tensor, _ y: Tensor, _ valid: [Range<Int>]) -> (sI: [[Double]], sT: [[Double]]) {
        let (ni, n1, d, nj, n2) = (x.shape[0], x.shape[1], x.shape[2], y.shape[0], y.shape[1])
        func dot(_ i: Int, _ k: Int, _ j: Int, _ r: Int) -> Double {
            (0..<d).reduce(0.0) { $0 + Double(x[flat: (i * n1 + k) * d + $1]) * Double(y[flat: (j * n2 + r) * d + $1]) }
        }
        var sI = [[Double]](repeating: [Double](repeating: 0, count: nj), count: ni), sT = sI
        for i in 0..<ni {
            for j in 0..<nj {
                let sims = (0..<n1).map { k in valid[j].map { r in dot(i, k, j, r) } }
                sI[i][j] = sims.map { $0.max()! }.reduce(0, +) / Double(n1)
                sT[i][j] = valid[j].indices.map { r in sims.map { $0[r - valid[j].lowerBound] }.max()! }.reduce(0, +) / Double(valid[j].count)
            }
        }
        return (sI, sT)
    }

    func testFILIPRetrievalRanksFollowTheDefinition() {
        let (n, n1, n2, d) = (23, 5, 7, 6)
        var rng = RandomGenerator(seed: 9)
        let x = Tensor.randomNormal([n, n1, d], using: &rng).l2Normalized().y
        let y = Tensor.randomNormal([n, n2, d], using: &rng).l2Normalized().y
        let valid = (0..<n).map { j in 0..<(1 + j % n2) }
        let (sI, sT) = naive(x, y, valid)
        let i2t = (0..<n).map { i in (0..<n).filter { sI[i][$0] > sI[i][i] }.count }
        let t2i = (0..<n).map { j in (0..<n).filter { sT[$0][j] > sT[j][j] }.count }
        XCTAssertNotEqual(i2t, t2i, "the two directions should differ on random data")
        let texts = TextTokens(features: y, valid: valid)
        for block in [1, 4, 23, 100] {
            let r = RetrievalResult(tokenwiseImages: x, texts: texts, block: block)
            XCTAssertEqual(r.count, n)
            XCTAssertEqual(r.imageToText, RankingMetrics.summarize(i2t), "block \(block)")
            XCTAssertEqual(r.textToImage, RankingMetrics.summarize(t2i), "block \(block)")
        }
    }

    /// Parts of different widths concatenate with zero padding that no valid range reaches, and
    /// score as they did apart.
    func testTextTokensOfDifferentWidthsConcatenate() {
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([4, 3, 5], using: &rng).l2Normalized().y
        let a = TextTokens(features: Tensor.randomNormal([2, 3, 5], using: &rng).l2Normalized().y, valid: [0..<3, 1..<2])
        let b = TextTokens(features: Tensor.randomNormal([3, 6, 5], using: &rng).l2Normalized().y, valid: [0..<6, 2..<4, 0..<1])
        let both = TextTokens.concat([a, b])
        XCTAssertEqual(both.features.shape, [5, 6, 5])
        XCTAssertEqual(both.valid, a.valid + b.valid)
        let (sI, sT) = naive(x, both.features, both.valid)
        for (part, offset) in [(a, 0), (b, 2)] {
            let (pI, pT) = naive(x, part.features, part.valid)
            for i in 0..<4 { for j in 0..<part.count {
                XCTAssertEqual(sI[i][offset + j], pI[i][j], accuracy: 1e-12)
                XCTAssertEqual(sT[i][offset + j], pT[i][j], accuracy: 1e-12)
            } }
        }
    }

    /// Zero-shot logits of a FILIP-scored model: 100 × the mean over a class's prompts of s^I.
    func testFILIPZeroShotAveragesPerPromptScores() throws {
        let json = """
        {"embed_dim": 8, "vision_cfg": {"image_size": 16, "patch_size": 8, "width": 16, "layers": 1, "head_width": 8},
         "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1}}
        """
        let model = CLIPModel(try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)), seed: 5)
        let tokenizer = try CLIPTokenizer.bundled()
        let classes = ["cat", "red dog", "tree"], templates = ["a photo of a {}.", "{}"]
        var rng = RandomGenerator(seed: 1)
        let images = Tensor.randomNormal([4, 16, 16, 3], using: &rng)
        for special in [true, false] {
            let encoder = ModelEncoder(model: model, workers: 2, scoring: .tokenwise(includeSpecialTokens: special))
            let classifier = ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: classes, templates: templates)
            let logits = classifier.logits(encoder: encoder, images: images)
            XCTAssertEqual(logits.shape, [4, 3])
            let prompts = classes.flatMap { c in templates.map { $0.replacingOccurrences(of: "{}", with: c) } }
            let ids = tokenizer.tokenize(prompts, contextLength: 12)
            let texts = encoder.textTokens(ids.flatMap { $0 }, batch: prompts.count, includeSpecialTokens: special)
            // The valid range of each prompt: SOT ... EOT, trimmed when special tokens are left out.
            for (p, row) in ids.enumerated() {
                let eot = row.firstIndex(of: row.max()!)!
                XCTAssertEqual(texts.valid[p], special ? 0..<(eot + 1) : 1..<eot, prompts[p])
            }
            XCTAssertEqual(texts.features.shape[1], ids.map { $0.firstIndex(of: $0.max()!)! }.max()! + 1,
                           "positions after the last EOT are dropped")
            let (sI, _) = naive(encoder.imageTokens(images), texts.features, texts.valid)
            for b in 0..<4 {
                for c in 0..<3 {
                    let expected = 100 * (sI[b][2 * c] + sI[b][2 * c + 1]) / 2
                    XCTAssertEqual(Double(logits[flat: b * 3 + c]), expected, accuracy: 1e-3, "image \(b) class \(c)")
                }
            }
        }
    }
}
