import TensorCore

/// Shard format versions 1 and 2 (docs/DESIGN.md), writable by `ShardWriter` and by h5py alike:
///
///     /images          uint8  [N, H, W, 3]   raw RGB, one size per shard     (or)
///     /jpeg            vlen uint8 [N]        encoded JPEG bytes, or PNG bytes kept as they were
///     /captions        vlen UTF-8 string [M]  M = N in version 1; M = sum(/caption_counts) in version 2
///     /caption_counts  integer [N], each ≥ 1  version 2 only, optional: item i's captions are the
///                                             counts[i] strings of /captions after those of items < i
///     /long_captions   vlen UTF-8 string [N]  optional
///     /labels          int64 [N]              optional (classification sets)
///     /keys            vlen UTF-8 string [N]  optional (sample keys, e.g. WebDataset's)
///     root attributes: format = "swiftclip-shard", version = 1 or 2,
///                      classnames = JSON array of strings (classification sets)
///
/// Version 2 only adds several captions per item (COCO, Flickr30k); a version-2 shard without
/// `/caption_counts` is a version-1 shard. `ShardWriter` writes version 1 whenever every item has one
/// caption, so such shards stay readable by builds that know only version 1.
public enum ShardFormat {
    public static let format = "swiftclip-shard"
    /// The newest version this build reads and writes.
    public static let version: Int64 = 2
    /// Every version this build reads.
    public static let readableVersions: ClosedRange<Int64> = 1...2
    /// The version with `/caption_counts` (several captions per item).
    public static let multiCaptionVersion: Int64 = 2
    public static let captionCounts = "/caption_counts"
    public static let images = "/images"
    public static let jpeg = "/jpeg"
    public static let captions = "/captions"
    public static let longCaptions = "/long_captions"
    public static let labels = "/labels"
    public static let keys = "/keys"
    public static let formatAttribute = "format"
    public static let versionAttribute = "version"
    public static let classnamesAttribute = "classnames"
}

/// How a shard stores its images.
public enum ShardImageStorage: Sendable, Equatable, CustomStringConvertible {
    /// `/images` uint8 [N, height, width, 3].
    case raw(height: Int, width: Int)
    /// `/jpeg` vlen uint8 [N].
    case jpeg

    public var description: String {
        switch self {
        case let .raw(h, w): return "raw \(h)×\(w)"
        case .jpeg: return "jpeg"
        }
    }
}

/// One item's image as stored: decoded pixels or encoded bytes.
public enum ShardImage: Sendable, Equatable {
    case raw(RGBImage)
    /// Encoded bytes as stored in `/jpeg`: JPEG, or PNG kept as it was (told apart by signature).
    case jpeg([UInt8])

    /// The pixels, decoding encoded bytes (throws `JPEG.Failure` / `PNG.Failure` for corrupt data).
    public func decoded() throws -> RGBImage {
        switch self {
        case let .raw(image): return image
        case let .jpeg(bytes): return try EncodedImage.decode(bytes)
        }
    }
}

/// One item of a shard.
public struct ShardItem: Sendable, Equatable {
    public var image: ShardImage
    /// The item's captions, at least one (COCO and Flickr30k have five per image).
    public var captions: [String] {
        didSet { ensure(!captions.isEmpty, "a shard item needs at least one caption") }
    }
    /// The first caption.
    public var caption: String {
        get { captions[0] }
        set { captions[0] = newValue }
    }
    public var longCaption: String?
    public var label: Int?
    /// The sample's name in its source (`/keys`), e.g. a WebDataset key.
    public var key: String?

    public init(image: ShardImage, caption: String, longCaption: String? = nil, label: Int? = nil, key: String? = nil) {
        self.init(image: image, captions: [caption], longCaption: longCaption, label: label, key: key)
    }

    /// An item with several captions (`captions` must not be empty).
    public init(image: ShardImage, captions: [String], longCaption: String? = nil, label: Int? = nil, key: String? = nil) {
        ensure(!captions.isEmpty, "a shard item needs at least one caption")
        self.image = image
        self.captions = captions
        self.longCaption = longCaption
        self.label = label
        self.key = key
    }
}

/// A shard that cannot be read or written; the description is one line naming the file:
/// "PATH: message", or "no such file: PATH" / "permission denied: PATH" for paths that cannot be opened.
public struct ShardError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case missingFile, permissionDenied, notHDF5, corrupt, wrongFormat, wrongVersion, inconsistentLengths
        case missingDataset, invalidDataset, invalidItem, io
    }

    public let kind: Kind
    public let file: String
    public let message: String

    public init(_ kind: Kind, file: String, _ message: String) {
        self.kind = kind
        self.file = file
        self.message = message
    }

    public var description: String {
        switch kind {
        case .missingFile, .permissionDenied: return "\(message): \(file)"
        default: return "\(file): \(message)"
        }
    }
}
