import Foundation
import SwiftCLIP
@testable import Evaluation
import XCTest

/// The choice of kept items: --keep arithmetic, the tie rule, thresholds, and near-duplicate
/// removal against a plain greedy loop.
final class FilterSelectionTests: XCTestCase {
    /// ceil(F · M), with products that are integers up to binary rounding counted exactly.
    func testKeptCountIsTheCeilingOfTheFraction() {
        let cases: [(Double, Int, Int)] = [
            (0.3, 10, 3),     // 0.3 · 10 = 3.0000000000000004 in binary
            (0.7, 10, 7),     // 7.000000000000001
            (0.3, 11, 4),     // 3.3 → 4
            (0.29, 100, 29),  // 28.999999999999996
            (0.1, 3, 1),      // 0.3 → 1
            (0.5, 1, 1),
            (1, 7, 7),
            (1e-9, 5, 1),
            (0.5, 0, 0),
        ]
        for (fraction, count, expected) in cases {
            XCTAssertEqual(FilterRule.keptCount(fraction: fraction, of: count), expected, "\(fraction) of \(count)")
        }
    }

    /// Equal scores are ordered by ascending index; unscored items are never kept; the fraction
    /// counts scored items only.
    func testTiesGoToTheLowerIndexAndUnscoredItemsAreNeverKept() {
        let scores: [Float?] = [0.5, 0.9, 0.5, nil, 0.5, 0.1]
        XCTAssertEqual(FilterSelection.visitingOrder(scores), [1, 0, 2, 4, 5])
        // 5 scored, ceil(0.5 · 5) = 3: 0.9, then the first two of the three 0.5s.
        XCTAssertEqual(FilterSelection.select(scores: scores, rule: .keepFraction(0.5)).kept, [0, 1, 2])
        XCTAssertEqual(FilterSelection.select(scores: scores, rule: .keepFraction(0.2)).kept, [1])
        XCTAssertEqual(FilterSelection.select(scores: scores, rule: .keepFraction(1)).kept, [0, 1, 2, 4, 5])
        XCTAssertEqual(FilterSelection.select(scores: scores, rule: .threshold(0.5)).kept, [0, 1, 2, 4])
        XCTAssertEqual(FilterSelection.select(scores: scores, rule: .threshold(0.50001)).kept, [1])
        XCTAssertEqual(FilterSelection.select(scores: scores, rule: .threshold(-1)).kept, [0, 1, 2, 4, 5])
        XCTAssertEqual(FilterSelection.select(scores: scores, rule: .threshold(0.95)).kept, [])
    }

    /// Two identical images: the higher-scoring one stays, whichever index it has; with --keep the
    /// walk continues past the dropped duplicate.
    func testDedupKeepsTheHigherScoringOfTwoIdenticalImages() {
        let e: [Float] = [1, 0, 0,   0, 1, 0,   0, 0, 1,   1, 0, 0]      // items 0 and 3 identical
        let embeddings = Tensor(shape: [4, 3], scalars: e)
        for (scores, expected) in [([Float(0.1), 0.5, 0.3, 0.9], [1, 2, 3]), ([Float(0.9), 0.5, 0.3, 0.1], [0, 1, 2])] {
            let optional = scores.map { Optional($0) }
            let all = FilterSelection.select(scores: optional, rule: .keepFraction(1), dedup: (embeddings, 0.95), block: 2)
            XCTAssertEqual(all.kept, expected)
            XCTAssertEqual(all.duplicates, 1)
            // keep 3 of 4: the duplicate does not count, so the three distinct images remain.
            XCTAssertEqual(FilterSelection.select(scores: optional, rule: .keepFraction(0.75), dedup: (embeddings, 0.95)).kept, expected)
        }
        // Equal scores: the lower index stays.
        let tied = FilterSelection.select(scores: [0.5, 0.1, 0.1, 0.5], rule: .threshold(0.5), dedup: (embeddings, 0.95))
        XCTAssertEqual(tied.kept, [0])
    }

    /// The blocked, chunked filter equals the plain greedy loop (visit in score order, keep unless
    /// cosine ≥ t with a kept image) on clusters of near-duplicates, for any block and chunk size.
    func testBlockedDedupEqualsTheGreedyDefinition() {
        let (clusters, perCluster, d) = (7, 9, 12)
        var rng = RandomGenerator(seed: 4)
        let centers = Tensor.randomNormal([clusters, d], using: &rng).l2Normalized().y
        let noise = Tensor.randomNormal([clusters * perCluster, d], using: &rng)
        var values = [Float](repeating: 0, count: clusters * perCluster * d)
        for i in 0..<(clusters * perCluster) {
            let scale: Float = i % 3 == 0 ? 0.02 : 0.3    // a third are near-duplicates of their center
            let center = (i % clusters) * d
            for c in 0..<d {
                let offset: Float = scale * noise[flat: i * d + c]
                values[i * d + c] = centers[flat: center + c] + offset
            }
        }
        let embeddings = Tensor(shape: [clusters * perCluster, d], scalars: values).l2Normalized().y
        let n = clusters * perCluster
        var scores: [Float?] = (0..<n).map { i -> Float? in Float((i * 37) % 23) / 23 }   // many ties
        scores[17] = nil
        let threshold: Float = 0.95
        func cosine(_ a: Int, _ b: Int) -> Double {
            (0..<d).reduce(0.0) { $0 + Double(embeddings[flat: a * d + $1]) * Double(embeddings[flat: b * d + $1]) }
        }
        for a in 0..<n { for b in 0..<a { XCTAssertGreaterThan(abs(cosine(a, b) - Double(threshold)), 1e-4, "precondition: no pair at the threshold") } }
        var greedy: [Int] = [], duplicates = 0
        for i in FilterSelection.visitingOrder(scores) {
            if greedy.contains(where: { cosine($0, i) >= Double(threshold) }) { duplicates += 1 } else { greedy.append(i) }
        }
        XCTAssertGreaterThan(duplicates, 10, "the fixture should hold near-duplicates")
        XCTAssertGreaterThan(greedy.count, clusters)
        for block in [1, 5, 64, 1000] {
            for chunk in [1, 3, 4096] {
                var filter = NearDuplicateFilter(embeddings: embeddings, threshold: threshold, chunkRows: chunk)
                filter.keep(candidates: FilterSelection.visitingOrder(scores), limit: .max, block: block)
                XCTAssertEqual(filter.kept, greedy, "block \(block), chunk \(chunk)")
                XCTAssertEqual(filter.duplicates, duplicates)
            }
        }
        let limited = FilterSelection.select(scores: scores, rule: .keepFraction(0.1), dedup: (embeddings, threshold), block: 4)
        XCTAssertEqual(limited.kept, Array(greedy.prefix(FilterRule.keptCount(fraction: 0.1, of: n - 1))).sorted())
    }
}
