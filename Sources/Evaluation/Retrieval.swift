import Foundation
import DataPipeline
import Tokenization
import Objectives
import TensorCore
import Autograd
import NeuralNet
import Checkpointing
import ModelStore

/// Image↔text retrieval: R@1/5/10, mean and median rank for both directions, computed in row blocks
/// so memory stays O(block · N).
///
/// Each image has one caption or several (COCO and Flickr30k: five), scored as clip_benchmark's
/// `zeroshot_retrieval` does: image→text asks whether ANY of the image's captions is among the top k
/// captions, text→image — one query per caption — whether its one image is among the top k images.
/// As a rank (0-based): image→text, the number of other images' captions scoring higher than or equal
/// to the image's best-scoring caption; text→image, the number of other images scoring higher than or
/// equal to the caption's image. Ties count against the query (REFERENCE.md); clip_benchmark's
/// `torch.topk` orders ties arbitrarily, so the two agree exactly whenever no score ties the
/// deciding one.
public struct RetrievalResult: Codable, Equatable, Sendable {
    /// The number of images (image→text queries).
    public var count: Int
    /// The number of captions (text→image queries); `count` when every image has one.
    public var captions: Int
    public var imageToText: RankingMetrics.Summary
    public var textToImage: RankingMetrics.Summary
    enum CodingKeys: String, CodingKey {
        case count, captions, imageToText = "image_to_text", textToImage = "text_to_image"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        count = try c.decode(Int.self, forKey: .count)
        captions = try c.decodeIfPresent(Int.self, forKey: .captions) ?? count   // results written before multi-caption
        imageToText = try c.decode(RankingMetrics.Summary.self, forKey: .imageToText)
        textToImage = try c.decode(RankingMetrics.Summary.self, forKey: .textToImage)
    }

    /// - Parameters:
    ///   - images: [N, E] L2-normalized embeddings of the N items' images.
    ///   - texts: [U, E] L2-normalized embeddings of the distinct captions.
    ///   - textOf: N rows of `texts`, item i's caption (nil: U = N and item i has text i). Items
    ///     sharing a caption are distinct candidates with exactly equal scores (ties count against).
    public init(images: Tensor, texts: Tensor, textOf: [Int]? = nil, block: Int = 1024) {
        self.init(images: images, texts: texts, captionsOf: (textOf ?? Array(0..<images.shape[0])).map { [$0] }, block: block)
    }

    /// - Parameters:
    ///   - images: [N, E] L2-normalized embeddings of the N items' images.
    ///   - texts: [U, E] L2-normalized embeddings of the distinct captions.
    ///   - captionsOf: for each of the N items, the rows of `texts` of its captions (at least one).
    ///     A caption text shared by several items (or repeated within one) is one candidate per
    ///     occurrence, all with exactly equal scores.
    public init(images: Tensor, texts: Tensor, captionsOf: [[Int]], block: Int = 1024) {
        ensure(images.rank == 2 && texts.rank == 2 && images.shape[1] == texts.shape[1],
               "retrieval needs embeddings of one width, got \(images.shape) and \(texts.shape)")
        self.init(count: images.shape[0], distinct: texts.shape[0], captionsOf: captionsOf, block: block,
                  textScores: { images.slice(axis: 0, $0).matmul(texts, transposeOther: true) },
                  imageScores: { texts.slice(axis: 0, $0).matmul(images, transposeOther: true) })
    }

    /// FILIP retrieval: texts ranked for an image by s^I, images for a text by s^T.
    /// - Parameters: images: [N, n1, E] unit token features; texts: the U distinct captions' tokens;
    ///   textOf as in `init(images:texts:textOf:block:)`. Scores are computed for `block` images
    ///   against all texts, then for `block` texts against all images (memory O(block · N)).
    public init(tokenwiseImages images: Tensor, texts: TextTokens, textOf: [Int]? = nil, block: Int = 256) {
        self.init(tokenwiseImages: images, texts: texts, captionsOf: (textOf ?? Array(0..<images.shape[0])).map { [$0] },
                  block: block)
    }

    /// FILIP retrieval with several captions per item (`captionsOf` as in `init(images:texts:captionsOf:block:)`).
    public init(tokenwiseImages images: Tensor, texts: TextTokens, captionsOf: [[Int]], block: Int = 256) {
        self.init(count: images.shape[0], distinct: texts.count, captionsOf: captionsOf, block: block,
                  textScores: {
                      FILIPKernel.scores(imageTokens: images.slice(axis: 0, $0), textTokens: texts.features,
                                         validTokens: texts.valid).imageToText
                  },
                  imageScores: {
                      let part = texts.rows($0)
                      return FILIPKernel.scores(imageTokens: images, textTokens: part.features, validTokens: part.valid)
                          .textToImage.transposed()
                  })
    }

    /// Ranks from blocks of scores; each query's row comes from one call, so equal candidates tie exactly.
    /// - Parameters:
    ///   - textScores: for a range of b images, their scores [b, U] against the distinct captions.
    ///   - imageScores: for a range of b distinct captions, their scores [b, N] against the images.
    init(count: Int, distinct: Int, captionsOf: [[Int]], block: Int,
         textScores: (Range<Int>) -> Tensor, imageScores: (Range<Int>) -> Tensor) {
        ensure(captionsOf.count == count, "retrieval needs the captions of each image, got \(captionsOf.count) lists for \(count) images")
        let groups = CaptionGroups(captionsOf: captionsOf, distinct: distinct)
        self.count = count
        self.captions = groups.counts.reduce(0, +)
        var imageRanks: [Int] = []
        for start in stride(from: 0, to: count, by: block) {
            let r = start..<min(count, start + block)
            let scores = textScores(r)
            for k in 0..<r.count {
                imageRanks.append(RankingMetrics.rank(scores.pointer + k * distinct, counts: groups.counts,
                                                      targets: captionsOf[start + k]))
            }
        }
        var textRanks: [Int] = []
        textRanks.reserveCapacity(captions)
        for start in stride(from: 0, to: distinct, by: block) {
            let r = start..<min(distinct, start + block)
            let scores = imageScores(r)
            for k in 0..<r.count {
                for j in groups.members[start + k] {
                    textRanks.append(RankingMetrics.rank(scores.pointer + k * count, count: count, target: j))
                }
            }
        }
        imageToText = RankingMetrics.summarize(imageRanks)
        textToImage = RankingMetrics.summarize(textRanks)
    }

    /// Images and distinct captions encoded per call, whatever the loader's batch size, so the
    /// embeddings (and the metrics) do not depend on `batchSize`.
    static let encodeBatch = 64

    /// Encodes a captioned shard set (captions, or `/long_captions` with `longCaptions`) and scores
    /// it with the encoder's scoring: the first `limit` usable items (all by default) with all their
    /// captions (items with several: every one that is not blank), each distinct caption encoded once.
    /// Throws on a non-finite embedding and when no item is usable.
    public static func evaluate(encoder: ModelEncoder, tokenizer: CLIPTokenizer, dataset: any DatasetSource,
                                longCaptions: Bool, batchSize: Int = 256, limit: Int? = nil, loaderThreads: Int = 2,
                                progress: ((Int, Int) -> Void)? = nil) throws -> RetrievalResult {
        let ctx = encoder.model.config.textCfg.contextLength
        if longCaptions && !dataset.hasLongCaptions { throw ConfigError("the dataset has no /long_captions") }
        if let limit, limit < 1 { throw ConfigError("the evaluation limit must be at least 1, got \(limit)") }
        let total = min(dataset.count, limit ?? .max)
        let tokenize: @Sendable (String) -> [Int32] = { tokenizer.tokenize($0, contextLength: ctx) }
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: batchSize, imageSize: encoder.model.visual.imageSize,
                                                   contextLength: ctx, longContextLength: ctx, augmentation: encoder.preprocess, mode: .eval, shuffle: false,
                                                   threads: loaderThreads),
            tokenizer: tokenize, longTokenizer: longCaptions ? tokenize : nil)
        let size = encoder.model.visual.imageSize, pixels = size * size * 3
        var imageParts: [Tensor] = [], items: [Int] = [], captionsOf: [[Int]] = []
        var pending: [Float] = []          // images [*, S, S, 3] of the last items, not encoded yet
        var distinct: [[Int32]: Int] = [:], distinctTokens: [Int32] = []
        func encodeImages(all: Bool) throws {
            while pending.count >= encodeBatch * pixels || (all && !pending.isEmpty) {
                let n = min(encodeBatch, pending.count / pixels)
                let images = Tensor(shape: [n, size, size, 3], scalars: Array(pending[0..<(n * pixels)]))
                let features = encoder.scoring == .embedding ? encoder.images(images) : encoder.imageTokens(images)
                let first = imageParts.reduce(0) { $0 + $1.shape[0] }
                try features.requireFinite { dataset.itemName(items[first + $0]) + "'s image" }
                imageParts.append(features)
                pending.removeFirst(n * pixels)
            }
        }
        while items.count < total, let batch = try loader.next() {
            let n = min(batch.size, total - items.count)
            pending += batch.images[0..<(n * pixels)]
            let tokens = longCaptions ? batch.longTokens! : batch.tokens
            func textIndex(_ row: [Int32]) -> Int {
                if distinct[row] == nil { distinct[row] = distinct.count; distinctTokens += row }
                return distinct[row]!
            }
            for k in 0..<n {
                let index = batch.indices[k]
                var texts = [textIndex(Array(tokens[(k * ctx)..<((k + 1) * ctx)]))]
                if !longCaptions && dataset.captionCount(at: index) > 1 {
                    for number in 1..<dataset.captionCount(at: index) {
                        let text: String
                        do { text = try dataset.caption(at: index, number: number) } catch {
                            throw RunError("\(dataset.itemName(index)): caption \(number): \(error)")
                        }
                        if !text.allSatisfy(\.isWhitespace) { texts.append(textIndex(tokenize(text))) }
                    }
                }
                captionsOf.append(texts)
                items.append(index)
            }
            try encodeImages(all: false)
            progress?(items.count, total)
        }
        try encodeImages(all: true)
        guard !items.isEmpty else {
            let first = loader.skippedItems.first.map { " (first: \($0))" } ?? ""
            throw RunError("retrieval has no usable items: all \(dataset.count) were skipped\(first)")
        }
        let images = Tensor.concat(imageParts, axis: 0)
        let chunks = stride(from: 0, to: distinct.count, by: encodeBatch).map { start in
            (Array(distinctTokens[(start * ctx)..<(min(distinct.count, start + encodeBatch) * ctx)]), min(encodeBatch, distinct.count - start))
        }
        let captionOf = { (u: Int) in dataset.itemName(items[captionsOf.firstIndex { $0.contains(u) }!]) + "'s caption" }
        switch encoder.scoring {
        case .embedding:
            let texts = Tensor.concat(chunks.map { encoder.texts($0.0, batch: $0.1) }, axis: 0)
            try texts.requireFinite(captionOf)
            return RetrievalResult(images: images, texts: texts, captionsOf: captionsOf)
        case .tokenwise(let special):
            let texts = TextTokens.concat(chunks.map { encoder.textTokens($0.0, batch: $0.1, includeSpecialTokens: special) })
            try texts.features.requireFinite(captionOf)
            return RetrievalResult(tokenwiseImages: images, texts: texts, captionsOf: captionsOf)
        }
    }
}

/// The items of each distinct caption: `counts[u]` captions of the items have text u, and
/// `members[u]` lists their items (an item once per caption of its with text u).
struct CaptionGroups {
    var counts: [Int]
    var members: [[Int]]

    init(captionsOf: [[Int]], distinct: Int) {
        members = Array(repeating: [], count: distinct)
        for (item, texts) in captionsOf.enumerated() {
            ensure(!texts.isEmpty, "image \(item) has no caption")
            for u in texts {
                ensure(u >= 0 && u < distinct, "caption indices must lie in 0..<\(distinct), got \(u)")
                members[u].append(item)
            }
        }
        counts = members.map(\.count)
    }
}
