import Foundation
import Tokenization

/// What a WebDataset sample becomes for training — the one rule `make-shards webdataset` and
/// training straight from tars (`TarDataset`) both apply, so both keep the same items.
///
/// The image is the first of `.jpg`, `.jpeg`, `.png` (its format recognized by its bytes), the caption the
/// `.txt`, trimmed of surrounding white space. A sample is skipped, in this order, for: no image, no
/// `.txt`, a caption that is not valid UTF-8 or holds a NUL byte, an empty caption, an image that does
/// not decode (the reason is the decoder's: "corrupt JPEG", "not a JPEG or PNG image", …).
public struct WebDatasetItem: Sendable {
    public var key: String
    /// The extension the image came from ("jpg", "jpeg" or "png").
    public var imageExtension: String
    /// The image's bytes as stored in the tar.
    public var imageBytes: [UInt8]
    /// The decoded image (the check that it decodes).
    public var image: RGBImage
    public var caption: String

    /// Extensions that hold the image, in order of preference.
    public static let imageExtensions = ["jpg", "jpeg", "png"]

    /// The item of `sample`, or throws the `SkipReason` it is left out for.
    public init(_ sample: WebDatasetSample) throws(SkipReason) {
        guard let imageExtension = Self.imageExtensions.first(where: { sample.files[$0] != nil }) else {
            throw "no .jpg, .jpeg or .png image"
        }
        guard let text = sample.files["txt"] else { throw "no .txt caption" }
        let caption: String
        do { caption = try TextProblem.decode(text).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
            throw SkipReason("caption \(error)")   // not valid UTF-8, or a NUL byte
        }
        guard !caption.isEmpty else { throw "empty caption" }
        let bytes = sample.files[imageExtension]!
        do { image = try EncodedImage.decode(bytes) } catch { throw SkipReason(error) }
        (key, self.imageExtension, imageBytes, self.caption) = (sample.key, imageExtension, bytes, caption)
    }
}
