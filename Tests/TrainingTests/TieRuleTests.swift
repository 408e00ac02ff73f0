import Foundation
import SwiftCLIP
import XCTest

/// The tie rule (REFERENCE.md): a query's rank is the number of OTHER candidates scoring higher or
/// equal, so ties count against it — a collapsed model scores 0, never 100% — and zero-shot
/// top-1, per-class accuracy and the confusion matrix agree.
final class TieRuleTests: XCTestCase {
    func testCollapsedRetrievalScoresZero() {
        let n = 12
        let one = Tensor(shape: [n, 4], scalars: (0..<n).flatMap { _ in [0.5, 0.5, 0.5, 0.5] as [Float] })
        let r = RetrievalResult(images: one, texts: one)
        for s in [r.imageToText, r.textToImage] {
            XCTAssertEqual(s.recallAt1, 0)
            XCTAssertEqual(s.recallAt10, 0, "rank n-1 = 11 for every query")
            XCTAssertEqual(s.meanRank, Double(n))
            XCTAssertEqual(s.medianRank, Double(n))
        }
    }

    func testCollapsedZeroShotScoresZeroAndConfusionAgrees() {
        let (n, c) = (20, 10)
        var result = ZeroShotResult(classnames: (0..<c).map { "c\($0)" })
        let labels = (0..<n).map { $0 % c }
        result.add(logits: Tensor(shape: [n, c], repeating: 3), labels: labels)
        XCTAssertEqual(result.top1, 0)
        XCTAssertEqual(result.top5, 0, "rank 9 for every image")
        XCTAssertEqual(result.perClassAccuracy, Array(repeating: 0, count: c))
        for (k, row) in result.confusion.enumerated() {
            XCTAssertEqual(row[k], 0, "under a tie the predicted class is a tied class other than the label")
            XCTAssertEqual(row.reduce(0, +), 2)
        }
    }

    /// Scores one or two float steps apart (≈ 1e-7) are not ties; exactly equal ones are.
    func testNearTiesFollowTheExactComparison() {
        let s: Float = 0.5
        let up = s.nextUp, down = s.nextDown        // 6e-8 and 3e-8 away
        let row: [Float] = [s, up, s, down, up.nextUp]
        row.withUnsafeBufferPointer { p in
            XCTAssertEqual(RankingMetrics.rank(p.baseAddress!, count: 5, target: 0), 3, "two higher, one equal")
            XCTAssertEqual(RankingMetrics.rank(p.baseAddress!, count: 5, target: 1), 1)
            XCTAssertEqual(RankingMetrics.rank(p.baseAddress!, count: 5, target: 4), 0)
            XCTAssertEqual(RankingMetrics.rank(p.baseAddress!, count: 5, target: 3), 4)
        }
        var result = ZeroShotResult(classnames: ["a", "b", "c", "d", "e"])
        result.add(logits: Tensor(shape: [3, 5], scalars: row + row + row), labels: [4, 0, 2])
        XCTAssertEqual(result.top1, 1.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(result.confusion[4][4], 1)
        XCTAssertEqual(result.confusion[0][4], 1)
        XCTAssertEqual(result.confusion[2][4], 1)
    }

    /// Identical text queries against images that differ by ≈ 1e-7: at most one query's paired
    /// image can be the unique best, so R@1 is at most 1/N (chance), never inflated by near-ties.
    func testNearlyCollapsedImagesScoreAtChance() {
        let n = 64
        var images: [Float] = []
        for i in 0..<n { images += [0.6 + Float(i % 3) * 6e-8, 0.8, 0, 0] }
        let texts = Tensor(shape: [n, 4], scalars: (0..<n).flatMap { _ in [0.6, 0.8, 0, 0] as [Float] })
        let r = RetrievalResult(images: Tensor(shape: [n, 4], scalars: images), texts: texts)
        XCTAssertLessThanOrEqual(r.textToImage.recallAt1, 1.0 / Double(n))
        XCTAssertEqual(r.imageToText.recallAt1, 0, "every text ties with every other")
    }

    /// Random logits with many ties: the confusion matrix's diagonal over N is top-1, each row's
    /// diagonal share is that class's accuracy, and a mistake's predicted class is a maximum.
    func testConfusionMatrixAgreesWithTopOne() {
        var rng = RandomGenerator(seed: 7)
        let (n, c) = (300, 6)
        let scalars = (0..<(n * c)).map { _ in Float(rng.next() % 3) }
        let labels = (0..<n).map { _ in Int(rng.next() % UInt64(c)) }
        var result = ZeroShotResult(classnames: (0..<c).map { "c\($0)" })
        result.add(logits: Tensor(shape: [n, c], scalars: scalars), labels: labels)
        // Oracle: a hit is a label scoring strictly above every other class.
        let hits = (0..<n).filter { i in (0..<c).allSatisfy { $0 == labels[i] || scalars[i * c + $0] < scalars[i * c + labels[i]] } }
        XCTAssertEqual(result.top1, Double(hits.count) / Double(n), accuracy: 1e-12)
        let diagonal = (0..<c).map { result.confusion[$0][$0] }
        XCTAssertEqual(Double(diagonal.reduce(0, +)) / Double(n), result.top1, accuracy: 1e-12)
        for k in 0..<c {
            let total = result.confusion[k].reduce(0, +)
            XCTAssertEqual(result.perClassAccuracy[k], Double(diagonal[k]) / Double(total), accuracy: 1e-12)
        }
    }
}
