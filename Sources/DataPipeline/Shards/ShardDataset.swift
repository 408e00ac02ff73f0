import TensorCore
import Foundation

/// A dataset made of shards: a folder of `.h5` files (sorted by name), one `.h5` file, or a list of either,
/// concatenated in order. Items are addressed by a global index `0 ..< count` or by (shard, index).
///
/// All shards are opened (and validated) up front and stay open.
public final class ShardDataset: @unchecked Sendable {
    public let shards: [ShardReader]
    /// `offsets[s]` is the global index of shard `s`'s first item; `offsets.last == count`.
    public let offsets: [Int]
    /// Total number of items.
    public var count: Int { offsets.last! }
    /// The class names shared by the shards (nil when none has them).
    public let classnames: [String]?
    /// Whether every shard has `/labels`.
    public let hasLabels: Bool
    /// Whether any shard has `/long_captions`.
    public let hasLongCaptions: Bool

    public init(shards: [ShardReader]) throws {
        guard !shards.isEmpty else { throw ShardError(.invalidDataset, file: "(dataset)", "no shards given") }
        self.shards = shards
        var offsets = [0]
        for shard in shards { offsets.append(offsets.last! + shard.count) }
        self.offsets = offsets
        var names: [String]? = nil
        for shard in shards {
            guard let theirs = shard.classnames else { continue }
            if let names, names != theirs {
                throw ShardError(.invalidDataset, file: shard.path,
                                 "classnames differ from those of the shards before it in the dataset")
            }
            names = theirs
        }
        classnames = names
        hasLabels = shards.allSatisfy { $0.labels != nil }
        hasLongCaptions = shards.contains { $0.hasLongCaptions }
    }

    /// Opens a folder of shards (every `*.h5` in it, sorted by name) or a single shard file.
    public convenience init(path: String) throws {
        try self.init(paths: [path])
    }

    /// Opens each path — a folder of shards or a shard file — and concatenates them in order.
    public convenience init(paths: [String]) throws {
        var readers: [ShardReader] = []
        for path in paths {
            for file in try Self.shardFiles(at: path) { readers.append(try ShardReader(path: file)) }
        }
        try self.init(shards: readers)
    }

    /// The shard files a path names: itself when it is a file, or the sorted `*.h5` files of a folder.
    /// Throws "no such file: PATH", "permission denied: PATH" or "no .h5 shards in folder: PATH".
    public static func shardFiles(at path: String) throws -> [String] {
        guard try ShardPaths.readableKind(of: path) == .directory else { return [path] }
        let shards = try ShardPaths.contents(of: path).filter { $0.hasSuffix(".h5") && !$0.hasPrefix(".") }.sorted()
        guard !shards.isEmpty else { throw ShardError(.missingFile, file: path, "no .h5 shards in folder") }
        return shards.map { URL(fileURLWithPath: path).appendingPathComponent($0).path }
    }

    /// The (shard, index in shard) of global item `index`.
    public func locate(_ index: Int) -> (shard: Int, index: Int) {
        ensure(index >= 0 && index < count, "item \(index) out of range 0..<\(count)")
        // Last shard whose offset is <= index (skips empty shards).
        var lo = 0, hi = shards.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if offsets[mid] <= index { lo = mid } else { hi = mid - 1 }
        }
        return (lo, index - offsets[lo])
    }

    /// The global index of item `index` of shard `shard`.
    public func globalIndex(shard: Int, index: Int) -> Int { offsets[shard] + index }

    /// Item `index` (global).
    public func item(at index: Int) throws -> ShardItem {
        let (s, i) = locate(index)
        return try shards[s].item(at: i)
    }
}

/// The loader reads shards item by item: item `index` is item `locate(index).index` of shard `locate(index).shard`.
extension ShardDataset: DatasetSource {
    public func origin(of index: Int) -> (path: String, part: Int, index: Int) {
        let (s, i) = locate(index)
        return (shards[s].path, s, i)
    }

    public func image(at index: Int) throws -> ShardImage {
        let (s, i) = locate(index)
        return try shards[s].image(at: i)
    }

    public func caption(at index: Int) throws -> String {
        let (s, i) = locate(index)
        return try shards[s].caption(at: i)
    }

    public func captionCount(at index: Int) -> Int {
        let (s, i) = locate(index)
        return shards[s].captionCount(at: i)
    }

    public func caption(at index: Int, number: Int) throws -> String {
        let (s, i) = locate(index)
        return try shards[s].caption(at: i, number: number)
    }

    public var hasMultipleCaptions: Bool { shards.contains { $0.hasMultipleCaptions } }

    public func hasLongCaption(at index: Int) -> Bool { shards[locate(index).shard].hasLongCaptions }

    public func longCaption(at index: Int) throws -> String {
        let (s, i) = locate(index)
        return try shards[s].longCaption(at: i)
    }

    public func label(at index: Int) -> Int? {
        let (s, i) = locate(index)
        return shards[s].labels?[i]
    }
}
