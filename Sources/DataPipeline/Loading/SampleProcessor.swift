import Foundation
import TensorCore

/// A sample ready for batching.
struct ProcessedSample: Sendable {
    var image: [Float]          // [H, W, 3]
    var tokens: [Int32]         // [contextLength]
    var longTokens: [Int32]?    // [longContextLength]
    var label: Int?
    var caption: String
    var longCaption: String?
    var globalIndex: Int
    var epoch: Int
}

/// What a worker produced for one position of the sample order.
enum SampleResult: Sendable {
    case sample(ProcessedSample)
    case skipped(SkippedItem)
    case failed(DataLoaderError)
}

/// Reads, decodes, augments and tokenizes one sample. Pure given its inputs: the result depends only on
/// the item and the sample's random stream, never on which thread runs it.
struct SampleProcessor: Sendable {
    let dataset: any DatasetSource
    let imageSize: Int
    let augmentation: Augmentation
    let training: Bool
    let contextLength: Int
    let tokenizer: @Sendable (String) -> [Int32]
    let longTokenizer: (@Sendable (String) -> [Int32])?
    let longContextLength: Int
    /// Read and tokenize `/captions` (false: caption "", all-zero tokens, no long captions).
    let needsCaptions: Bool
    /// Read `/long_captions` into the sample (the dataset has them and captions are needed).
    let readsLongCaptions: Bool
    /// The loader's seed: with `training`, which caption of a several-caption item is read.
    let seed: UInt64

    func process(globalIndex: Int, epoch: Int, rng: RandomGenerator) -> SampleResult {
        let (path, s, i) = dataset.origin(of: globalIndex)
        func skip(_ reason: String) -> SampleResult {
            .skipped(SkippedItem(shardPath: path, shard: s, index: i, reason: reason))
        }
        do {
            var caption = ""
            if needsCaptions {
                let captions = dataset.captionCount(at: globalIndex)
                let number = training && captions > 1
                    ? SampleOrder.captionNumber(seed: seed, epoch: epoch, item: globalIndex, captions: captions) : 0
                caption = try dataset.caption(at: globalIndex, number: number)
                if caption.allSatisfy(\.isWhitespace) { return skip("empty caption") }
            }
            var longCaption: String? = nil
            if longTokenizer != nil {
                let text = try dataset.longCaption(at: globalIndex)
                if text.allSatisfy(\.isWhitespace) { return skip("empty long caption") }
                longCaption = text
            } else if readsLongCaptions {
                longCaption = dataset.hasLongCaption(at: globalIndex) ? try dataset.longCaption(at: globalIndex) : ""
            }
            let image = try dataset.image(at: globalIndex).decoded()

            var rng = rng
            let pixels = [Float](unsafeUninitializedCapacity: imageSize * imageSize * 3) { buffer, count in
                augmentation.apply(to: image, size: imageSize, training: training, using: &rng, into: buffer)
                count = imageSize * imageSize * 3
            }
            let tokens = needsCaptions ? tokenizer(caption) : [Int32](repeating: 0, count: contextLength)
            guard tokens.count == contextLength else {
                return .failed(.tokenizer("the tokenizer returned \(tokens.count) tokens, expected the context length \(contextLength)"))
            }
            var longTokens: [Int32]? = nil
            if let longTokenizer, let longCaption {
                let ids = longTokenizer(longCaption)
                guard ids.count == longContextLength else {
                    return .failed(.tokenizer("the long-caption tokenizer returned \(ids.count) tokens, expected \(longContextLength)"))
                }
                longTokens = ids
            }
            return .sample(ProcessedSample(image: pixels, tokens: tokens, longTokens: longTokens,
                                           label: dataset.label(at: globalIndex), caption: caption, longCaption: longCaption,
                                           globalIndex: globalIndex,
                                           epoch: epoch))
        } catch let error as ShardError {
            let prefix = "item \(i): "
            return skip(error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message)
        } catch let error as JPEG.Failure {
            return skip(error.description)
        } catch {
            return skip("\(error)")
        }
    }
}
