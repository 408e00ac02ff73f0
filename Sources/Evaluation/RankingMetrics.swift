import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import DataPipeline
import Tokenization
import Checkpointing
import ModelStore

/// Ranking metrics shared by zero-shot classification and retrieval.
///
/// The rank of the correct candidate is the number of OTHER candidates scoring higher or equal
/// (0-based): ties count against the query, so a collapsed model (every score equal) ranks every
/// query last, never first (REFERENCE.md). Scores compare exactly as computed; a NaN counts against.
public enum RankingMetrics {
    /// Rank of `target` in a row of `n` scores.
    @inline(__always)
    public static func rank(_ row: UnsafePointer<Float>, count n: Int, target: Int) -> Int {
        let s = row[target]
        var r = 0
        for j in 0..<n where j != target && !(row[j] < s) { r += 1 }
        return r
    }

    /// Rank of one candidate of group `target` when `row[u]` is the score shared by the `counts[u]`
    /// candidates of group u (identical candidates, such as repeated captions, scored once).
    @inline(__always)
    public static func rank(_ row: UnsafePointer<Float>, counts: [Int], target: Int) -> Int {
        let s = row[target]
        var r = -1   // the correct candidate itself is in its group
        for u in counts.indices where !(row[u] < s) { r += counts[u] }
        return r
    }

    /// Rank of a query whose correct candidates are the captions `targets` (indices into `row`, one
    /// per correct candidate, repeats allowed) when `row[u]` is the score shared by the `counts[u]`
    /// candidates of group u: the number of WRONG candidates scoring higher than or equal to the best
    /// correct one (so "any correct candidate in the top k" is rank < k). With one target this is
    /// `rank(_:counts:target:)`.
    @inline(__always)
    public static func rank(_ row: UnsafePointer<Float>, counts: [Int], targets: [Int]) -> Int {
        if targets.count == 1 { return rank(row, counts: counts, target: targets[0]) }
        var best = -Float.infinity   // a NaN correct score never wins; all NaN: every candidate counts against
        for u in targets where row[u] > best { best = row[u] }
        var r = 0
        for u in counts.indices where !(row[u] < best) { r += counts[u] }
        for u in targets where !(row[u] < best) { r -= 1 }   // the correct candidates themselves
        return r
    }

    /// The class predicted from `row` (C scores) for an item labelled `label`: the label when it
    /// scores strictly highest, otherwise the first highest-scoring class other than the label, so
    /// a tie is a mistake here as in `rank` (top-1, per-class accuracy and confusion agree).
    @inline(__always)
    public static func predicted(_ row: UnsafePointer<Float>, count c: Int, label: Int) -> Int {
        if rank(row, count: c, target: label) == 0 { return label }
        var best = -1
        for j in 0..<c where j != label && (best < 0 || row[j] > row[best] || row[best].isNaN) { best = j }
        return best
    }

    public struct Summary: Codable, Equatable, Sendable {
        public var recallAt1: Double, recallAt5: Double, recallAt10: Double
        /// 1-based mean and median rank, as OpenCLIP reports them.
        public var meanRank: Double, medianRank: Double
        enum CodingKeys: String, CodingKey {
            case recallAt1 = "R@1", recallAt5 = "R@5", recallAt10 = "R@10", meanRank = "mean_rank", medianRank = "median_rank"
        }
    }

    /// R@1/5/10 (share of ranks below k), mean rank + 1 and ⌊median rank⌋ + 1.
    public static func summarize(_ ranks: [Int]) -> Summary {
        ensure(!ranks.isEmpty, "no ranks to summarize")
        let n = Double(ranks.count)
        func recall(_ k: Int) -> Double { Double(ranks.filter { $0 < k }.count) / n }
        let sorted = ranks.sorted()
        let mid = sorted.count / 2
        let median = sorted.count % 2 == 1 ? Double(sorted[mid]) : (Double(sorted[mid - 1]) + Double(sorted[mid])) / 2
        return Summary(recallAt1: recall(1), recallAt5: recall(5), recallAt10: recall(10),
                       meanRank: Double(ranks.reduce(0, +)) / n + 1, medianRank: median.rounded(.down) + 1)
    }
}
