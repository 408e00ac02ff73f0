import TensorCore
import Foundation

/// Reads one version-1 or version-2 shard (see `ShardFormat`), item by item.
///
/// Opening validates the file: it exists and can be read, is HDF5, carries `format = "swiftclip-shard"` and
/// `version` 1 or 2, its datasets have the documented element types and shapes, and every present per-item
/// dataset has the same length N (`/captions` has sum(`/caption_counts`) entries when a version-2 shard
/// has `/caption_counts`, each count at least 1). Each failure is one `ShardError` line naming the file (and the dataset), once per shard:
///
///     no such file: PATH                                                    (.missingFile)
///     permission denied: PATH                                               (.permissionDenied)
///     PATH: not an HDF5 file                                                (.notHDF5)
///     PATH: truncated or corrupt HDF5 file (HDF5's reason)                  (.corrupt)
///     PATH: not a SwiftCLIP shard (format attribute is "x", expected "swiftclip-shard")   (.wrongFormat)
///     PATH: unsupported shard version 3 (this build reads versions 1–2)    (.wrongVersion)
///     PATH: /caption_counts[4] is 0, expected at least 1                   (.invalidDataset)
///     PATH: /captions has 9 captions, /caption_counts adds up to 10       (.inconsistentLengths)
///     PATH: /images has float32 elements, expected uint8                    (.invalidDataset)
///     PATH: /labels has shape [32, 2], expected [N]                         (.invalidDataset)
///     PATH: inconsistent lengths: /images has 3 items, /captions has 2     (.inconsistentLengths)
///
/// A missing image or caption dataset is not an
/// error at open time: the shard opens, and reading an item from it throws `.missingDataset` (the loader
/// skips such items and reports them).
///
/// Thread-safe: every read goes through `HDF5File`'s global lock.
public final class ShardReader: @unchecked Sendable {
    public let path: String
    /// N, the number of items.
    public let count: Int
    /// How images are stored; nil when the shard has neither `/images` nor `/jpeg`.
    public let storage: ShardImageStorage?
    public let hasCaptions: Bool
    public let hasLongCaptions: Bool
    /// Whether the shard has `/keys`.
    public let hasKeys: Bool
    /// The shard's format version (1 or 2).
    public let version: Int64
    /// `captionStarts[i] ..< captionStarts[i + 1]` are item i's rows of `/captions` (N + 1 entries);
    /// nil when every item has one caption (row i).
    private let captionStarts: [Int]?
    /// Whether some item has more than one caption.
    public var hasMultipleCaptions: Bool { captionStarts != nil }
    /// `/labels`, read once at open; nil when absent.
    public let labels: [Int]?
    /// The `classnames` attribute; nil when absent.
    public let classnames: [String]?

    private let file: HDF5File

    public init(path: String) throws {
        self.path = path
        guard try ShardPaths.readableKind(of: path) == .file else {
            throw ShardError(.invalidDataset, file: path, "is a folder, expected a shard file")
        }
        guard HDF5File.hasSignature(path: path) else {
            throw ShardError(.notHDF5, file: path, "not an HDF5 file")
        }
        do {
            file = try HDF5File(path: path, mode: .readOnly)
        } catch let error as HDF5Error {
            throw ShardError(.corrupt, file: path, "truncated or corrupt HDF5 file (\(error.message))")
        }
        do {
            // Format and version.
            let format = try file.stringAttribute(ShardFormat.formatAttribute)
            guard format == ShardFormat.format else {
                throw ShardError(.wrongFormat, file: path, format.map {
                    "not a SwiftCLIP shard (format attribute is \"\($0)\", expected \"\(ShardFormat.format)\")"
                } ?? "not a SwiftCLIP shard (no \"format\" attribute)")
            }
            guard let version = try file.integerAttribute(ShardFormat.versionAttribute) else {
                throw ShardError(.wrongVersion, file: path, "shard has no \"version\" attribute")
            }
            guard ShardFormat.readableVersions.contains(version) else {
                throw ShardError(.wrongVersion, file: path, "unsupported shard version \(version) (this build reads versions "
                                 + "\(ShardFormat.readableVersions.lowerBound)–\(ShardFormat.readableVersions.upperBound))")
            }
            self.version = version
            // Datasets and their lengths.
            var lengths: [(String, Int)] = []
            if file.exists(ShardFormat.images) {
                try Self.check(file, ShardFormat.images, path, "uint8") { $0 == .uint8 }
                let shape = try file.shape(of: ShardFormat.images)
                guard shape.count == 4, shape[3] == 3, shape[1] > 0, shape[2] > 0 else {
                    throw ShardError(.invalidDataset, file: path, "\(ShardFormat.images) has shape \(shape), expected [N, H, W, 3]")
                }
                storage = .raw(height: shape[1], width: shape[2])
                lengths.append((ShardFormat.images, shape[0]))
            } else if file.exists(ShardFormat.jpeg) {
                try Self.check(file, ShardFormat.jpeg, path, "variable-length uint8") { $0 == .variableLength(.uint8) }
                storage = .jpeg
                lengths.append((ShardFormat.jpeg, try Self.vectorLength(file, ShardFormat.jpeg, path)))
            } else {
                storage = nil
            }
            hasCaptions = file.exists(ShardFormat.captions)
            var starts: [Int]? = nil
            if version >= ShardFormat.multiCaptionVersion && file.exists(ShardFormat.captionCounts) {
                try Self.check(file, ShardFormat.captionCounts, path, "integers") { $0.isInteger }
                lengths.append((ShardFormat.captionCounts, try Self.vectorLength(file, ShardFormat.captionCounts, path)))
                starts = try Self.captionStarts(try file.readInt64(ShardFormat.captionCounts), path: path)
                guard hasCaptions else {
                    throw ShardError(.missingDataset, file: path, "\(ShardFormat.captionCounts) without \(ShardFormat.captions)")
                }
            }
            if hasCaptions {
                try Self.check(file, ShardFormat.captions, path, "strings") { $0 == .string }
                let rows = try Self.vectorLength(file, ShardFormat.captions, path)
                if let starts {
                    guard rows == starts.last! else {
                        throw ShardError(.inconsistentLengths, file: path, "\(ShardFormat.captions) has \(rows) captions, "
                                         + "\(ShardFormat.captionCounts) adds up to \(starts.last!)")
                    }
                } else {
                    lengths.append((ShardFormat.captions, rows))
                }
            }
            captionStarts = starts
            hasLongCaptions = file.exists(ShardFormat.longCaptions)
            if hasLongCaptions {
                try Self.check(file, ShardFormat.longCaptions, path, "strings") { $0 == .string }
                lengths.append((ShardFormat.longCaptions, try Self.vectorLength(file, ShardFormat.longCaptions, path)))
            }
            hasKeys = file.exists(ShardFormat.keys)
            if hasKeys { lengths.append((ShardFormat.keys, try Self.vectorLength(file, ShardFormat.keys, path))) }
            if file.exists(ShardFormat.labels) {
                try Self.check(file, ShardFormat.labels, path, "integers") { $0.isInteger }
                lengths.append((ShardFormat.labels, try Self.vectorLength(file, ShardFormat.labels, path)))
                labels = try file.readInt64(ShardFormat.labels).map { Int($0) }
            } else {
                labels = nil
            }
            guard storage != nil || hasCaptions, let first = lengths.first else {
                throw ShardError(.missingDataset, file: path, "shard has none of /images, /jpeg, /captions")
            }
            if let other = lengths.first(where: { $0.1 != first.1 }) {
                throw ShardError(.inconsistentLengths, file: path,
                                 "inconsistent lengths: \(first.0) has \(first.1) items, \(other.0) has \(other.1)")
            }
            count = first.1
            // Class names.
            if let json = try file.stringAttribute(ShardFormat.classnamesAttribute) {
                guard let names = try? JSONDecoder().decode([String].self, from: Data(json.utf8)) else {
                    throw ShardError(.invalidDataset, file: path, "classnames attribute is not a JSON array of strings")
                }
                classnames = names
            } else {
                classnames = nil
            }
        } catch let error as HDF5Error {
            throw ShardError(.corrupt, file: path, "unreadable shard (\(error.object.map { "\($0): " } ?? "")\(error.message))")
        }
    }

    /// Throws "PATH: NAME has T elements, expected WHAT" unless dataset `name`'s element type is `accepted`.
    private static func check(_ file: HDF5File, _ name: String, _ path: String, _ expected: String,
                              accepted: (HDF5ElementType) -> Bool) throws {
        let type = try file.elementType(of: name)
        guard accepted(type) else {
            throw ShardError(.invalidDataset, file: path, "\(name) has \(type) elements, expected \(expected)")
        }
    }

    /// The prefix sums of `/caption_counts` (N + 1 entries), checking every count is at least 1.
    private static func captionStarts(_ counts: [Int64], path: String) throws -> [Int] {
        var starts = [0]
        starts.reserveCapacity(counts.count + 1)
        for (i, c) in counts.enumerated() {
            guard c >= 1, c <= Int64(Int32.max) else {
                throw ShardError(.invalidDataset, file: path,
                                 "\(ShardFormat.captionCounts)[\(i)] is \(c), expected " + (c < 1 ? "at least 1" : "fewer than 2³¹"))
            }
            starts.append(starts.last! + Int(c))
        }
        return starts
    }

    private static func vectorLength(_ file: HDF5File, _ name: String, _ path: String) throws -> Int {
        let shape = try file.shape(of: name)
        guard shape.count == 1 else {
            throw ShardError(.invalidDataset, file: path, "\(name) has shape \(shape), expected [N]")
        }
        return shape[0]
    }

    // MARK: - Items

    private func check(_ index: Int) {
        ensure(index >= 0 && index < count, "item \(index) out of range 0..<\(count) in \(path)")
    }

    private func read<T>(_ dataset: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as HDF5Error {
            throw ShardError(.corrupt, file: path, "\(dataset): \(error.message)")
        }
    }

    /// The image of item `index`: raw pixels or JPEG bytes (not decoded).
    public func image(at index: Int) throws -> ShardImage {
        check(index)
        switch storage {
        case let .raw(h, w)?:
            let pixels = try read(ShardFormat.images) { try file.readUInt8(ShardFormat.images, rows: index..<(index + 1)) }
            return .raw(RGBImage(height: h, width: w, pixels: pixels))
        case .jpeg?:
            return .jpeg(try read(ShardFormat.jpeg) { try file.readVariableBytes(ShardFormat.jpeg, rows: index..<(index + 1))[0] })
        case nil:
            throw ShardError(.missingDataset, file: path, "item \(index): no /images or /jpeg dataset")
        }
    }

    /// Raw pixels of items `rows`, [rows.count, H, W, 3] (raw shards only).
    public func rawImages(rows: Range<Int>) throws -> [UInt8] {
        guard case .raw? = storage else { throw ShardError(.missingDataset, file: path, "no /images dataset") }
        return try read(ShardFormat.images) { try file.readUInt8(ShardFormat.images, rows: rows) }
    }

    /// The rows of `/captions` that hold item `index`'s captions.
    private func captionRows(_ index: Int) -> Range<Int> {
        captionStarts.map { $0[index]..<$0[index + 1] } ?? index..<(index + 1)
    }

    /// The number of captions of item `index` (1 unless the shard has `/caption_counts`).
    public func captionCount(at index: Int) -> Int {
        check(index)
        return captionRows(index).count
    }

    /// The first caption of item `index`.
    public func caption(at index: Int) throws -> String { try caption(at: index, number: 0) }

    /// Caption `number` (`0 ..< captionCount(at: index)`) of item `index`.
    public func caption(at index: Int, number: Int) throws -> String {
        check(index)
        guard hasCaptions else { throw ShardError(.missingDataset, file: path, "item \(index): no /captions dataset") }
        let rows = captionRows(index)
        ensure(number >= 0 && number < rows.count, "caption \(number) out of range 0..<\(rows.count) of item \(index) in \(path)")
        let row = rows.lowerBound + number
        return try read(ShardFormat.captions) { try file.readStrings(ShardFormat.captions, rows: row..<(row + 1))[0] }
    }

    /// Every caption of item `index`.
    public func captions(of index: Int) throws -> [String] {
        check(index)
        guard hasCaptions else { throw ShardError(.missingDataset, file: path, "item \(index): no /captions dataset") }
        return try read(ShardFormat.captions) { try file.readStrings(ShardFormat.captions, rows: captionRows(index)) }
    }

    /// The first caption of every item (or of the items `rows`).
    public func captions(rows: Range<Int>? = nil) throws -> [String] {
        guard hasCaptions else { throw ShardError(.missingDataset, file: path, "no /captions dataset") }
        guard let captionStarts else {
            return try read(ShardFormat.captions) { try file.readStrings(ShardFormat.captions, rows: rows) }
        }
        let items = rows ?? 0..<count
        guard !items.isEmpty else { return [] }
        let all = try read(ShardFormat.captions) {
            try file.readStrings(ShardFormat.captions, rows: captionStarts[items.lowerBound]..<captionStarts[items.upperBound])
        }
        return items.map { all[captionStarts[$0] - captionStarts[items.lowerBound]] }
    }

    /// The long caption of item `index`; throws `.missingDataset` when the shard has none.
    public func longCaption(at index: Int) throws -> String {
        check(index)
        guard hasLongCaptions else { throw ShardError(.missingDataset, file: path, "item \(index): no /long_captions dataset") }
        return try read(ShardFormat.longCaptions) {
            try file.readStrings(ShardFormat.longCaptions, rows: index..<(index + 1))[0]
        }
    }

    /// All keys (or those of `rows`); throws `.missingDataset` when the shard has none.
    public func keys(rows: Range<Int>? = nil) throws -> [String] {
        guard hasKeys else { throw ShardError(.missingDataset, file: path, "no /keys dataset") }
        return try read(ShardFormat.keys) { try file.readStrings(ShardFormat.keys, rows: rows) }
    }

    /// The whole item `index`.
    public func item(at index: Int) throws -> ShardItem {
        check(index)
        return ShardItem(image: try image(at: index), captions: try captions(of: index),
                         longCaption: hasLongCaptions ? try longCaption(at: index) : nil, label: labels?[index],
                         key: hasKeys ? try keys(rows: index..<(index + 1))[0] : nil)
    }
}
