import TensorCore

/// An 8-bit RGB image stored channels-last: `pixels` is [H, W, 3], row-major, values 0...255.
public struct RGBImage: Sendable, Equatable {
    public var height: Int
    public var width: Int
    /// [H, W, 3]
    public var pixels: [UInt8]

    public init(height: Int, width: Int, pixels: [UInt8]) {
        ensure(height > 0 && width > 0, "RGBImage needs a positive size, got \(height)×\(width)")
        ensure(pixels.count == height * width * 3,
                     "RGBImage \(height)×\(width)×3 needs \(height * width * 3) bytes, got \(pixels.count)")
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    /// An image with every pixel set to `(r, g, b)`.
    public init(height: Int, width: Int, filledWith rgb: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var pixels = [UInt8](repeating: 0, count: height * width * 3)
        for i in 0..<(height * width) {
            pixels[3 * i] = rgb.0
            pixels[3 * i + 1] = rgb.1
            pixels[3 * i + 2] = rgb.2
        }
        self.init(height: height, width: width, pixels: pixels)
    }

    /// Replicates a one-channel [H, W] image into the three channels.
    public init(height: Int, width: Int, gray: [UInt8]) {
        ensure(gray.count == height * width, "gray image \(height)×\(width) needs \(height * width) bytes")
        var pixels = [UInt8](repeating: 0, count: height * width * 3)
        for i in 0..<(height * width) {
            let v = gray[i]
            pixels[3 * i] = v
            pixels[3 * i + 1] = v
            pixels[3 * i + 2] = v
        }
        self.init(height: height, width: width, pixels: pixels)
    }

    /// The pixel at row `y`, column `x`.
    public subscript(y: Int, x: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let o = (y * width + x) * 3
        return (pixels[o], pixels[o + 1], pixels[o + 2])
    }
}
