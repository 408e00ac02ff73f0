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

/// Filter taps of a resize along one axis, for a window of output indices.
///
/// For output index `o` (centre `(o + ½)·s` in input coordinates, `s = in/out`), the taps cover input
/// indices `starts[o] ..< starts[o] + counts[o]` (clipped to the input, then renormalized, as PIL does),
/// with weights `f((i − centre + ½) / max(s, 1))`.
struct AxisTaps {
    var starts: [Int]      // absolute source index of the first tap, per output index in the window
    var counts: [Int]
    var weights: [Float]   // [window count, maxTaps]
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
        let support = filter.support * filterScale
        maxTaps = Int(support.rounded(.up)) * 2 + 1
        isIdentity = inputSize == outputSize && window == 0..<outputSize
        starts = []
        counts = []
        weights = [Float](repeating: 0, count: window.count * maxTaps)
        starts.reserveCapacity(window.count)
        counts.reserveCapacity(window.count)
        var taps = [Double](repeating: 0, count: maxTaps)
        for (row, o) in window.enumerated() {
            let center = (Double(o) + 0.5) * scale
            let first = max(Int(center - support + 0.5), 0)               // truncation, as PIL
            let count = min(Int(center + support + 0.5), inputSize) - first
            var total = 0.0
            for k in 0..<count {
                let w = filter.weight((Double(first + k) - center + 0.5) / filterScale)
                taps[k] = w
                total += w
            }
            for k in 0..<count {
                weights[row * maxTaps + k] = Float(total != 0 ? taps[k] / total : 0)
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

/// The core resampler behind every resize in the pipeline.
///
/// Resamples the `box` region of `image` as if it were cropped out and resized to
/// `resizedHeight × resizedWidth` (PIL's algorithm: horizontal pass, then vertical pass; values are
/// kept in Float, clamped to [0, 255] after each pass but not rounded to 8 bits as PIL does), keeps the
/// `window` of that resized image, and writes channels-last Float `[window.height, window.width, 3]`
/// into `output` as `clamp(v, 0, 255) · affine.scale + affine.offset`, columns mirrored when `flip`.
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
    // Source rows the vertical pass reads.
    let firstRow = rows.starts.min()!
    let endRow = zip(rows.starts, rows.counts).map { $0 + $1 }.max()!
    let outWidth = window.width

    // Horizontal pass → intermediate [endRow − firstRow, outWidth] of SIMD4 (r, g, b, 0).
    let intermediateRows = endRow - firstRow
    let intermediate = UnsafeMutableBufferPointer<SIMD4<Float>>.allocate(capacity: intermediateRows * outWidth)
    defer { intermediate.deallocate() }
    // One source row as SIMD4 (r, g, b, 0), zero-padded by maxTaps so every output pixel can run all
    // maxTaps taps (the weights past its own count are 0) without reading outside the buffer.
    let sourceRow = UnsafeMutableBufferPointer<SIMD4<Float>>.allocate(capacity: image.width + columns.maxTaps)
    sourceRow.initialize(repeating: .zero)
    defer { sourceRow.deallocate() }
    image.pixels.withUnsafeBufferPointer { pixels in
        columns.weights.withUnsafeBufferPointer { weights in
            for r in 0..<intermediateRows {
                let y = firstRow + r
                let rowBytes = pixels.baseAddress! + (y * image.width) * 3
                let destination = intermediate.baseAddress! + r * outWidth
                if columns.isIdentity {
                    for x in 0..<outWidth {
                        let p = rowBytes + (box.left + x) * 3
                        destination[x] = SIMD4(Float(p[0]), Float(p[1]), Float(p[2]), 0)
                    }
                    continue
                }
                let lo = box.left, hi = box.left + box.width
                for x in lo..<hi {
                    let p = rowBytes + x * 3
                    sourceRow[x] = SIMD4(Float(p[0]), Float(p[1]), Float(p[2]), 0)
                }
                // Four output pixels at a time: independent accumulator chains instead of one long one.
                let taps = columns.maxTaps
                var x = 0
                while x + 4 <= outWidth {
                    let w0 = weights.baseAddress! + x * taps, w1 = w0 + taps, w2 = w1 + taps, w3 = w2 + taps
                    let s0 = sourceRow.baseAddress! + columns.starts[x], s1 = sourceRow.baseAddress! + columns.starts[x + 1]
                    let s2 = sourceRow.baseAddress! + columns.starts[x + 2], s3 = sourceRow.baseAddress! + columns.starts[x + 3]
                    var a0 = SIMD4<Float>.zero, a1 = SIMD4<Float>.zero, a2 = SIMD4<Float>.zero, a3 = SIMD4<Float>.zero
                    for k in 0..<taps {
                        a0 += w0[k] * s0[k]
                        a1 += w1[k] * s1[k]
                        a2 += w2[k] * s2[k]
                        a3 += w3[k] * s3[k]
                    }
                    // The intermediate is an image too: clamp bicubic overshoot, as PIL does between passes.
                    destination[x] = clamp255(a0)
                    destination[x + 1] = clamp255(a1)
                    destination[x + 2] = clamp255(a2)
                    destination[x + 3] = clamp255(a3)
                    x += 4
                }
                while x < outWidth {
                    let w = weights.baseAddress! + x * taps
                    let source = sourceRow.baseAddress! + columns.starts[x]
                    var acc = SIMD4<Float>.zero
                    for k in 0..<taps { acc += w[k] * source[k] }
                    destination[x] = clamp255(acc)
                    x += 1
                }
            }
        }
    }

    // Vertical pass, then clamp, affine map and (optional) mirror into the output.
    let accumulator = UnsafeMutableBufferPointer<SIMD4<Float>>.allocate(capacity: outWidth)
    defer { accumulator.deallocate() }
    rows.weights.withUnsafeBufferPointer { weights in
        for y in 0..<window.height {
            let w = weights.baseAddress! + y * rows.maxTaps
            if rows.isIdentity {
                let start = box.top + y - firstRow  // the taps are [0, 1, 0, …]: copy source row y
                accumulator.baseAddress!.update(from: intermediate.baseAddress! + start * outWidth, count: outWidth)
            } else {
                let start = rows.starts[y] - firstRow
                accumulator.initialize(repeating: .zero)
                for k in 0..<rows.counts[y] {
                    let weight = w[k]
                    let source = intermediate.baseAddress! + (start + k) * outWidth
                    for x in 0..<outWidth { accumulator[x] += weight * source[x] }
                }
            }
            let destination = output.baseAddress! + y * outWidth * 3
            for x in 0..<outWidth {
                let v = clamp255(accumulator[x]) * affine.scale + affine.offset
                let o = (flip ? outWidth - 1 - x : x) * 3
                destination[o] = v[0]
                destination[o + 1] = v[1]
                destination[o + 2] = v[2]
            }
        }
    }
}

/// Clamps each lane to [0, 255] (scalar min/max: the generic `clamped` is not inlined here).
@inline(__always)
private func clamp255(_ v: SIMD4<Float>) -> SIMD4<Float> {
    SIMD4(Swift.min(Swift.max(v[0], 0), 255), Swift.min(Swift.max(v[1], 0), 255),
          Swift.min(Swift.max(v[2], 0), 255), 0)
}
