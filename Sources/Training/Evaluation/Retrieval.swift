import Foundation
import DataPipeline
import Tokenization

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

    /// Embeds a captioned shard set (captions, or `/long_captions` with `longCaptions`) and scores it.
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
        var imageParts: [Tensor] = [], textParts: [Tensor] = []
        var seen = 0
        while let batch = try loader.next() {
            let s = batch.imageSize
            imageParts.append(encoder.images(Tensor(shape: [batch.size, s, s, 3], scalars: batch.images)))
            textParts.append(encoder.texts(longCaptions ? batch.longTokens! : batch.tokens, batch: batch.size))
            seen += batch.size
            progress?(seen, dataset.count)
        }
        guard seen > 0 else { throw ConfigError("no usable items for retrieval") }
        return RetrievalResult(images: Tensor.concat(imageParts, axis: 0), texts: Tensor.concat(textParts, axis: 0))
    }
}
