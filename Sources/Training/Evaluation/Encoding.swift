import Foundation
import DataPipeline
import Tokenization

/// Embedding images and texts with a trained model, without a tape, split over worker threads.
public struct ModelEncoder {
    public let model: CLIPModel
    public let workers: Int

    public init(model: CLIPModel, workers: Int = Parallel.threads) {
        (self.model, self.workers) = (model, max(1, workers))
    }

    /// Runs `encode` on `workers` contiguous slices of `count` rows and concatenates the results.
    func split(_ count: Int, _ encode: @escaping (Range<Int>) -> Tensor) -> Tensor {
        let parts = min(workers, count)
        if parts <= 1 { return GradMode.noGrad { encode(0..<count) } }
        let results = UncheckedBox(UnsafeMutableBufferPointer<Tensor?>.allocate(capacity: parts))
        results.value.initialize(repeating: nil)
        defer { results.value.deallocate() }
        let per = (count + parts - 1) / parts
        let box = UncheckedBox(encode)
        DispatchQueue.concurrentPerform(iterations: parts) { w in
            let range = (w * per)..<min(count, (w + 1) * per)
            if range.isEmpty { return }
            results.value[w] = Parallel.withThreadBudget(1) { GradMode.noGrad { box.value(range) } }
        }
        return Tensor.concat(results.value.compactMap { $0 }, axis: 0)
    }

    /// L2-normalized image embeddings [B, E] of `images` [B, S, S, 3].
    public func images(_ images: Tensor) -> Tensor {
        split(images.shape[0]) { r in self.model.encodeImage(images.slice(axis: 0, r)).pooled.value.l2Normalized().y }
    }

    /// L2-normalized text embeddings [B, E] of token rows `tokens` [B, ctx].
    public func texts(_ tokens: [Int32], batch: Int) -> Tensor {
        let ctx = tokens.count / max(batch, 1)
        return split(batch) { r in
            let rows = Array(tokens[(r.lowerBound * ctx)..<(r.upperBound * ctx)])
            return self.model.encodeText(rows, batch: r.count).pooled.value.l2Normalized().y
        }
    }

    /// Embeddings of caption strings, tokenized to the model's context, in batches of `batchSize`.
    public func texts(_ captions: [String], tokenizer: CLIPTokenizer, batchSize: Int = 256) -> Tensor {
        let ctx = model.config.textCfg.contextLength
        var parts: [Tensor] = []
        for start in stride(from: 0, to: captions.count, by: batchSize) {
            let chunk = Array(captions[start..<min(captions.count, start + batchSize)])
            parts.append(texts(tokenizer.tokenize(chunk, contextLength: ctx).flatMap { $0 }, batch: chunk.count))
        }
        return Tensor.concat(parts, axis: 0)
    }
}
