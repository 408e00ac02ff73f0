import Foundation
import DataPipeline
import Objectives
import Tokenization
import TensorCore
import Autograd
import NeuralNet
import Checkpointing
import ModelStore

/// The score of every image–caption pair of a shard set under a model: DataComp's CLIP score (the
/// cosine of the L2-normalized pooled embeddings; Gadre et al., 2023, "DataComp") or, for FILIP
/// models, FILIP's image→text token score s^I (Yao et al., 2021).
public struct PairScores {
    /// [N] per item of the dataset, in order; nil for the items the loader skipped (unreadable
    /// image, empty caption), which are never kept.
    public var scores: [Float?]
    /// [N, E] L2-normalized pooled image embeddings (zero rows for skipped items), when asked for
    /// (near-duplicate removal).
    public var imageEmbeddings: Tensor?
    /// The items left unscored, and why.
    public var skipped: [SkippedItem]

    /// Number of scored items.
    public var scoredCount: Int { scores.count - skipped.count }

    /// Pairs encoded per model call. Groups of consecutive usable items are fixed by the data
    /// alone and each is encoded on one thread, so the scores (bit for bit) do not depend on
    /// `batchSize` or the encoder's thread count.
    static let groupSize = 16

    /// Scores every item of `dataset` with the encoder's scoring; groups of `groupSize` pairs run
    /// side by side on the encoder's worker threads; the loader reads `batchSize` pairs at a time.
    /// Throws, naming the item, when an embedding is not finite, and when no item can be scored.
    /// - Parameter keepImageEmbeddings: also return the pooled image embeddings [N, E].
    public static func compute(encoder: ModelEncoder, tokenizer: CLIPTokenizer, dataset: any DatasetSource,
                               batchSize: Int = 256, loaderThreads: Int = 2, keepImageEmbeddings: Bool = false,
                               progress: ((Int, Int) -> Void)? = nil) throws -> PairScores {
        let ctx = encoder.model.config.textCfg.contextLength
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: batchSize, imageSize: encoder.model.visual.imageSize,
                                                   contextLength: ctx, augmentation: encoder.preprocess, mode: .eval,
                                                   shuffle: false, threads: loaderThreads),
            tokenizer: { tokenizer.tokenize($0, contextLength: ctx) },
            log: { _ in })   // skipped items are counted and reported by the caller
        let n = dataset.count, e = encoder.model.config.embedDim
        let size = encoder.model.visual.imageSize, pixels = size * size * 3
        var scores = [Float?](repeating: nil, count: n)
        var embeddings = keepImageEmbeddings ? [Float](repeating: 0, count: n * e) : []
        var pending = PendingPairs()
        /// Scores the pending pairs in whole groups (and the last partial one when `all`).
        func scorePending(all: Bool) throws {
            let groups = (all ? pending.count + groupSize - 1 : pending.count) / groupSize
            guard groups > 0 else { return }
            let ranges = (0..<groups).map { g in (g * groupSize)..<min(pending.count, (g + 1) * groupSize) }
            let results = GroupScorer(encoder: encoder, pooled: keepImageEmbeddings, imageSize: size, contextLength: ctx)
                .score(pending, groups: ranges)
            for (range, result) in zip(ranges, results) {
                let items = Array(pending.indices[range])
                try result.check { dataset.itemName(items[$0]) + "'s " + $1 }
                for (k, item) in items.enumerated() { scores[item] = result.scores[k] }
                result.pooled?.withUnsafeBufferPointer { v in
                    for (k, item) in items.enumerated() { for c in 0..<e { embeddings[item * e + c] = v[k * e + c] } }
                }
            }
            pending.removeFirst(ranges.last!.upperBound, pixels: pixels, contextLength: ctx)
        }
        while let batch = try loader.next() {
            pending.append(batch)
            if pending.count >= groupSize * encoder.workers { try scorePending(all: false) }
            progress?(batch.indices.last! + 1, n)
        }
        try scorePending(all: true)
        progress?(n, n)
        let skipped = loader.skippedItems
        guard skipped.count < n else {
            throw RunError("no item could be scored: all \(n) were skipped (first: \(skipped[0]))")
        }
        return PairScores(scores: scores, imageEmbeddings: keepImageEmbeddings ? Tensor(shape: [n, e], scalars: embeddings) : nil,
                          skipped: skipped)
    }

    /// ⟨x_k, y_k⟩ for each row k of x, y [B, E].
    static func rowDots(_ x: Tensor, _ y: Tensor) -> [Float] {
        let (b, e) = (x.shape[0], x.shape[1])
        return x.withUnsafeBufferPointer { xv in
            y.withUnsafeBufferPointer { yv in
                (0..<b).map { k in (0..<e).reduce(Float(0)) { $0 + xv[k * e + $1] * yv[k * e + $1] } }
            }
        }
    }
}

/// Loaded pairs waiting to be scored: images [count, S, S, 3], tokens [count, ctx], global indices.
struct PendingPairs {
    var images: [Float] = []
    var tokens: [Int32] = []
    var indices: [Int] = []
    var count: Int { indices.count }

    mutating func append(_ batch: Batch) {
        images += batch.images
        tokens += batch.tokens
        indices += batch.indices
    }

    mutating func removeFirst(_ k: Int, pixels: Int, contextLength: Int) {
        images.removeFirst(k * pixels)
        tokens.removeFirst(k * contextLength)
        indices.removeFirst(k)
    }
}

/// Scores groups of pending pairs on the encoder's worker threads (worker w takes groups w,
/// w + workers, …), each group encoded single-threaded, so its results depend on its pairs only.
struct GroupScorer {
    let encoder: ModelEncoder
    let pooled: Bool
    let imageSize: Int
    let contextLength: Int

    /// One group's scores [b] and what must be finite: image and text features, pooled images.
    struct Result {
        var scores: [Float]
        var image: Tensor
        var text: Tensor
        var pooled: Tensor?

        /// Throws, naming row k's item ("image" or "caption"), on a non-finite embedding.
        func check(_ name: (Int, String) -> String) throws {
            try image.requireFinite { name($0, "image") }
            try text.requireFinite { name($0, "caption") }
            try pooled?.requireFinite { name($0, "image") }
        }
    }

    func score(_ pending: PendingPairs, groups: [Range<Int>]) -> [Result] {
        let single = ModelEncoder(model: encoder.model, workers: 1, scoring: encoder.scoring,
                                  precision: encoder.precision, preprocess: encoder.preprocess)
        let (s, ctx) = (imageSize, contextLength)
        let results = UncheckedBox(UnsafeMutableBufferPointer<Result?>.allocate(capacity: groups.count))
        results.value.initialize(repeating: nil)
        defer { results.value.deallocate() }
        let input = UncheckedBox(pending), work = UncheckedBox((scorer: self, encoder: single))
        let workers = min(encoder.workers, groups.count)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for g in stride(from: w, to: groups.count, by: workers) {
                let r = groups[g]
                let images = Tensor(shape: [r.count, s, s, 3],
                                    scalars: Array(input.value.images[(r.lowerBound * s * s * 3)..<(r.upperBound * s * s * 3)]))
                let tokens = Array(input.value.tokens[(r.lowerBound * ctx)..<(r.upperBound * ctx)])
                results.value[g] = Parallel.withThreadBudget(1) {
                    work.value.scorer.score(images, tokens, count: r.count, with: work.value.encoder)
                }
            }
        }
        return results.value.map { $0! }
    }

    /// The scores of `count` pairs: images [b, S, S, 3], token rows [b, ctx].
    func score(_ images: Tensor, _ tokens: [Int32], count: Int, with single: ModelEncoder) -> Result {
        switch single.scoring {
        case .embedding:
            let x = single.images(images), y = single.texts(tokens, batch: count)
            return Result(scores: PairScores.rowDots(x, y), image: x, text: y, pooled: pooled ? x : nil)
        case .tokenwise(let special):
            let x = single.imageTokens(images)
            let y = single.textTokens(tokens, batch: count, includeSpecialTokens: special)
            let scores = (0..<count).map { k in
                FILIPKernel.scores(imageTokens: x.slice(axis: 0, k..<(k + 1)), textTokens: y.features.slice(axis: 0, k..<(k + 1)),
                                   validTokens: [y.valid[k]]).imageToText[flat: 0]
            }
            return Result(scores: scores, image: x, text: y.features, pooled: pooled ? single.images(images) : nil)
        }
    }
}
