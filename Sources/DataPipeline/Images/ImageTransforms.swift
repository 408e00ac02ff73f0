import Foundation
import TensorCore

/// Per-channel normalization `(v / 255 − mean) / std` of RGB values.
public struct Normalization: Codable, Sendable, Equatable {
    public var mean: [Float]   // [3]
    public var std: [Float]    // [3]

    public init(mean: [Float], std: [Float]) {
        ensure(mean.count == 3 && std.count == 3 && std.allSatisfy { $0 > 0 },
                     "normalization needs 3 means and 3 positive stds, got \(mean), \(std)")
        self.mean = mean
        self.std = std
    }

    /// OpenAI CLIP's statistics (what OpenCLIP uses for every CLIP model).
    public static let openAI = Normalization(mean: [0.48145466, 0.4578275, 0.40821073],
                                             std: [0.26862954, 0.26130258, 0.27577711])
    /// Maps 0...255 to 0...1 and nothing else.
    public static let unit = Normalization(mean: [0, 0, 0], std: [1, 1, 1])

    /// The same map as applied to 0...255 values: `v · (1 / (255·std)) − mean / std`.
    public var affine: PixelAffine {
        PixelAffine(scale: SIMD4(1 / (255 * std[0]), 1 / (255 * std[1]), 1 / (255 * std[2]), 0),
                    offset: SIMD4(-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2], 0))
    }
}

/// torchvision's `RandomResizedCrop` box sampling: a crop whose area is a uniform fraction `scale` of the
/// image and whose aspect ratio w/h is log-uniform in `ratio`; 10 attempts, then a central crop with the
/// ratio clamped into range.
public struct RandomResizedCrop: Codable, Sendable, Equatable {
    public var scale: ClosedRange<Double>
    public var ratio: ClosedRange<Double>

    /// OpenCLIP's training default is scale (0.9, 1.0); torchvision's ratio default (3/4, 4/3).
    public init(scale: ClosedRange<Double> = 0.9...1.0, ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0)) {
        ensure(scale.lowerBound > 0 && scale.upperBound <= 1, "random resized crop scale must lie in (0, 1], got \(scale)")
        ensure(ratio.lowerBound > 0, "random resized crop ratio must be positive, got \(ratio)")
        self.scale = scale
        self.ratio = ratio
    }

    /// Samples a crop box of an `height × width` image.
    public func sampleBox(height: Int, width: Int, using rng: inout RandomGenerator) -> CropBox {
        let area = Double(height * width)
        let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
        for _ in 0..<10 {
            let targetArea = area * Double.random(in: scale, using: &rng)
            let aspect = exp(Double.random(in: logRatio, using: &rng))
            let w = Int((targetArea * aspect).squareRoot().rounded())
            let h = Int((targetArea / aspect).squareRoot().rounded())
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = Int.random(in: 0...(height - h), using: &rng)
                let left = Int.random(in: 0...(width - w), using: &rng)
                return CropBox(top: top, left: left, height: h, width: w)
            }
        }
        // Fallback: central crop.
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = max(1, min(height, Int((Double(w) / ratio.lowerBound).rounded())))
        } else if inRatio > ratio.upperBound {
            w = max(1, min(width, Int((Double(h) * ratio.upperBound).rounded())))
        }
        return CropBox(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
    }
}

/// Image transforms on 8-bit RGB images. Every output is channels-last Float32 `[H, W, 3]`.
public enum ImageTransforms {
    /// Resizes the whole image to `height × width` (Pillow's `Image.resize`, see `resample`). Returns
    /// `[height, width, 3]`: Pillow's 8-bit values, as Float.
    public static func resize(_ image: RGBImage, height: Int, width: Int, filter: ResizeFilter = .bicubic) -> [Float] {
        resizedCrop(image, box: .full(height: image.height, width: image.width), height: height, width: width,
                    filter: filter, affine: .identity)
    }

    /// Crops `box` then resizes it to `height × width` (torchvision's `resized_crop`), optionally mirrored,
    /// mapped by `affine`. Returns `[height, width, 3]`.
    public static func resizedCrop(_ image: RGBImage, box: CropBox, height: Int, width: Int,
                                   filter: ResizeFilter = .bicubic, flip: Bool = false,
                                   affine: PixelAffine = .identity) -> [Float] {
        [Float](unsafeUninitializedCapacity: height * width * 3) { buffer, count in
            resample(image, box: box, resizedHeight: height, resizedWidth: width,
                     window: .full(height: height, width: width), filter: filter, flip: flip, affine: affine,
                     into: buffer)
            count = height * width * 3
        }
    }

    /// The geometry of "resize the shortest side to `size`, then center-crop `size × size`" (torchvision
    /// `Resize(size)` + `CenterCrop(size)`: the long side becomes `⌊size · long / short⌋`, the crop's
    /// offset `round((resized − size) / 2)`, halves to even).
    public static func shortestSideGeometry(height: Int, width: Int, size: Int)
        -> (resizedHeight: Int, resizedWidth: Int, window: CropBox) {
        let (rh, rw): (Int, Int)
        if height <= width {
            (rh, rw) = (size, max(size, Int(Double(size) * Double(width) / Double(height))))
        } else {
            (rh, rw) = (max(size, Int(Double(size) * Double(height) / Double(width))), size)
        }
        // Python's round() rounds halves to even.
        let top = Int((Double(rh - size) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(rw - size) / 2).rounded(.toNearestOrEven))
        return (rh, rw, CropBox(top: top, left: left, height: size, width: size))
    }

    /// The geometry of `ResizeMode.longest`: the box of a `size × size` canvas that the resized image
    /// fills (each side `round(side · size / longest side)`, halves to even, at most `size`; offsets
    /// `⌊(size − side) / 2⌋`).
    public static func longestSideGeometry(height: Int, width: Int, size: Int) -> CropBox {
        let ratio = max(Double(height) / Double(size), Double(width) / Double(size))
        let h = min(size, max(1, Int((Double(height) / ratio).rounded(.toNearestOrEven))))
        let w = min(size, max(1, Int((Double(width) / ratio).rounded(.toNearestOrEven))))
        return CropBox(top: (size - h) / 2, left: (size - w) / 2, height: h, width: w)
    }

    /// The evaluation transform: resize the shortest side to `size`, center-crop `size × size`, map by
    /// `affine`. Returns `[size, size, 3]`.
    public static func resizeShortestSideAndCenterCrop(_ image: RGBImage, size: Int, filter: ResizeFilter = .bicubic,
                                                       affine: PixelAffine = .identity) -> [Float] {
        let g = shortestSideGeometry(height: image.height, width: image.width, size: size)
        return [Float](unsafeUninitializedCapacity: size * size * 3) { buffer, count in
            resample(image, box: .full(height: image.height, width: image.width), resizedHeight: g.resizedHeight,
                     resizedWidth: g.resizedWidth, window: g.window, filter: filter, affine: affine, into: buffer)
            count = size * size * 3
        }
    }

    /// Mirrors the image left–right.
    public static func horizontalFlip(_ image: RGBImage) -> RGBImage {
        var pixels = image.pixels
        let w = image.width
        image.pixels.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { destination in
                for y in 0..<image.height {
                    let row = y * w * 3
                    for x in 0..<w {
                        let s = row + x * 3, d = row + (w - 1 - x) * 3
                        destination[d] = source[s]
                        destination[d + 1] = source[s + 1]
                        destination[d + 2] = source[s + 2]
                    }
                }
            }
        }
        return RGBImage(height: image.height, width: w, pixels: pixels)
    }

    /// `(v / 255 − mean) / std` per channel. Returns `[H, W, 3]` Float32.
    public static func normalize(_ image: RGBImage, _ normalization: Normalization = .openAI) -> [Float] {
        let a = normalization.affine
        return [Float](unsafeUninitializedCapacity: image.pixels.count) { buffer, count in
            image.pixels.withUnsafeBufferPointer { source in
                for i in 0..<(image.height * image.width) {
                    let v = SIMD4<Float>(Float(source[3 * i]), Float(source[3 * i + 1]), Float(source[3 * i + 2]), 0)
                        * a.scale + a.offset
                    buffer[3 * i] = v[0]
                    buffer[3 * i + 1] = v[1]
                    buffer[3 * i + 2] = v[2]
                }
            }
            count = image.pixels.count
        }
    }
}

/// How the evaluation transform fits an image into `size × size` (OpenCLIP's `resize_mode`).
public enum ResizeMode: String, Codable, Sendable, CaseIterable {
    /// Resize the shortest side to `size`, center-crop (torchvision `Resize(size)` + `CenterCrop`).
    case shortest
    /// Resize the longest side to `size` keeping the aspect ratio (each side `round(side / ratio)`,
    /// halves to even), then pad to `size × size` with the fill color, centered (OpenCLIP's
    /// `ResizeKeepRatio(longest=1)` + `CenterCropOrPad`: left/top padding `⌊(size − side) / 2⌋`).
    case longest
    /// Resize to `size × size`, ignoring the aspect ratio.
    case squash
}

/// How the loader turns a decoded image into a model input of `size × size`.
///
/// Training: random resized crop (or, when `randomResizedCrop` is nil, the evaluation transform), then an
/// optional random horizontal flip (probability ½), then normalization. Evaluation: `resizeMode` (resize
/// the shortest side and center-crop by default), then normalization. The filter defaults to bicubic, as
/// OpenCLIP's transforms.
public struct Augmentation: Codable, Sendable, Equatable {
    public var randomResizedCrop: RandomResizedCrop?
    public var horizontalFlip: Bool
    public var filter: ResizeFilter
    public var normalization: Normalization
    public var resizeMode: ResizeMode
    /// The 0...255 gray level that pads `ResizeMode.longest` (OpenCLIP's `fill_color`).
    public var fill: UInt8

    public init(randomResizedCrop: RandomResizedCrop? = RandomResizedCrop(), horizontalFlip: Bool = false,
                filter: ResizeFilter = .bicubic, normalization: Normalization = .openAI,
                resizeMode: ResizeMode = .shortest, fill: UInt8 = 0) {
        self.randomResizedCrop = randomResizedCrop
        self.horizontalFlip = horizontalFlip
        self.filter = filter
        self.normalization = normalization
        self.resizeMode = resizeMode
        self.fill = fill
    }

    /// No randomness: the evaluation transform.
    public static let none = Augmentation(randomResizedCrop: nil)

    /// Writes the transformed `[size, size, 3]` image into `output`; draws from `rng` only when augmenting.
    public func apply(to image: RGBImage, size: Int, training: Bool, using rng: inout RandomGenerator,
                      into output: UnsafeMutableBufferPointer<Float>) {
        let affine = normalization.affine
        if training, let crop = randomResizedCrop {
            let box = crop.sampleBox(height: image.height, width: image.width, using: &rng)
            let flip = horizontalFlip && rng.next() >> 63 == 1
            resample(image, box: box, resizedHeight: size, resizedWidth: size, window: .full(height: size, width: size),
                     filter: filter, flip: flip, affine: affine, into: output)
            return
        }
        let flip = training && horizontalFlip && rng.next() >> 63 == 1
        let full = CropBox.full(height: image.height, width: image.width)
        switch resizeMode {
        case .shortest:
            let g = ImageTransforms.shortestSideGeometry(height: image.height, width: image.width, size: size)
            resample(image, box: full, resizedHeight: g.resizedHeight, resizedWidth: g.resizedWidth, window: g.window,
                     filter: filter, flip: flip, affine: affine, into: output)
        case .squash:
            resample(image, box: full, resizedHeight: size, resizedWidth: size, window: .full(height: size, width: size),
                     filter: filter, flip: flip, affine: affine, into: output)
        case .longest:
            let window = ImageTransforms.longestSideGeometry(height: image.height, width: image.width, size: size)
            let pad = SIMD4<Float>(repeating: Float(fill)) * affine.scale + affine.offset
            for p in 0..<(size * size) { (output[3 * p], output[3 * p + 1], output[3 * p + 2]) = (pad[0], pad[1], pad[2]) }
            let (h, w) = (window.height, window.width)
            let resized = UnsafeMutableBufferPointer<Float>.allocate(capacity: h * w * 3)
            defer { resized.deallocate() }
            resample(image, box: full, resizedHeight: h, resizedWidth: w, window: .full(height: h, width: w),
                     filter: filter, flip: flip, affine: affine, into: resized)
            let left = flip ? size - w - window.left : window.left
            for y in 0..<h {
                let destination = output.baseAddress! + ((window.top + y) * size + left) * 3
                destination.update(from: resized.baseAddress! + y * w * 3, count: w * 3)
            }
        }
    }
}
