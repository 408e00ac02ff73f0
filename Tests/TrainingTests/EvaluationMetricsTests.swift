import Foundation
import SwiftCLIP
import XCTest

/// Retrieval and zero-shot metrics against fixtures from Scripts/make-objective-fixtures.py
/// (ties included), and zero-shot classification on a hand-built model with known accuracy.
final class EvaluationMetricsTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/metrics/retrieval.json").standardizedFileURL

    func load() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture)) as! [String: Any]
    }

    func matrix(_ rows: [[Double]]) -> Tensor {
        Tensor(shape: [rows.count, rows[0].count], scalars: rows.flatMap { $0.map(Float.init) })
    }

    func check(_ summary: RankingMetrics.Summary, _ expected: [String: Any], _ name: String) {
        XCTAssertEqual(summary.recallAt1, expected["R@1"] as! Double, accuracy: 1e-12, name)
        XCTAssertEqual(summary.recallAt5, expected["R@5"] as! Double, accuracy: 1e-12, name)
        XCTAssertEqual(summary.recallAt10, expected["R@10"] as! Double, accuracy: 1e-12, name)
        XCTAssertEqual(summary.meanRank, expected["mean_rank"] as! Double, accuracy: 1e-9, name)
        XCTAssertEqual(summary.medianRank, expected["median_rank"] as! Double, accuracy: 1e-12, name)
    }

    func testRetrievalMetricsMatchFixtures() throws {
        let all = try load()
        for name in ["retrieval_ties", "retrieval_no_ties"] {
            let c = all[name] as! [String: Any]
            let scores = matrix(c["scores"] as! [[Double]])   // [images, texts]
            let n = scores.shape[0]
            let i2t = (0..<n).map { RankingMetrics.rank(scores.pointer + $0 * n, count: n, target: $0) }
            let transposed = scores.transposed()
            let t2i = (0..<n).map { RankingMetrics.rank(transposed.pointer + $0 * n, count: n, target: $0) }
            XCTAssertEqual(i2t, ((c["image_to_text"] as! [String: Any])["ranks"] as! [Int]), name)
            XCTAssertEqual(t2i, ((c["text_to_image"] as! [String: Any])["ranks"] as! [Int]), name)
            check(RankingMetrics.summarize(i2t), c["image_to_text"] as! [String: Any], name + " i2t")
            check(RankingMetrics.summarize(t2i), c["text_to_image"] as! [String: Any], name + " t2i")
        }
    }

    func testBlockedRetrievalEqualsDirectRanks() {
        var rng = RandomGenerator(seed: 4)
        let images = Tensor.randomNormal([37, 8], using: &rng).l2Normalized().y
        let texts = Tensor.randomNormal([37, 8], using: &rng).l2Normalized().y
        XCTAssertEqual(RetrievalResult(images: images, texts: texts, block: 5), RetrievalResult(images: images, texts: texts, block: 1000))
    }

    func testZeroShotTopKMatchesFixtures() throws {
        let all = try load()
        for name in ["zeroshot_ties", "zeroshot_no_ties"] {
            let c = all[name] as! [String: Any]
            let logits = matrix(c["logits"] as! [[Double]])
            var result = ZeroShotResult(classnames: (0..<logits.shape[1]).map { "c\($0)" })
            result.add(logits: logits, labels: c["labels"] as! [Int])
            XCTAssertEqual(result.top1, c["top1"] as! Double, accuracy: 1e-12, name)
            XCTAssertEqual(result.top5, c["top5"] as! Double, accuracy: 1e-12, name)
        }
    }

    /// Logits built so that class k wins exactly for the images labelled k except two known mistakes.
    func testZeroShotAccountingOnAHandBuiltCase() {
        let labels = [0, 1, 2, 0, 1, 2]
        // Rows: predicted classes 0, 1, 2, 1 (wrong), 1, 0 (wrong).
        let predicted = [0, 1, 2, 1, 1, 0]
        var scalars: [Float] = []
        for p in predicted { scalars += (0..<3).map { $0 == p ? 1 : 0 } }
        var result = ZeroShotResult(classnames: ["a", "b", "c"])
        result.add(logits: Tensor(shape: [6, 3], scalars: scalars), labels: labels)
        XCTAssertEqual(result.top1, 4.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(result.perClassAccuracy, [0.5, 1.0, 0.5])
        XCTAssertEqual(result.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    }
}
