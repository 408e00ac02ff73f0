import Foundation
import Tokenization

/// Fashion-MNIST from its IDX files (`{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`).
public struct FashionMNISTSource: Sendable {
    public enum Split: String, Sendable, CaseIterable {
        case train, test
        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// Natural lowercase names of the ten classes, in label order (the dataset's own names are
    /// T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot).
    public static let classnames = ["t-shirt", "trouser", "pullover", "dress", "coat",
                                    "sandal", "shirt", "sneaker", "bag", "ankle boot"]
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    public var directory = FashionMNISTSource.defaultDirectory
    public var split: Split = .train
    /// Only the first `limit` items.
    public var limit: Int? = nil
    public var templates: CaptionTemplates
    public var seed: UInt64 = 0

    public init(templates: CaptionTemplates) { self.templates = templates }

    public var imagesPath: String { URL(fileURLWithPath: directory).appendingPathComponent("\(split.filePrefix)-images-idx3-ubyte.gz").path }
    public var labelsPath: String { URL(fileURLWithPath: directory).appendingPathComponent("\(split.filePrefix)-labels-idx1-ubyte.gz").path }

    /// Reads a gzip'ed IDX file: its dimensions and its unsigned-byte payload.
    public static func readIDX(_ path: String, expectedRank: Int) throws -> (dimensions: [Int], values: [UInt8]) {
        guard let compressed = FileManager.default.contents(atPath: path) else {
            throw ShardBuildError(description: "\(path): cannot read IDX file")
        }
        let data: [UInt8]
        do {
            data = [UInt8](try Gzip.decompress(compressed))
        } catch {
            throw ShardBuildError(description: "\(path): \(error)")
        }
        // Magic: two zero bytes, type 0x08 (unsigned byte), rank; then rank big-endian UInt32 sizes.
        guard data.count >= 4, data[0] == 0, data[1] == 0, data[2] == 0x08, Int(data[3]) == expectedRank else {
            throw ShardBuildError(description: "\(path): not an IDX file of rank \(expectedRank) unsigned bytes")
        }
        let headerSize = 4 + 4 * expectedRank
        guard data.count >= headerSize else { throw ShardBuildError(description: "\(path): truncated IDX header") }
        let dimensions = (0..<expectedRank).map { d in
            (0..<4).reduce(0) { $0 << 8 | Int(data[4 + 4 * d + $1]) }
        }
        let count = dimensions.reduce(1, *)
        guard data.count == headerSize + count else {
            throw ShardBuildError(description: "\(path): IDX payload has \(data.count - headerSize) bytes, dimensions \(dimensions) need \(count)")
        }
        return (dimensions, Array(data[headerSize...]))
    }
}

/// Builds Fashion-MNIST shards: `/images` [N, 28, 28, 3] (gray replicated to RGB), `/labels`, the
/// `classnames` attribute, and `/captions` from the templates (one drawn per item from `(seed, index)`).
@discardableResult
public func buildShards(from source: FashionMNISTSource, output: String, shardSize: Int, overwrite: Bool = false,
                        progressStyle: BuildProgress.Style = .silent) throws -> BuildSummary {
    let images = try FashionMNISTSource.readIDX(source.imagesPath, expectedRank: 3)
    let labels = try FashionMNISTSource.readIDX(source.labelsPath, expectedRank: 1)
    guard images.dimensions[0] == labels.dimensions[0] else {
        throw ShardBuildError(description: "\(source.labelsPath): \(labels.dimensions[0]) labels for \(images.dimensions[0]) images")
    }
    let (height, width) = (images.dimensions[1], images.dimensions[2])
    var count = images.dimensions[0]
    if let limit = source.limit {
        guard limit > 0 else { throw ShardBuildError(description: "--limit must be positive, got \(limit)") }
        count = min(count, limit)
    }
    let names = FashionMNISTSource.classnames
    let writer = try ShardSetWriter(output: output, shardSize: shardSize, classnames: names, overwrite: overwrite,
                                    progress: BuildProgress(total: count, style: progressStyle))
    let pixelsPerImage = height * width
    for i in 0..<count {
        let label = Int(labels.values[i])
        guard label < names.count else {
            throw ShardBuildError(description: "\(source.labelsPath): item \(i) has label \(label), expected 0...9")
        }
        let gray = Array(images.values[(i * pixelsPerImage)..<((i + 1) * pixelsPerImage)])
        let caption = source.templates.caption(for: names[label], index: i, seed: source.seed)
        try writer.append(ShardItem(image: .raw(RGBImage(height: height, width: width, gray: gray)),
                                    caption: caption, label: label))
    }
    return try writer.finish()
}
