/// Shard format version 1 (docs/DESIGN.md), writable by `ShardWriter` and by h5py alike:
///
///     /images          uint8  [N, H, W, 3]   raw RGB, one size per shard     (or)
///     /jpeg            vlen uint8 [N]        encoded JPEG bytes, or PNG bytes kept as they were
///     /captions        vlen UTF-8 string [N]
///     /long_captions   vlen UTF-8 string [N]  optional
///     /labels          int64 [N]              optional (classification sets)
///     /keys            vlen UTF-8 string [N]  optional (sample keys, e.g. WebDataset's)
///     root attributes: format = "swiftclip-shard", version = 1,
///                      classnames = JSON array of strings (classification sets)
public enum ShardFormat {
    public static let format = "swiftclip-shard"
    public static let version: Int64 = 1
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
    public var caption: String
    public var longCaption: String?
    public var label: Int?
    /// The sample's name in its source (`/keys`), e.g. a WebDataset key.
    public var key: String?

    public init(image: ShardImage, caption: String, longCaption: String? = nil, label: Int? = nil, key: String? = nil) {
        self.image = image
        self.caption = caption
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
