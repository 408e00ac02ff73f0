import TensorCore
import Foundation

/// Collects items and writes them as one shard: version 1 when every item has one caption, version 2
/// (with `/caption_counts`) when some item has several.
///
/// Items are kept in memory until `finish()`, which writes a temporary file next to the destination and
/// renames it into place, so a crash or an error never leaves a half-written shard under the final name.
/// All items of a shard use the same image storage (raw of one size, or JPEG), and long captions,
/// labels and keys are either given for every item or for none.
///
///     let writer = ShardWriter(path: "out/shard-00000.h5", classnames: ["cat", "dog"])
///     try writer.append(ShardItem(image: .raw(image), caption: "a photo of a cat.", label: 0))
///     let bytes = try writer.finish()
public final class ShardWriter {
    public let path: String
    public let classnames: [String]?
    public private(set) var count = 0
    public private(set) var storage: ShardImageStorage?

    private var pixels: [UInt8] = []           // [N, H, W, 3] when raw
    private var jpegs: [[UInt8]] = []          // [N] when jpeg
    private var captions: [String] = []       // [M], every item's captions in item order
    private var captionCounts: [Int64] = []   // [N]
    private var longCaptions: [String]? = nil
    private var labels: [Int64]? = nil
    private var keys: [String]? = nil
    private var finished = false

    public init(path: String, classnames: [String]? = nil) {
        self.path = path
        self.classnames = classnames
    }

    private func invalid(_ message: String) -> ShardError {
        ShardError(.invalidItem, file: path, "item \(count): \(message)")
    }

    /// Adds an item. Throws when it does not match the items before it.
    public func append(_ item: ShardItem) throws {
        ensure(!finished, "ShardWriter.append after finish()")
        for (field, text) in item.captions.map({ ("caption", Optional($0)) }) + [("long caption", item.longCaption), ("key", item.key)] {
            if let text, text.utf8.contains(0) { throw invalid("the \(field) holds a NUL byte (HDF5 strings end at NUL)") }
        }
        switch (item.image, storage) {
        case let (.raw(image), nil):
            storage = .raw(height: image.height, width: image.width)
            pixels.append(contentsOf: image.pixels)
        case let (.raw(image), .raw(h, w)?):
            guard image.height == h, image.width == w else {
                throw invalid("image is \(image.height)×\(image.width), the shard's images are \(h)×\(w)")
            }
            pixels.append(contentsOf: image.pixels)
        case let (.jpeg(bytes), nil):
            storage = .jpeg
            jpegs.append(bytes)
        case let (.jpeg(bytes), .jpeg?):
            jpegs.append(bytes)
        case (.raw, .jpeg?), (.jpeg, .raw?):
            throw invalid("mixes raw and JPEG images in one shard")
        }
        if count == 0 {
            longCaptions = item.longCaption.map { [$0] }
            labels = item.label.map { [Int64($0)] }
            keys = item.key.map { [$0] }
        } else {
            switch (item.longCaption, longCaptions != nil) {
            case let (text?, true): longCaptions!.append(text)
            case (nil, false): break
            default: throw invalid("long captions must be given for every item or for none")
            }
            switch (item.label, labels != nil) {
            case let (label?, true): labels!.append(Int64(label))
            case (nil, false): break
            default: throw invalid("labels must be given for every item or for none")
            }
            switch (item.key, keys != nil) {
            case let (key?, true): keys!.append(key)
            case (nil, false): break
            default: throw invalid("keys must be given for every item or for none")
            }
        }
        captions += item.captions
        captionCounts.append(Int64(item.captions.count))
        count += 1
    }

    /// Writes the shard (atomically: temporary file, then rename) and returns its size in bytes.
    @discardableResult
    public func finish() throws -> Int {
        ensure(!finished, "ShardWriter.finish called twice")
        finished = true
        guard let storage, count > 0 else { throw ShardError(.invalidItem, file: path, "a shard needs at least one item") }
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
            .path
        do {
            let file = try HDF5File(path: temporary, mode: .create)
            try file.setAttribute(ShardFormat.formatAttribute, string: ShardFormat.format)
            let multiCaption = captionCounts.contains { $0 != 1 }
            try file.setAttribute(ShardFormat.versionAttribute, integer: multiCaption ? ShardFormat.multiCaptionVersion : 1)
            if let classnames {
                let json = String(decoding: try JSONEncoder().encode(classnames), as: UTF8.self)
                try file.setAttribute(ShardFormat.classnamesAttribute, string: json)
            }
            switch storage {
            case let .raw(h, w):
                try file.write(ShardFormat.images, shape: [count, h, w, 3], values: pixels)
            case .jpeg:
                try file.writeVariableBytes(ShardFormat.jpeg, values: jpegs)
            }
            try file.writeStrings(ShardFormat.captions, values: captions)
            if multiCaption { try file.write(ShardFormat.captionCounts, shape: [count], values: captionCounts) }
            if let longCaptions { try file.writeStrings(ShardFormat.longCaptions, values: longCaptions) }
            if let labels { try file.write(ShardFormat.labels, shape: [labels.count], values: labels) }
            if let keys { try file.writeStrings(ShardFormat.keys, values: keys) }
            try file.close()
            guard rename(temporary, path) == 0 else {
                throw ShardError(.io, file: path, "cannot rename the finished shard into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            if let error = error as? ShardError { throw error }
            throw ShardError(.io, file: path, "cannot write shard: \(error)")
        }
        pixels = []
        jpegs = []
        return (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}
