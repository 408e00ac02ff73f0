import TensorCore

/// What `DataLoader` reads: `count` items addressed by a global index `0 ..< count`, each an image (raw
/// pixels or encoded JPEG/PNG bytes), a caption and, when the source has them, a long caption and a label.
///
/// `ShardDataset` (HDF5 shards) is the first conformer; streaming another format at training time is one
/// more type conforming to this, passed to `DataLoader(dataset:…)`. The loader calls the reads from its
/// worker threads, concurrently and in any order, and only those it needs (no caption reads for zero-shot
/// classification). A read that throws skips the item: the error's description (one line) is the reason the
/// loader reports with `origin(of:)`, and training goes on.
public protocol DatasetSource: AnyObject, Sendable {
    /// N, the number of items.
    var count: Int { get }
    /// The class names of a classification set (zero-shot evaluation), nil when none.
    var classnames: [String]? { get }
    /// Whether every item has a label (then `Batch.labels` is filled).
    var hasLabels: Bool { get }
    /// Whether any item may have a long caption (then `Batch.longCaptions` is filled).
    var hasLongCaptions: Bool { get }

    /// Where item `index` is stored, for skip reports (`SkippedItem`): the file, its number among the
    /// source's files, and the item's index in that file.
    func origin(of index: Int) -> (path: String, part: Int, index: Int)
    /// The image of item `index`, raw or still encoded (the loader decodes it).
    func image(at index: Int) throws -> ShardImage
    /// The caption of item `index` (its first when it has several).
    func caption(at index: Int) throws -> String
    /// How many captions item `index` has (COCO and Flickr30k have five per image); at least 1.
    /// Default: 1.
    func captionCount(at index: Int) -> Int
    /// Caption `number` (`0 ..< captionCount(at: index)`) of item `index`. Default: `caption(at:)`.
    func caption(at index: Int, number: Int) throws -> String
    /// Whether some item may have more than one caption. Default: false.
    var hasMultipleCaptions: Bool { get }
    /// Whether item `index` has a long caption (its file may lack them).
    func hasLongCaption(at index: Int) -> Bool
    /// The long caption of item `index`; throws when it has none.
    func longCaption(at index: Int) throws -> String
    /// The class label of item `index`, nil when it has none.
    func label(at index: Int) -> Int?
}

/// A source of image-caption pairs only: one caption per item, no classes, labels or long captions.
extension DatasetSource {
    public func captionCount(at index: Int) -> Int { 1 }
    public func caption(at index: Int, number: Int) throws -> String {
        ensure(number == 0, "caption \(number) out of range 0..<1 of item \(index)")
        return try caption(at: index)
    }
    public var hasMultipleCaptions: Bool { false }
    public var classnames: [String]? { nil }
    public var hasLabels: Bool { false }
    public var hasLongCaptions: Bool { false }
    public func hasLongCaption(at index: Int) -> Bool { false }
    public func longCaption(at index: Int) throws -> String { throw MissingLongCaption(index: index) }
    public func label(at index: Int) -> Int? { nil }
}

/// The error of a long-caption read from a source that has none.
public struct MissingLongCaption: Error, CustomStringConvertible, Sendable {
    public var index: Int
    public var description: String { "no long caption" }
}
