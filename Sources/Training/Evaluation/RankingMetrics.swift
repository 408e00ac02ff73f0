/// Ranking metrics shared by zero-shot classification and retrieval.
///
/// The rank of the correct candidate is the number of candidates scoring strictly higher
/// (0-based), so ties count in favour of the correct answer (REFERENCE.md).
public enum RankingMetrics {
    /// Rank of `target` in a row of `n` scores.
    @inline(__always)
    public static func rank(_ row: UnsafePointer<Float>, count n: Int, target: Int) -> Int {
        let s = row[target]
        var r = 0
        for j in 0..<n where row[j] > s { r += 1 }
        return r
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
