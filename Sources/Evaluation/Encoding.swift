import Foundation
import DataPipeline
import Tokenization
import Objectives
import TensorCore
import Autograd
import NeuralNet
import Checkpointing
import ModelStore

/// Embedding images and texts with a trained model, without a tape, split over worker threads.
public struct ModelEncoder {
    public let model: CLIPModel
    public let workers: Int
    /// How images and texts are compared (the model's training objective decides).
    public let scoring: Similarity
    /// GEMM precision of the towers (scoring stays fp32).
    public let precision: MatmulPrecision
    /// The evaluation image transform the model expects (`ModelLoading`: a hub folder's
    /// `preprocess_cfg`, else SwiftCLIP's training normalization with shortest-side center crop).
    public let preprocess: Augmentation

    public init(model: CLIPModel, workers: Int = Parallel.threads, scoring: Similarity = .embedding,
                precision: MatmulPrecision = .fp32, preprocess: Augmentation = .none) {
        (self.model, self.workers, self.scoring) = (model, max(1, workers), scoring)
        (self.precision, self.preprocess) = (precision, preprocess)
    }

    /// Runs `encode` on `workers` contiguous slices of `count` rows and concatenates the results.
    func split(_ count: Int, _ encode: (Range<Int>) -> Tensor) -> Tensor {
        let parts = min(workers, count), precision = self.precision
        if parts <= 1 { return GradMode.noGrad { MatmulPrecision.with(precision) { encode(0..<count) } } }
        let results = UncheckedBox(UnsafeMutableBufferPointer<Tensor?>.allocate(capacity: parts))
        results.value.initialize(repeating: nil)
        defer { results.value.deallocate() }
        let per = (count + parts - 1) / parts
        Parallel.forEachWorker(parts) { w in
            let range = (w * per)..<min(count, (w + 1) * per)
            if !range.isEmpty { results.value[w] = GradMode.noGrad { MatmulPrecision.with(precision) { encode(range) } } }
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

    /// Unit-length patch-token features [B, n1, E] of `images` [B, S, S, 3] (FILIP scoring).
    public func imageTokens(_ images: Tensor) -> Tensor {
        split(images.shape[0]) { r in
            self.model.encodeImage(images.slice(axis: 0, r), returnTokens: true).tokens!.value.l2Normalized().y
        }
    }

    /// Unit-length token features of token rows `tokens` [B, ctx] with each text's FILIP token range.
    /// Positions after the batch's last EOT are dropped (padding never takes part), so a set of
    /// short captions under a 248-token context costs what its captions need.
    public func textTokens(_ tokens: [Int32], batch: Int, includeSpecialTokens: Bool) -> TextTokens {
        let ctx = tokens.count / max(batch, 1)
        let ends = model.text.endPositions(tokens, batch: batch)
        let width = (ends.max() ?? 0) + 1
        let features = split(batch) { r in
            let rows = Array(tokens[(r.lowerBound * ctx)..<(r.upperBound * ctx)])
            let all = self.model.encodeText(rows, batch: r.count, returnTokens: true).tokens!.value   // [b, ctx, E]
            return (width < ctx ? all.slice(axis: 1, 0..<width) : all).l2Normalized().y
        }
        return TextTokens(features: features, valid: FILIPObjective.validTokens(ends: ends, includeSpecialTokens: includeSpecialTokens))
    }

    /// Embeddings of caption strings, tokenized to the model's context, in batches of `batchSize`.
    public func texts(_ captions: [String], tokenizer: CLIPTokenizer, batchSize: Int = 256) -> Tensor {
        Tensor.concat(inBatches(captions, tokenizer, batchSize) { self.texts($0, batch: $1) }, axis: 0)
    }

    /// FILIP token features of caption strings (see `textTokens(_:batch:includeSpecialTokens:)`).
    public func textTokens(_ captions: [String], tokenizer: CLIPTokenizer, includeSpecialTokens: Bool,
                           batchSize: Int = 256) -> TextTokens {
        TextTokens.concat(inBatches(captions, tokenizer, batchSize) {
            self.textTokens($0, batch: $1, includeSpecialTokens: includeSpecialTokens)
        })
    }

    /// `encode` applied to the token rows of consecutive batches of `captions`.
    func inBatches<T>(_ captions: [String], _ tokenizer: CLIPTokenizer, _ batchSize: Int,
                      _ encode: ([Int32], Int) -> T) -> [T] {
        let ctx = model.config.textCfg.contextLength
        return stride(from: 0, to: captions.count, by: batchSize).map { start in
            let chunk = Array(captions[start..<min(captions.count, start + batchSize)])
            return encode(tokenizer.tokenize(chunk, contextLength: ctx).flatMap { $0 }, chunk.count)
        }
    }
}

/// Texts as FILIP sees them: unit-length token features [N, ctx, E] and the range of each
/// text's tokens that take part in the similarity.
public struct TextTokens {
    public var features: Tensor
    public var valid: [Range<Int>]

    public var count: Int { valid.count }

    /// - Parameters: features [N, n, E] unit rows; valid: N non-empty ranges within 0..<n.
    public init(features: Tensor, valid: [Range<Int>]) {
        ensure(features.rank == 3 && features.shape[0] == valid.count && valid.allSatisfy { $0.upperBound <= features.shape[1] },
               "text tokens [N, n, E] need one valid range within 0..<n per text, got \(features.shape) and \(valid.count) ranges")
        (self.features, self.valid) = (features, valid)
    }

    /// The texts of all parts, narrower parts padded with zero positions (outside every valid range).
    public static func concat(_ parts: [TextTokens]) -> TextTokens {
        let width = parts.map { $0.features.shape[1] }.max() ?? 0
        let padded = parts.map { p -> Tensor in
            let (n, w, e) = (p.features.shape[0], p.features.shape[1], p.features.shape[2])
            return w == width ? p.features : Tensor.concat([p.features, Tensor.zeros([n, width - w, e])], axis: 1)
        }
        return TextTokens(features: Tensor.concat(padded, axis: 0), valid: parts.flatMap(\.valid))
    }

    public func rows(_ r: Range<Int>) -> TextTokens {
        TextTokens(features: features.slice(axis: 0, r), valid: Array(valid[r]))
    }
}
