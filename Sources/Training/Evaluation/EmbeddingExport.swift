import Foundation
import Checkpointing
import DataPipeline

/// The `embed` command's work: embeddings of every image of a shard, written as safetensors.
public enum EmbeddingExport {
    /// L2-normalized embeddings [N, E] of the shard's images, in order (evaluation transform).
    public static func embedImages(encoder: ModelEncoder, shard: String, batchSize: Int = 256) throws -> Tensor {
        let dataset = try ShardDataset(path: shard)
        let ctx = encoder.model.config.textCfg.contextLength
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: batchSize, imageSize: encoder.model.visual.imageSize,
                                                   contextLength: ctx, mode: .eval, shuffle: false, threads: max(1, encoder.workers),
                                                   needsCaptions: false),
            tokenizer: { _ in [] })  // images only: captions are neither read nor tokenized
        var parts: [Tensor] = []
        while let batch = try loader.next() {
            let s = batch.imageSize
            parts.append(encoder.images(Tensor(shape: [batch.size, s, s, 3], scalars: batch.images)))
        }
        guard !parts.isEmpty else { throw ConfigError("\(shard): no readable images") }
        return Tensor.concat(parts, axis: 0)
    }

    public static func write(images: Tensor, texts: Tensor, to url: URL) throws {
        try writeSafeTensors([
            (name: "image_embeddings", shape: images.shape, data: images.scalars),
            (name: "text_embeddings", shape: texts.shape, data: texts.scalars),
        ], metadata: ["producer": "swiftclip"], to: url)
    }
}
