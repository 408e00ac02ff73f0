import Foundation
import DataPipeline
import Tokenization
import Objectives

/// Image↔text retrieval on pairs aligned by index: R@1/5/10, mean and median rank for both
/// directions, computed in row blocks so memory stays O(block · N).
public struct RetrievalResult: Codable, Equatable, Sendable {
    public var count: Int
    public var imageToText: RankingMetrics.Summary
    public var textToImage: RankingMetrics.Summary
    enum CodingKeys: String, CodingKey { case count, imageToText = "image_to_text", textToImage = "text_to_image" }

    /// - Parameters: images, texts: [N, E] L2-normalized embeddings of matching pairs.
    public init(images: Tensor, texts: Tensor, block: Int = 1024) {
        ensure(images.shape == texts.shape, "retrieval needs paired embeddings, got \(images.shape) and \(texts.shape)")
        let count = images.shape[0]
        self.count = count
        func ranks(_ queries: Tensor, _ candidates: Tensor) -> [Int] {
            var result: [Int] = []
            for start in stride(from: 0, to: count, by: block) {
                let end = min(count, start + block)
                let scores = queries.slice(axis: 0, start..<end).matmul(candidates, transposeOther: true)  // [b, N]
                for i in 0..<(end - start) {
                    result.append(RankingMetrics.rank(scores.pointer + i * count, count: count, target: start + i))
                }
            }
            return result
        }
        imageToText = RankingMetrics.summarize(ranks(images, texts))
        textToImage = RankingMetrics.summarize(ranks(texts, images))
    }

    /// FILIP retrieval: images ranked for a text by s^T, texts for an image by s^I.
    /// - Parameters: images: [N, n1, E] unit token features; texts: the matching N texts' tokens.
    ///   Scores are computed for `block` images at a time against all texts (memory O(block · N)).
    public init(filipImages images: Tensor, texts: TextTokens, block: Int = 256) {
        let count = images.shape[0]
        ensure(texts.count == count, "retrieval needs paired images and texts, got \(count) and \(texts.count)")
        self.count = count
        // s^T of each matching pair, which every other image must beat to outrank it.
        var target = [Float](repeating: 0, count: count)
        for start in stride(from: 0, to: count, by: 16) {
            let r = start..<min(count, start + 16)
            let pairs = texts.rows(r)
            let s = FILIPKernel.scores(imageTokens: images.slice(axis: 0, r), textTokens: pairs.features, validTokens: pairs.valid)
            for k in 0..<r.count { target[start + k] = s.textToImage.pointer[k * r.count + k] }
        }
        var imageRanks: [Int] = [], textRanks = [Int](repeating: 0, count: count)
        for start in stride(from: 0, to: count, by: block) {
            let r = start..<min(count, start + block)
            let s = FILIPKernel.scores(imageTokens: images.slice(axis: 0, r), textTokens: texts.features, validTokens: texts.valid)
            for k in 0..<r.count {
                let i = start + k
                imageRanks.append(RankingMetrics.rank(s.imageToText.pointer + k * count, count: count, target: i))
                let row = s.textToImage.pointer + k * count
                for j in 0..<count where j != i && row[j] > target[j] { textRanks[j] += 1 }
            }
        }
        imageToText = RankingMetrics.summarize(imageRanks)
        textToImage = RankingMetrics.summarize(textRanks)
    }

    /// Encodes a captioned shard set (captions, or `/long_captions` with `longCaptions`) and scores
    /// it with the encoder's scoring.
    public static func evaluate(encoder: ModelEncoder, tokenizer: CLIPTokenizer, dataset: ShardDataset,
                                longCaptions: Bool, batchSize: Int = 256, loaderThreads: Int = 2,
                                progress: ((Int, Int) -> Void)? = nil) throws -> RetrievalResult {
        let ctx = encoder.model.config.textCfg.contextLength
        if longCaptions && !dataset.hasLongCaptions { throw ConfigError("the dataset has no /long_captions") }
        let tokenize: @Sendable (String) -> [Int32] = { tokenizer.tokenize($0, contextLength: ctx) }
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: batchSize, imageSize: encoder.model.visual.imageSize,
                                                   contextLength: ctx, longContextLength: ctx, mode: .eval, shuffle: false,
                                                   threads: loaderThreads),
            tokenizer: tokenize, longTokenizer: longCaptions ? tokenize : nil)
        var imageParts: [Tensor] = [], textParts: [Tensor] = [], tokenParts: [TextTokens] = []
        var seen = 0
        while let batch = try loader.next() {
            let s = batch.imageSize
            let images = Tensor(shape: [batch.size, s, s, 3], scalars: batch.images)
            let tokens = longCaptions ? batch.longTokens! : batch.tokens
            switch encoder.scoring {
            case .embedding:
                imageParts.append(encoder.images(images))
                textParts.append(encoder.texts(tokens, batch: batch.size))
            case .filip(let special):
                imageParts.append(encoder.imageTokens(images))
                tokenParts.append(encoder.textTokens(tokens, batch: batch.size, includeSpecialTokens: special))
            }
            seen += batch.size
            progress?(seen, dataset.count)
        }
        guard seen > 0 else { throw ConfigError("no usable items for retrieval") }
        let images = Tensor.concat(imageParts, axis: 0)
        if case .filip = encoder.scoring { return RetrievalResult(filipImages: images, texts: TextTokens.concat(tokenParts)) }
        return RetrievalResult(images: images, texts: Tensor.concat(textParts, axis: 0))
    }
}
