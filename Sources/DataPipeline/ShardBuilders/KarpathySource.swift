import Foundation
import Tokenization

/// A Karpathy-split JSON (`dataset_coco.json`, `dataset_flickr30k.json`, `dataset_flickr8k.json`): the
/// image lists COCO and Flickr30k retrieval is reported on.
///
///     {"images": [{"filepath": "val2014", "filename": "COCO_val2014_000000391895.jpg", "split": "test",
///                  "sentences": [{"raw": "A man with a red helmet on a small moped on a dirt road. ", …}, …], …}, …]}
///
/// `filepath` is optional (COCO has it, Flickr30k not). An image is read from `images/filepath/filename`,
/// or `images/filename` when the entry has no `filepath` or no file is there.
public struct KarpathySource: Sendable {
    /// The JSON file.
    public var json: String
    /// The folder holding the images (for COCO the folder holding `train2014/` and `val2014/`).
    public var images: String
    /// The splits to take (`test`, `val`, `train`, `restval`), items in the file's order.
    public var splits: Set<String>
    public var format: StoredImageFormat = .jpeg

    public init(json: String, images: String, splits: Set<String>) {
        (self.json, self.images, self.splits) = (json, images, splits)
    }

    /// One image of the chosen splits.
    public struct Entry: Sendable, Equatable {
        /// The image file.
        public var path: String
        /// `filepath/filename` as the JSON names it (the item's `/keys` entry).
        public var name: String
        /// The non-blank `sentences[].raw`, trimmed, in order.
        public var captions: [String]
    }

    /// The images of the chosen splits, checked: the JSON parses and has Karpathy's layout, the splits
    /// hold at least one image, and every image file exists. Each failure is one line naming the file.
    public func entries() throws -> [Entry] {
        func fail(_ message: String) -> ShardBuildError { ShardBuildError(description: "\(json): \(message)") }
        do {
            guard try ShardPaths.readableKind(of: json) == .file else { throw fail("is a folder, expected a JSON file") }
        } catch let error as ShardError {
            throw ShardBuildError(description: error.description)   // "no such file: PATH", "permission denied: PATH"
        }
        guard let data = FileManager.default.contents(atPath: json) else { throw fail("cannot read") }
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data) } catch {
            let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String).map { " (\($0))" } ?? ""
            throw fail("not valid JSON\(detail)")
        }
        guard let list = (root as? [String: Any])?["images"] as? [Any] else {
            throw fail("not a Karpathy-split JSON: no \"images\" list at the top level")
        }
        var entries: [Entry] = [], present = Set<String>()
        for (n, element) in list.enumerated() {
            guard let image = element as? [String: Any] else { throw fail("images[\(n)] is not an object") }
            guard let split = image["split"] as? String else { throw fail("images[\(n)] has no \"split\" string") }
            present.insert(split)
            guard splits.contains(split) else { continue }
            guard let filename = image["filename"] as? String, !filename.isEmpty else {
                throw fail("images[\(n)] has no \"filename\" string")
            }
            let filepath = image["filepath"] as? String
            guard let sentences = image["sentences"] as? [Any] else { throw fail("images[\(n)] (\(filename)) has no \"sentences\" list") }
            var captions: [String] = []
            for (k, sentence) in sentences.enumerated() {
                guard let raw = (sentence as? [String: Any])?["raw"] as? String else {
                    throw fail("images[\(n)] (\(filename)) sentences[\(k)] has no \"raw\" string")
                }
                do { try TextProblem.check(raw) } catch { throw fail("images[\(n)] (\(filename)) sentences[\(k)]: \(error)") }
                let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty { captions.append(text) }
            }
            let name = filepath.map { "\($0)/\(filename)" } ?? filename
            let root = URL(fileURLWithPath: images)
            var path = root.appendingPathComponent(name).path
            if filepath != nil && !FileManager.default.fileExists(atPath: path) {
                let flat = root.appendingPathComponent(filename).path
                if FileManager.default.fileExists(atPath: flat) { path = flat }
            }
            entries.append(Entry(path: path, name: name, captions: captions))
        }
        guard !entries.isEmpty else {
            throw fail("no image in split \(splits.sorted().joined(separator: ", ")) (splits in the file: \(present.sorted().joined(separator: ", ")))")
        }
        let missing = entries.filter { !FileManager.default.fileExists(atPath: $0.path) }
        if let first = missing.first {
            throw fail("\(missing.count) of the \(entries.count) images of split \(splits.sorted().joined(separator: ", ")) are missing under \(images) "
                       + "(first: \(first.path)); --images must be the folder holding \(first.name)")
        }
        return entries
    }
}

/// Builds shards from a Karpathy-split JSON: one item per image of the chosen splits, in the file's
/// order, holding all its captions (shard format version 2) and its `filepath/filename` as `/keys`.
/// A benchmark set must be complete, so a missing image file, or one that is not a readable JPEG/PNG,
/// fails the build (one line naming the file) and nothing is written; an image without any non-blank
/// caption is skipped and reported.
@discardableResult
public func buildShards(from source: KarpathySource, output: String, shardSize: Int, overwrite: Bool = false,
                        progressStyle: BuildProgress.Style = .silent) throws -> BuildSummary {
    let entries = try source.entries()
    let writer = try ShardSetWriter(output: output, shardSize: shardSize, overwrite: overwrite,
                                    progress: BuildProgress(total: entries.count, style: progressStyle))
    for entry in entries {
        guard !entry.captions.isEmpty else { writer.skip(source: "\(source.json): \(entry.name)", reason: "no caption"); continue }
        let image: ShardImage
        do { image = try loadImageFile(entry.path, as: source.format) } catch {
            writer.abandon()
            throw ShardBuildError(description: "\(entry.path): \(SkipReason(error)) (listed in \(source.json))")
        }
        try writer.append(ShardItem(image: image, captions: entry.captions, key: entry.name))
    }
    return try writer.finish()
}
