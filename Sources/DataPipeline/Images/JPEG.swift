import TensorCore

internal import CJPEG
import Foundation

/// JPEG decoding and encoding through the system libjpeg(-turbo): the only file that talks to it.
///
/// libjpeg signals fatal errors with `longjmp`, which Swift cannot survive; the decode and encode loops
/// therefore run inside small C functions in `CJPEG/shim.h` that catch the jump themselves and return an
/// error code with libjpeg's message. Corrupt or truncated data is an error, never a crash.
public enum JPEG {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// What went wrong, in a few words: "corrupt JPEG", "empty JPEG data", "JPEG encoding failed".
        public let reason: String
        /// libjpeg's message, when there is one.
        public let detail: String?

        init(_ reason: String, detail: String? = nil) {
            self.reason = reason
            self.detail = detail.flatMap { $0.isEmpty ? nil : $0 }
        }

        public var description: String { detail.map { "\(reason): \($0)" } ?? reason }
    }

    /// Whether `bytes` starts with the JPEG start-of-image marker (FF D8 FF).
    public static func hasSignature<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bool {
        bytes.count >= 3 && Array(bytes.prefix(3)) == [0xFF, 0xD8, 0xFF]
    }

    /// Decodes a baseline or progressive JPEG to RGB; grayscale images are replicated to three channels,
    /// CMYK and YCCK ones converted as PIL does (`cmykToRGB`).
    ///
    /// - Parameter strict: when true (the default), a stream libjpeg only decodes with warnings — a
    ///   truncated file ("Premature end of JPEG file"), corrupt entropy data — is an error too.
    /// - Returns: [H, W, 3] pixels. libjpeg's accurate integer IDCT and fancy upsampling are used, as PIL does.
    /// - Throws: `JPEG.Failure` for corrupt, truncated or non-JPEG data.
    public static func decode(_ bytes: some ContiguousBytes, strict: Bool = true) throws -> RGBImage {
        var width: Int32 = 0, height: Int32 = 0, components: Int32 = 0, warnings: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(swiftclip_jpeg_message_length()))
        var output: UnsafeMutablePointer<UInt8>? = nil
        let status: Int32 = bytes.withUnsafeBytes { raw in
            guard raw.count > 0 else { return -2 }
            return swiftclip_jpeg_decode(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(raw.count),
                                         &output, &width, &height, &components, &warnings, &message)
        }
        defer { free(output) }
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if status == -2 { throw Failure("empty JPEG data") }
        if status != 0 { throw Failure("corrupt JPEG", detail: text) }
        if strict && warnings > 0 { throw Failure("corrupt JPEG", detail: text) }
        guard let output, width > 0, height > 0 else { throw Failure("corrupt JPEG", detail: "empty image") }
        let h = Int(height), w = Int(width)
        if components == 1 {
            return RGBImage(height: h, width: w, gray: Array(UnsafeBufferPointer(start: output, count: h * w)))
        }
        if components == 4 {
            return RGBImage(height: h, width: w, pixels: cmykToRGB(UnsafeBufferPointer(start: output, count: h * w * 4)))
        }
        return RGBImage(height: h, width: w, pixels: Array(UnsafeBufferPointer(start: output, count: h * w * 3)))
    }

    /// CMYK as stored in a JPEG [N·4] to RGB [N·3], as PIL converts it: Adobe's convention (what Photoshop
    /// and PIL write) stores inverted values s = 255 − ink, so with k = s_K, R = k − round((255 − s_C)·k / 255)
    /// (PIL's `MULDIV255` rounding), likewise G from M and B from Y.
    static func cmykToRGB(_ cmyk: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let count = cmyk.count / 4
        return [UInt8](unsafeUninitializedCapacity: count * 3) { rgb, initialized in
            for i in 0..<count {
                let k = Int(cmyk[4 * i + 3])
                for c in 0..<3 {
                    let t = (255 - Int(cmyk[4 * i + c])) * k + 128
                    rgb[3 * i + c] = UInt8(max(0, k - (((t >> 8) + t) >> 8)))
                }
            }
            initialized = count * 3
        }
    }

    /// Encodes an RGB image as a baseline JPEG (4:2:0 chroma subsampling, libjpeg's standard tables).
    /// - Parameter quality: 1...100 as in libjpeg / PIL (PIL's default is 75).
    public static func encode(_ image: RGBImage, quality: Int = 90) throws -> [UInt8] {
        ensure((1...100).contains(quality), "JPEG quality must be in 1...100, got \(quality)")
        var message = [CChar](repeating: 0, count: Int(swiftclip_jpeg_message_length()))
        var output: UnsafeMutablePointer<UInt8>? = nil
        var count: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer {
            swiftclip_jpeg_encode($0.baseAddress!, Int32(image.width), Int32(image.height), Int32(quality),
                                  &output, &count, &message)
        }
        defer { free(output) }
        guard status == 0, let output else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw Failure("JPEG encoding failed", detail: text)
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(count)))
    }
}
