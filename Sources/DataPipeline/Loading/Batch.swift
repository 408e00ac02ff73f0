/// One batch from `DataLoader`, in a fixed order for a given seed.
///
/// Images are channels-last: `images` is [B, H, W, 3] Float32 with H = W = `imageSize`, normalized
/// per channel (OpenAI mean/std unless configured otherwise).
public struct Batch: Sendable {
    /// B: the batch size (smaller only for the last batch of an evaluation pass).
    public var size: Int
    public var imageSize: Int
    /// [B, H, W, 3]
    public var images: [Float]
    public var contextLength: Int
    /// [B, contextLength]: the tokenized captions (all zeros when the loader does not read captions,
    /// `DataLoaderConfiguration.needsCaptions == false`).
    public var tokens: [Int32]
    /// [B, longContextLength]: tokenized long captions, when the loader has a long-caption tokenizer.
    public var longTokens: [Int32]?
    /// [B]: class labels, when every shard has `/labels`.
    public var labels: [Int]?
    /// [B]: the raw captions ("" each when the loader does not read captions).
    public var captions: [String]
    /// [B]: the raw long captions, when the dataset has `/long_captions` (and the loader reads captions);
    /// "" for an item of a shard without them. For Long-CLIP's short captions and multi-positive sub-captions.
    public var longCaptions: [String]?
    /// [B]: each sample's global index in the dataset (`ShardDataset.locate` gives shard and index).
    public var indices: [Int]
    /// The epoch the batch belongs to.
    public var epoch: Int
}

/// Where a loader stands: the next sample it will consider is at `position` of epoch `epoch`'s order.
/// Saved in checkpoints; `DataLoader(…, resumeFrom: state)` continues with exactly the next sample.
public struct LoaderState: Codable, Equatable, Hashable, Sendable {
    public var epoch: Int
    public var position: Int

    public init(epoch: Int = 0, position: Int = 0) {
        self.epoch = epoch
        self.position = position
    }
}

/// An item the loader skipped, and why (corrupt JPEG, empty caption, missing dataset, unreadable data).
public struct SkippedItem: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var shardPath: String
    public var shard: Int
    public var index: Int
    public var reason: String

    public var description: String { "\(shardPath) item \(index): \(reason)" }
}
