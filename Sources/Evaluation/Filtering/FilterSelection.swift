import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import DataPipeline
import Tokenization
import Checkpointing
import ModelStore

/// Which scored items a filter keeps: the top fraction of the pool, or those at or above a score.
public enum FilterRule: Equatable, Sendable {
    /// The ceil(fraction · M) highest-scoring of the M scored items, 0 < fraction ≤ 1.
    case keepFraction(Double)
    /// Every item with score ≥ the threshold.
    case threshold(Float)

    /// ceil(fraction · count), with a product that is an integer up to rounding error (0.3 · 10 =
    /// 3.0000000000000004 in binary) counted as that integer.
    public static func keptCount(fraction: Double, of count: Int) -> Int {
        let product = fraction * Double(count)
        let nearest = product.rounded()
        let k = abs(product - nearest) <= 1e-9 * max(1, nearest) ? nearest : product.rounded(.up)
        return min(count, max(0, Int(k)))
    }
}

/// The choice of kept items, deterministic whatever the thread count: items are visited in
/// descending score order, ties by ascending global index (DataComp's CLIP-score filtering,
/// Gadre et al., 2023, with optional image deduplication).
public enum FilterSelection {
    /// The scored items in visiting order: descending score, ties by ascending index.
    /// - Parameter scores: [N], nil for items that were not scored (never visited).
    public static func visitingOrder(_ scores: [Float?]) -> [Int] {
        scores.indices.filter { scores[$0] != nil }.sorted { a, b in
            let (sa, sb) = (scores[a]!, scores[b]!)
            return sa != sb ? sa > sb : a < b
        }
    }

    /// The indices of the kept items, ascending (their original order), and how many visited
    /// candidates were dropped as near-duplicates.
    /// - Parameters:
    ///   - scores: [N] each item's score, nil for unscored items (never kept).
    ///   - rule: the top fraction of the scored items, or a threshold.
    ///   - dedup: when given, image embeddings [N, E] (L2-normalized; rows of unscored items are
    ///     ignored) and a cosine t: an item whose image has cosine ≥ t with an already kept item's
    ///     is dropped. Applied while visiting, so `--keep` still keeps ceil(fraction · M) items
    ///     when that many distinct ones exist, and of two duplicates the higher-scoring one stays.
    ///   - block: candidates compared per matrix product (memory O(block · chunk + N · E)).
    public static func select(scores: [Float?], rule: FilterRule,
                              dedup: (embeddings: Tensor, threshold: Float)? = nil, block: Int = 256)
        -> (kept: [Int], duplicates: Int) {
        let order = visitingOrder(scores)
        let candidates: ArraySlice<Int>, limit: Int
        switch rule {
        case .keepFraction(let fraction):
            candidates = order[...]
            limit = FilterRule.keptCount(fraction: fraction, of: order.count)
        case .threshold(let t):
            candidates = order.prefix { scores[$0]! >= t }
            limit = candidates.count
        }
        guard let dedup else { return (candidates.prefix(limit).sorted(), 0) }
        var deduplicator = NearDuplicateFilter(embeddings: dedup.embeddings, threshold: dedup.threshold)
        deduplicator.keep(candidates: Array(candidates), limit: limit, block: block)
        return (deduplicator.kept.sorted(), deduplicator.duplicates)
    }
}

/// Greedy near-duplicate removal over image embeddings: a candidate is kept unless its cosine
/// with an already kept image is ≥ `threshold`. Blocked: each block of candidates is compared to the
/// kept images in chunks of `chunkRows`, so memory stays O(N · E), never O(N²).
struct NearDuplicateFilter {
    let embeddings: Tensor          // [N, E]
    let threshold: Float
    let chunkRows: Int
    private var full: [Tensor] = []         // kept rows in chunks of `chunkRows`, [chunkRows, E]
    private var partial: [Float] = []       // the last kept rows, [< chunkRows, E]
    private(set) var kept: [Int] = []
    /// Candidates dropped so far as near-duplicates of a kept image.
    private(set) var duplicates = 0

    init(embeddings: Tensor, threshold: Float, chunkRows: Int = 4096) {
        ensure(embeddings.rank == 2 && chunkRows >= 1, "near-duplicate removal needs embeddings [N, E], got \(embeddings.shape)")
        (self.embeddings, self.threshold, self.chunkRows) = (embeddings, threshold, chunkRows)
    }

    var width: Int { embeddings.shape[1] }

    /// Rows `items` of the embeddings, [items.count, E].
    func rows(_ items: [Int]) -> Tensor {
        let e = width
        var values = [Float](repeating: 0, count: items.count * e)
        embeddings.withUnsafeBufferPointer { source in
            for (r, item) in items.enumerated() {
                for c in 0..<e { values[r * e + c] = source[item * e + c] }
            }
        }
        return Tensor(shape: [items.count, e], scalars: values)
    }

    /// Visits `candidates` in order, adding to `kept` (in visiting order) until it holds `limit` items.
    mutating func keep(candidates: [Int], limit: Int, block: Int) {
        var start = 0
        while start < candidates.count && kept.count < limit {
            let items = Array(candidates[start..<min(candidates.count, start + block)])
            start += items.count
            let x = rows(items)                                   // [b, E]
            let prior = maxSimilarityToKept(x)                    // [b]
            let own = x.matmul(x, transposeOther: true)           // [b, b]
            var keptHere: [Int] = []                              // positions in this block
            own.withUnsafeBufferPointer { s in
                for p in items.indices where kept.count < limit {
                    if prior[p] >= threshold || keptHere.contains(where: { s[p * items.count + $0] >= threshold }) {
                        duplicates += 1
                        continue
                    }
                    keptHere.append(p)
                    kept.append(items[p])
                }
            }
            x.withUnsafeBufferPointer { v in
                for p in keptHere { append(Array(v[(p * width)..<((p + 1) * width)])) }
            }
        }
    }

    /// For each row of `x` [b, E], its largest cosine with a kept image (-∞ when none is kept).
    func maxSimilarityToKept(_ x: Tensor) -> [Float] {
        var best = [Float](repeating: -.infinity, count: x.shape[0])
        let partialRows = partial.count / max(width, 1)
        let chunks = full + (partialRows > 0 ? [Tensor(shape: [partialRows, width], scalars: partial)] : [])
        for chunk in chunks {
            let s = x.matmul(chunk, transposeOther: true)       // [b, c]
            let c = chunk.shape[0]
            s.withUnsafeBufferPointer { v in
                for r in best.indices { for j in 0..<c where v[r * c + j] > best[r] { best[r] = v[r * c + j] } }
            }
        }
        return best
    }

    private mutating func append(_ row: [Float]) {
        partial += row
        if partial.count == chunkRows * width {
            full.append(Tensor(shape: [chunkRows, width], scalars: partial))
            partial = []
        }
    }
}
