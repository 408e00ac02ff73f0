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
        let decoder = JSONDecoder()
        decoder.userInfo[KarpathyImage.splitsKey] = splits
        let list: [KarpathyImage]
        do { list = try decoder.decode(KarpathyFile.self, from: data).images } catch let error as DecodingError {
            throw fail(KarpathyImage.message(error))
        }
        var entries: [Entry] = [], present = Set<String>()
        for (n, image) in list.enumerated() {
            present.insert(image.split)
            guard splits.contains(image.split), let filename = image.filename, let sentences = image.sentences else { continue }
            guard !filename.isEmpty else { throw fail("images[\(n)] has an empty \"filename\"") }
            let filepath = image.filepath.flatMap { $0.isEmpty ? nil : $0 }
            var captions: [String] = []
            for (k, raw) in sentences.enumerated() {
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

/// The top level of a Karpathy-split JSON (other keys, such as `dataset`, are ignored).
private struct KarpathyFile: Decodable {
    var images: [KarpathyImage]
}

/// One `images[]` entry: only `split` for images of other splits (their sentences are not kept, so a
/// 150 MB `dataset_coco.json` costs what its test split needs), the file and `sentences[].raw` otherwise.
private struct KarpathyImage: Decodable {
    static let splitsKey = CodingUserInfoKey(rawValue: "swiftclip.karpathy.splits")!

    var split: String
    var filename: String?
    var filepath: String?
    var sentences: [String]?

    private enum CodingKeys: String, CodingKey { case split, filename, filepath, sentences }
    private struct Sentence: Decodable { var raw: String }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        split = try c.decode(String.self, forKey: .split)
        guard (decoder.userInfo[Self.splitsKey] as? Set<String>)?.contains(split) == true else { return }
        filename = try c.decode(String.self, forKey: .filename)
        filepath = try c.decodeIfPresent(String.self, forKey: .filepath)
        sentences = try c.decode([Sentence].self, forKey: .sentences).map(\.raw)
    }

    /// A decoding failure as one line: "not valid JSON (…)", "not a Karpathy-split JSON: …", or the
    /// entry and field, e.g. `images[3] has no "filename"`, `images[3].sentences[1].raw is not a string`.
    static func message(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
        }
        func kind(_ type: Any.Type) -> String {
            switch type {
            case is String.Type: return "a string"
            case is [Any].Type, is [Sentence].Type, is [KarpathyImage].Type: return "a list"
            default: return "an object"
            }
        }
        let notKarpathy = "not a Karpathy-split JSON: no \"images\" list at the top level"
        switch error {
        case let .dataCorrupted(context) where context.codingPath.isEmpty:
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "not valid JSON" + (detail.map { " (\($0))" } ?? "")
        case let .keyNotFound(key, context):
            return context.codingPath.isEmpty ? notKarpathy : "\(path(context.codingPath)) has no \"\(key.stringValue)\""
        case let .typeMismatch(type, context), let .valueNotFound(type, context):
            return context.codingPath.count <= 1 ? notKarpathy : "\(path(context.codingPath)) is not \(kind(type))"
        case let .dataCorrupted(context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
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
