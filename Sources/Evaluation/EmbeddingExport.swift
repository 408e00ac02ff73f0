import Foundation
import Checkpointing
import DataPipeline
import Tokenization
import TensorCore
import Autograd
import NeuralNet
import Objectives
import ModelStore

/// The `embed` command's work: one embedding row per image item of a shard and per line of a
/// text file, written as safetensors — or a refusal, never a silently shifted row.
public enum EmbeddingExport {
    /// L2-normalized embeddings [N, E] of the dataset's N images, in order (evaluation transform).
    /// Throws, naming the source and item, when an image cannot be decoded or its embedding is not finite.
    public static func embedImages(encoder: ModelEncoder, dataset: any DatasetSource, batchSize: Int = 256) throws -> Tensor {
        let ctx = encoder.model.config.textCfg.contextLength
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: batchSize, imageSize: encoder.model.visual.imageSize,
                                                   contextLength: ctx, augmentation: encoder.preprocess, mode: .eval, shuffle: false, threads: max(1, encoder.workers),
                                                   needsCaptions: false),
            tokenizer: { _ in [] },  // images only: captions are neither read nor tokenized
            log: { _ in })           // a skipped item is refused below
        var parts: [Tensor] = []
        func refuseSkips() throws {
            if let item = loader.skippedItems.first {
                throw RunError("\(item) (embed writes one row per image, so it refuses unusable items)")
            }
        }
        while let batch = try loader.next() {
            try refuseSkips()
            let s = batch.imageSize
            let embeddings = encoder.images(Tensor(shape: [batch.size, s, s, 3], scalars: batch.images))
            try embeddings.requireFinite { dataset.itemName(batch.indices[$0]) }
            parts.append(embeddings)
        }
        try refuseSkips()
        return Tensor.concat(parts, axis: 0)
    }

    /// The lines of a UTF-8 text file, one caption each (`TextLines`: "\n" or "\r\n" ends a line;
    /// an empty line is an empty caption, so row i of the embeddings is line i + 1). A line that is not
    /// valid UTF-8 or holds a NUL byte is refused, named (`TextProblem`).
    public static func captions(file path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw RunError("\(path): cannot read") }
        do { return try TextProblem.lines(of: data, source: path) } catch { throw ConfigError("\(error)") }
    }

    /// L2-normalized embeddings [M, E] of `captions`; throws, naming the line of `source`, on a
    /// non-finite embedding.
    public static func embedTexts(_ captions: [String], encoder: ModelEncoder, tokenizer: CLIPTokenizer,
                                  source: String) throws -> Tensor {
        guard !captions.isEmpty else { return Tensor.zeros([0, encoder.model.config.embedDim]) }
        let embeddings = encoder.texts(captions, tokenizer: tokenizer)
        try embeddings.requireFinite { "\(source) line \($0 + 1)" }
        return embeddings
    }

    public static func write(images: Tensor, texts: Tensor, to url: URL) throws {
        try writeSafeTensors([
            (name: "image_embeddings", shape: images.shape, data: images.scalars),
            (name: "text_embeddings", shape: texts.shape, data: texts.scalars),
        ], metadata: ["producer": "swiftclip"], to: url)
    }
}
