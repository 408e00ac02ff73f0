internal import CPNG
import Foundation

/// PNG decoding through the system libpng: the only file that talks to it.
///
/// libpng signals fatal errors with `longjmp`, which Swift cannot survive; the decode runs inside a small
/// C function in `CPNG/shim.h` that catches the jump itself and returns an error code with libpng's
/// message. Corrupt or truncated data is an error, never a crash.
public enum PNG {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The 8-byte PNG signature.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Whether `bytes` starts with the PNG signature.
    public static func hasSignature<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bool {
        bytes.count >= 8 && bytes.prefix(8).elementsEqual(signature)
    }

    /// Decodes any PNG — gray, gray+alpha, palette (with tRNS transparency or not), RGB, RGBA; 1 to 16
    /// bits; interlaced or not — to RGB.
    ///
    /// 16-bit samples keep their high byte (as PIL reads them); transparency is composited on white,
    /// `out = round((c·a + 255·(255 − a)) / 255)` per channel (as img2dataset does); no gamma or colour
    /// profile is applied (as PIL and OpenCLIP).
    /// - Returns: [H, W, 3] pixels.
    /// - Throws: `PNG.Failure` for corrupt, truncated or non-PNG data.
    public static func decode(_ bytes: some ContiguousBytes) throws -> RGBImage {
        var width: Int32 = 0, height: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(swiftclip_png_message_length))
        var output: UnsafeMutablePointer<UInt8>? = nil
        let status: Int32 = bytes.withUnsafeBytes { raw in
            guard raw.count > 0 else { return -2 }
            return swiftclip_png_decode(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count,
                                        &output, &width, &height, &message)
        }
        defer { free(output) }
        if status == -2 { throw Failure(description: "empty PNG data") }
        guard status == 0, let output, width > 0, height > 0 else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw Failure(description: "corrupt PNG: \(text)")
        }
        let count = Int(height) * Int(width)
        let rgba = UnsafeBufferPointer(start: output, count: count * 4)
        return RGBImage(height: Int(height), width: Int(width), pixels: compositedOnWhite(rgba))
    }

    /// RGBA [N, 4] → RGB [N, 3] over a white background, rounded to nearest (255 is odd: no ties).
    static func compositedOnWhite(_ rgba: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let count = rgba.count / 4
        return [UInt8](unsafeUninitializedCapacity: count * 3) { out, initialized in
            for i in 0..<count {
                let a = Int(rgba[4 * i + 3])
                for c in 0..<3 {
                    let v = Int(rgba[4 * i + c])
                    out[3 * i + c] = a == 255 ? UInt8(v) : UInt8((v * a + 255 * (255 - a) + 127) / 255)
                }
            }
            initialized = count * 3
        }
    }
}
