import Foundation
import DataPipeline
import Objectives
import Tokenization

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

    /// Scores every item of `dataset` with the encoder's scoring, `batchSize` pairs at a time
    /// (images split over the encoder's worker threads). Throws, naming the item, when an
    /// embedding is not finite, and when no item can be scored.
    /// - Parameter keepImageEmbeddings: also return the pooled image embeddings [N, E].
    public static func compute(encoder: ModelEncoder, tokenizer: CLIPTokenizer, dataset: ShardDataset,
                               batchSize: Int = 256, loaderThreads: Int = 2, keepImageEmbeddings: Bool = false,
                               progress: ((Int, Int) -> Void)? = nil) throws -> PairScores {
        let ctx = encoder.model.config.textCfg.contextLength
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: batchSize, imageSize: encoder.model.visual.imageSize,
                                                   contextLength: ctx, mode: .eval, shuffle: false, threads: loaderThreads),
            tokenizer: { tokenizer.tokenize($0, contextLength: ctx) },
            log: { _ in })   // skipped items are counted and reported by the caller
        let n = dataset.count, e = encoder.model.config.embedDim
        var scores = [Float?](repeating: nil, count: n)
        var embeddings = keepImageEmbeddings ? [Float](repeating: 0, count: n * e) : []
        var done = 0
        while let batch = try loader.next() {
            let s = batch.imageSize
            let images = Tensor(shape: [batch.size, s, s, 3], scalars: batch.images)
            let name = { (k: Int, what: String) in dataset.itemName(batch.indices[k]) + "'s " + what }
            var pooled: Tensor? = nil
            let values: [Float]
            switch encoder.scoring {
            case .embedding:
                let x = encoder.images(images), y = encoder.texts(batch.tokens, batch: batch.size)
                try x.requireFinite { name($0, "image") }
                try y.requireFinite { name($0, "caption") }
                values = rowDots(x, y)
                pooled = x
            case .filip(let special):
                let x = encoder.imageTokens(images)
                let y = encoder.textTokens(batch.tokens, batch: batch.size, includeSpecialTokens: special)
                try x.requireFinite { name($0, "image") }
                try y.features.requireFinite { name($0, "caption") }
                values = (0..<batch.size).map { k in
                    FILIPKernel.scores(imageTokens: x.slice(axis: 0, k..<(k + 1)), textTokens: y.features.slice(axis: 0, k..<(k + 1)),
                                       validTokens: [y.valid[k]]).imageToText[flat: 0]
                }
            }
            for (k, item) in batch.indices.enumerated() { scores[item] = values[k] }
            if keepImageEmbeddings {
                let x = try pooled ?? { let x = encoder.images(images); try x.requireFinite { name($0, "image") }; return x }()
                x.withUnsafeBufferPointer { v in
                    for (k, item) in batch.indices.enumerated() {
                        for c in 0..<e { embeddings[item * e + c] = v[k * e + c] }
                    }
                }
            }
            done = batch.indices.last! + 1
            progress?(done, n)
        }
        progress?(n, n)
        let skipped = loader.skippedItems
        guard skipped.count < n else {
            throw ConfigError("no item could be scored: all \(n) were skipped (first: \(skipped[0]))")
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
