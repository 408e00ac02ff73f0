import TensorCore

/// The interpolation filter of a resize.
///
/// Both follow PIL's `Image.resize` (what OpenCLIP's torchvision transforms call on PIL images):
/// separable convolution, and when shrinking the filter is stretched by the scale factor, so
/// downsampling is antialiased (a 2× bilinear shrink weighs source pixels ¼·[½, 1½, 1½, ½]/… i.e.
/// [1, 3, 3, 1]/8, not a 2-pixel average).
public enum ResizeFilter: String, Codable, Sendable, CaseIterable {
    /// Triangle filter, support 1: `max(0, 1 − |x|)`.
    case bilinear
    /// Keys cubic convolution with a = −0.5 (PIL's BICUBIC; OpenCV and PyTorch use a = −0.75), support 2.
    case bicubic

    var support: Double { self == .bilinear ? 1 : 2 }

    @inline(__always)
    func weight(_ x: Double) -> Double {
        let x = abs(x)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// A rectangle of an image: rows `top ..< top + height`, columns `left ..< left + width`.
public struct CropBox: Equatable, Hashable, Codable, Sendable {
    public var top: Int
    public var left: Int
    public var height: Int
    public var width: Int

    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }

    /// The whole of an `height × width` image.
    public static func full(height: Int, width: Int) -> CropBox {
        CropBox(top: 0, left: 0, height: height, width: width)
    }
}

/// Filter taps of a resize along one axis, for a window of output indices, as Pillow computes them
/// (`precompute_coeffs` and `normalize_coeffs_8bpc` in libImaging/Resample.c).
///
/// For output index `o` the centre is `c = (o + ½)·s` in input coordinates (`s = in/out`) and the
/// support `r = support · max(s, 1)`; the taps cover input indices `first ..< end` with
/// `first = max(trunc(c − r + ½), 0)` and `end = min(trunc(c + r + ½), in)`, weighted
/// `f((i − c + ½) · (1 / max(s, 1)))` in Double, divided by their sum, then stored as 22-bit fixed point
/// (`Int32(w · 2²² ± ½)`, truncated toward zero). The same operations in the same order as Pillow, so
/// the weights are Pillow's to the last bit.
struct AxisTaps {
    /// Fractional bits of the weights: 32 − 8 − 2 (8 bits of value, 2 of headroom for the cubic lobes).
    static let precisionBits: Int32 = 22

    var starts: [Int]      // absolute source index of the first tap, per output index in the window
    var counts: [Int]
    var weights: [Int32]   // [window count, maxTaps], fixed point; 0 past each row's count
    var maxTaps: Int
    /// True when the axis maps input i to output i exactly (nothing to compute).
    var isIdentity: Bool

    /// - Parameters:
    ///   - offset: first input index of the (cropped) region; `inputSize` its length.
    ///   - outputSize: resized length; `window` the output indices wanted.
    init(offset: Int, inputSize: Int, outputSize: Int, window: Range<Int>, filter: ResizeFilter) {
        ensure(inputSize > 0 && outputSize > 0, "resize needs positive sizes, got \(inputSize) → \(outputSize)")
        ensure(window.lowerBound >= 0 && window.upperBound <= outputSize, "window \(window) outside 0..<\(outputSize)")
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let inverseFilterScale = 1 / filterScale   // Pillow multiplies by the reciprocal: the same rounding
        let support = filter.support * filterScale
        let one = Double(1 << Self.precisionBits)
        maxTaps = Int(support.rounded(.up)) * 2 + 1
        isIdentity = inputSize == outputSize && window == 0..<outputSize
        starts = []
        counts = []
        weights = [Int32](repeating: 0, count: window.count * maxTaps)
        starts.reserveCapacity(window.count)
        counts.reserveCapacity(window.count)
        var taps = [Double](repeating: 0, count: maxTaps)
        for (row, o) in window.enumerated() {
            let center = (Double(o) + 0.5) * scale
            let first = max(Int(center - support + 0.5), 0)               // truncation, as C's (int)
            let count = min(Int(center + support + 0.5), inputSize) - first
            var total = 0.0
            for k in 0..<count {
                let w = filter.weight((Double(first + k) - center + 0.5) * inverseFilterScale)
                taps[k] = w
                total += w
            }
            for k in 0..<count {
                let w = total != 0 ? taps[k] / total : taps[k]
                weights[row * maxTaps + k] = Int32(w < 0 ? -0.5 + w * one : 0.5 + w * one)
            }
            starts.append(offset + first)
            counts.append(count)
        }
    }
}

/// Per-channel affine map applied to resampled values `v ∈ [0, 255]`: `v · scale + offset`.
public struct PixelAffine: Sendable, Equatable {
    public var scale: SIMD4<Float>
    public var offset: SIMD4<Float>

    /// Leaves values in 0...255.
    public static let identity = PixelAffine(scale: SIMD4(1, 1, 1, 0), offset: .zero)

    public init(scale: SIMD4<Float>, offset: SIMD4<Float>) {
        self.scale = scale
        self.offset = offset
    }
}

/// The core resampler behind every resize in the pipeline: Pillow's `Image.resize` (what OpenCLIP's
/// torchvision transforms call on PIL images), to the 8-bit pixel.
///
/// Resamples the `box` region of `image` as if it were cropped out and resized to
/// `resizedHeight × resizedWidth` (torchvision's `resized_crop` on a PIL image: `crop`, then `resize`),
/// keeps the `window` of that resized image, and writes channels-last Float
/// `[window.height, window.width, 3]` into `output` as `v · affine.scale + affine.offset`, where `v` is
/// the 8-bit value Pillow produces; columns mirrored when `flip`.
///
/// Pillow's algorithm (libImaging/Resample.c, 8 bits per channel): two separable passes, each output
/// `clamp((2²¹ + Σ wᵢ·pᵢ) >> 22, 0, 255)` with the 22-bit fixed-point weights of `AxisTaps`, so the
/// intermediate image is 8-bit too. The pass order matters to the last bit and follows Pillow 13:
/// vertical first when the height shrinks by more than twice as many pixels as the width
/// (`in.h − out.h > max(0, 2·(in.w − out.w))`), horizontal first otherwise (Pillow ≤ 12 always goes
/// horizontal first, so there those resizes differ by a level here and there). A pass whose size does
/// not change is skipped, as Pillow does (its taps would be `[1]` anyway). Outputs outside `window`
/// are never computed: each output pixel depends only on its own taps, so the window of the full
/// resize is exactly what comes out.
public func resample(_ image: RGBImage, box: CropBox, resizedHeight: Int, resizedWidth: Int, window: CropBox,
                     filter: ResizeFilter, flip: Bool = false, affine: PixelAffine = .identity,
                     into output: UnsafeMutableBufferPointer<Float>) {
    ensure(box.top >= 0 && box.left >= 0 && box.height > 0 && box.width > 0
                 && box.top + box.height <= image.height && box.left + box.width <= image.width,
                 "crop box \(box) outside a \(image.height)×\(image.width) image")
    ensure(output.count >= window.height * window.width * 3, "output too small for window \(window)")
    let columns = AxisTaps(offset: box.left, inputSize: box.width, outputSize: resizedWidth,
                           window: window.left..<(window.left + window.width), filter: filter)
    let rows = AxisTaps(offset: box.top, inputSize: box.height, outputSize: resizedHeight,
                        window: window.top..<(window.top + window.height), filter: filter)
    // The source region the passes read: rows firstRow ..< endRow, columns firstColumn ..< endColumn
    // (along an identity axis, whose pass is skipped, exactly the box).
    func span(_ taps: AxisTaps, _ start: Int, _ length: Int) -> (Int, Int) {
        taps.isIdentity ? (start, start + length)
            : (taps.starts.min()!, zip(taps.starts, taps.counts).map { $0 + $1 }.max()!)
    }
    let (firstRow, endRow) = span(rows, box.top, box.height)
    let (firstColumn, endColumn) = span(columns, box.left, box.width)
    let (regionRows, regionColumns) = (endRow - firstRow, endColumn - firstColumn)
    let (outHeight, outWidth) = (window.height, window.width)
    let shrunkRows = box.height - resizedHeight, shrunkColumns = box.width - resizedWidth
    let verticalFirst = shrunkRows > 0 && shrunkRows > 2 * shrunkColumns

    // Every image below is RGBX, one SIMD4<UInt8> per pixel (X = 0). A horizontal pass runs all
    // maxTaps taps of each output (the weights past its own count are 0), so its input rows are
    // padded with maxTaps zero pixels.
    let pad = columns.maxTaps
    let regionStride = regionColumns + pad
    // The intermediate: [outHeight, regionColumns + pad] (vertical first) or [regionRows, outWidth].
    let intermediateStride = verticalFirst ? regionStride : outWidth
    let intermediateCount = (verticalFirst ? outHeight : regionRows) * intermediateStride
    // One allocation for the three images (malloc then keeps reusing the same block from call to call,
    // instead of mapping fresh pages for each of several large buffers).
    let scratch = UnsafeMutablePointer<SIMD4<UInt8>>.allocate(
        capacity: regionRows * regionStride + intermediateCount + outHeight * outWidth)
    defer { scratch.deallocate() }
    let region = scratch, intermediate = region + regionRows * regionStride, final = intermediate + intermediateCount
    image.pixels.withUnsafeBufferPointer { pixels in
        for r in 0..<regionRows {
            let source = pixels.baseAddress! + ((firstRow + r) * image.width + firstColumn) * 3
            let destination = region + r * regionStride
            // RGB → RGBX: four bytes at a time, the fourth (the next pixel's red) masked off.
            let raw = UnsafeRawPointer(source), wide = UnsafeMutableRawPointer(destination)
            for c in 0..<(regionColumns - 1) {
                let rgbr = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 3 * c, as: UInt32.self))
                wide.storeBytes(of: (rgbr & 0x00FF_FFFF).littleEndian, toByteOffset: 4 * c, as: UInt32.self)
            }
            let last = regionColumns - 1
            destination[last] = SIMD4(source[3 * last], source[3 * last + 1], source[3 * last + 2], 0)
            (destination + regionColumns).initialize(repeating: .zero, count: pad)
        }
    }

    // Run the passes; `result` ends as the [outHeight, outWidth] image (row stride `resultStride`).
    var (result, resultStride) = (UnsafePointer(region), regionStride)
    if verticalFirst {
        if !rows.isIdentity {
            for y in 0..<outHeight {   // the padding the horizontal pass reads
                (intermediate + y * intermediateStride + regionColumns).initialize(repeating: .zero, count: pad)
            }
            verticalPass(result, stride: resultStride, width: regionColumns, rows, origin: firstRow,
                         into: intermediate, stride: intermediateStride)
            (result, resultStride) = (UnsafePointer(intermediate), intermediateStride)
        }
        if !columns.isIdentity {
            horizontalPass(result, stride: resultStride, rowCount: outHeight, columns, origin: firstColumn,
                           into: final, stride: outWidth)
            (result, resultStride) = (UnsafePointer(final), outWidth)
        }
    } else {
        if !columns.isIdentity {
            horizontalPass(result, stride: resultStride, rowCount: regionRows, columns, origin: firstColumn,
                           into: intermediate, stride: intermediateStride)
            (result, resultStride) = (UnsafePointer(intermediate), intermediateStride)
        }
        if !rows.isIdentity {
            verticalPass(result, stride: resultStride, width: outWidth, rows, origin: firstRow,
                         into: final, stride: outWidth)
            (result, resultStride) = (UnsafePointer(final), outWidth)
        }
    }

    // The affine map and (optional) mirror into the output.
    for y in 0..<outHeight {
        let source = result + y * resultStride
        let destination = output.baseAddress! + y * outWidth * 3
        for x in 0..<outWidth {
            let v = SIMD4<Float>(source[x]) * affine.scale + affine.offset
            let o = (flip ? outWidth - 1 - x : x) * 3
            destination[o] = v[0]
            destination[o + 1] = v[1]
            destination[o + 2] = v[2]
        }
    }
}

/// Pillow's horizontal pass: output `[rowCount, taps.count]` from input rows whose column
/// `taps.starts[x] − origin` is the first tap of output column `x` (rows padded by `taps.maxTaps`).
/// |Σ wᵢ·pᵢ| < 1.3 · 255 · 2²² < 2³¹, so the wrapping operators never wrap.
@inline(__always)
private func horizontalPass(_ input: UnsafePointer<SIMD4<UInt8>>, stride inputStride: Int, rowCount: Int,
                            _ taps: AxisTaps, origin: Int,
                            into output: UnsafeMutablePointer<SIMD4<UInt8>>, stride outputStride: Int) {
    let width = taps.counts.count, n = taps.maxTaps
    let half = SIMD4<Int32>(repeating: 1 << (AxisTaps.precisionBits - 1))
    taps.weights.withUnsafeBufferPointer { weights in
        taps.starts.withUnsafeBufferPointer { starts in
            for r in 0..<rowCount {
                let row = input + r * inputStride - origin
                let destination = output + r * outputStride
                // Four output pixels at a time: independent accumulator chains instead of one long one.
                var x = 0
                while x + 4 <= width {
                    let w0 = weights.baseAddress! + x * n, w1 = w0 + n, w2 = w1 + n, w3 = w2 + n
                    let s0 = row + starts[x], s1 = row + starts[x + 1], s2 = row + starts[x + 2], s3 = row + starts[x + 3]
                    var a0 = half, a1 = half, a2 = half, a3 = half
                    for k in 0..<n {
                        a0 &+= w0[k] &* SIMD4<Int32>(truncatingIfNeeded: s0[k])
                        a1 &+= w1[k] &* SIMD4<Int32>(truncatingIfNeeded: s1[k])
                        a2 &+= w2[k] &* SIMD4<Int32>(truncatingIfNeeded: s2[k])
                        a3 &+= w3[k] &* SIMD4<Int32>(truncatingIfNeeded: s3[k])
                    }
                    destination[x] = clip8(a0)
                    destination[x + 1] = clip8(a1)
                    destination[x + 2] = clip8(a2)
                    destination[x + 3] = clip8(a3)
                    x += 4
                }
                while x < width {
                    let w = weights.baseAddress! + x * n, source = row + starts[x]
                    var a = half
                    for k in 0..<n { a &+= w[k] &* SIMD4<Int32>(truncatingIfNeeded: source[k]) }
                    destination[x] = clip8(a)
                    x += 1
                }
            }
        }
    }
}

/// Pillow's vertical pass: output `[taps.count, width]` from input rows, the first tap of output row
/// `y` being input row `taps.starts[y] − origin`.
@inline(__always)
private func verticalPass(_ input: UnsafePointer<SIMD4<UInt8>>, stride inputStride: Int, width: Int,
                          _ taps: AxisTaps, origin: Int,
                          into output: UnsafeMutablePointer<SIMD4<UInt8>>, stride outputStride: Int) {
    let half = SIMD4<Int32>(repeating: 1 << (AxisTaps.precisionBits - 1))
    taps.weights.withUnsafeBufferPointer { weights in
        for y in 0..<taps.counts.count {
            let w = weights.baseAddress! + y * taps.maxTaps, count = taps.counts[y]
            let first = input + (taps.starts[y] - origin) * inputStride
            let destination = output + y * outputStride
            // Four output pixels at a time, the taps innermost: the sums stay in registers.
            var x = 0
            while x + 4 <= width {
                var a0 = half, a1 = half, a2 = half, a3 = half
                var source = first + x
                for k in 0..<count {
                    let weight = w[k]
                    a0 &+= weight &* SIMD4<Int32>(truncatingIfNeeded: source[0])
                    a1 &+= weight &* SIMD4<Int32>(truncatingIfNeeded: source[1])
                    a2 &+= weight &* SIMD4<Int32>(truncatingIfNeeded: source[2])
                    a3 &+= weight &* SIMD4<Int32>(truncatingIfNeeded: source[3])
                    source += inputStride
                }
                destination[x] = clip8(a0)
                destination[x + 1] = clip8(a1)
                destination[x + 2] = clip8(a2)
                destination[x + 3] = clip8(a3)
                x += 4
            }
            while x < width {
                var a = half
                for k in 0..<count { a &+= w[k] &* SIMD4<Int32>(truncatingIfNeeded: first[k * inputStride + x]) }
                destination[x] = clip8(a)
                x += 1
            }
        }
    }
}

/// Pillow's `clip8`: drops the 22 fractional bits (an arithmetic shift, so negative sums floor) and
/// clamps each lane to [0, 255].
@inline(__always)
private func clip8(_ v: SIMD4<Int32>) -> SIMD4<UInt8> {
    var s = v &>> AxisTaps.precisionBits
    s.replace(with: 0, where: s .< 0)
    s.replace(with: 255, where: s .> 255)
    return SIMD4<UInt8>(truncatingIfNeeded: s)
}
