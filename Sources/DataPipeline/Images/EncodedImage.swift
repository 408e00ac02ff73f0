/// Encoded image bytes as found in image files, WebDataset tars and a shard's `/jpeg` dataset: JPEG or
/// PNG, told apart by their signature (never by a file name).
public enum EncodedImage {
    public enum Format: String, Sendable {
        case jpeg = "JPEG", png = "PNG"
    }

    public struct Unsupported: Error, CustomStringConvertible, Sendable {
        public var description: String { "not a JPEG or PNG image" }
    }

    /// The format `bytes` are in, from their first bytes; nil for anything else.
    public static func format<Bytes: Collection<UInt8>>(of bytes: Bytes) -> Format? {
        if JPEG.hasSignature(bytes) { return .jpeg }
        if PNG.hasSignature(bytes) { return .png }
        return nil
    }

    /// Decodes JPEG or PNG bytes to RGB [H, W, 3].
    /// - Throws: `JPEG.Failure` / `PNG.Failure` for corrupt data, `Unsupported` for other formats.
    public static func decode(_ bytes: [UInt8]) throws -> RGBImage {
        switch format(of: bytes) {
        case .jpeg?: return try JPEG.decode(bytes)
        case .png?: return try PNG.decode(bytes)
        case nil: throw Unsupported()
        }
    }
}
