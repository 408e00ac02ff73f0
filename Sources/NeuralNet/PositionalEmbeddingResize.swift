import Foundation

/// Resizing a ViT's image positional embedding to another patch grid, as OpenCLIP's
/// `resize_pos_embed` does when a checkpoint trained at one `image_size` is loaded into a model of
/// another (FLIP / CLIPA: pretrain at low resolution, fine-tune at full resolution).
///
/// The class-token row is kept; the grid rows `[h·w, W]`, read as an image `[h, w]` with `W`
/// channels, are resampled to `[h′, w′]` exactly as
/// `F.interpolate(mode='bicubic', antialias=True, align_corners=False)`. With `antialias=True`
/// torch takes its antialiased path whether it shrinks or enlarges: PIL's separable bicubic filter
/// (Keys, a = −0.5) stretched by the scale when shrinking, each output's window cut at the borders
/// and its weights renormalized to sum to 1. That differs from plain bicubic (a = −0.75, clamped
/// borders) even when enlarging, so it is the one matched here, width pass first, then height.
public enum PositionalEmbeddingResize {
    /// A patch grid, rows × columns.
    public struct Grid: Equatable, Sendable, CustomStringConvertible {
        public var height: Int, width: Int
        public init(height: Int, width: Int) { (self.height, self.width) = (height, width) }
        public init(side: Int) { self.init(height: side, width: side) }
        public var count: Int { height * width }
        public var description: String { "\(height)×\(width)" }
    }

    /// OpenCLIP's `resize_pos_embed` on one tensor.
    /// - Parameters:
    ///   - embedding: [extraTokens + from.count, W]: the class token row(s), then the grid row-major.
    ///   - extraTokens: leading rows copied unchanged (OpenCLIP: 1, the class token).
    /// - Returns: [extraTokens + to.count, W]; the input itself when the grids are equal.
    public static func resized(_ embedding: Tensor, from: Grid, to: Grid, extraTokens: Int = 1) -> Tensor {
        ensure(embedding.rank == 2 && embedding.shape[0] == extraTokens + from.count,
               "a positional embedding of grid \(from) with \(extraTokens) extra token(s) is [\(extraTokens + from.count), W], got \(embedding.shape)")
        ensure(from.count > 0 && to.count > 0, "grids must be non-empty, got \(from) → \(to)")
        guard from != to else { return embedding }
        let w = embedding.shape[1]
        var result = Tensor(uninitializedShape: [extraTokens + to.count, w])
        embedding.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                for i in 0..<(extraTokens * w) { target[i] = source[i] }
                let grid = UnsafeBufferPointer(rebasing: source[(extraTokens * w)...])
                let resampled = bicubicAntialiased(grid, from: from, to: to, channels: w)
                for i in 0..<resampled.count { target[extraTokens * w + i] = resampled[i] }
            }
        }
        return result
    }

    /// Torch's antialiased bicubic resampling of a channels-last image.
    /// - Parameters:
    ///   - image: [from.height, from.width, C] row-major.
    /// - Returns: [to.height, to.width, C] row-major.
    static func bicubicAntialiased(_ image: UnsafeBufferPointer<Float>, from: Grid, to: Grid, channels c: Int) -> [Float] {
        var current = Array(image), (h, w) = (from.height, from.width)
        if to.width != w {   // width pass: [h, w, C] → [h, w′, C]
            let taps = Taps(inputSize: w, outputSize: to.width)
            current = resample(current, outer: h, inputSize: w, taps: taps, inner: c)
            w = to.width
        }
        if to.height != h {  // height pass: [h, w′, C] → [h′, w′, C]
            let taps = Taps(inputSize: h, outputSize: to.height)
            current = resample(current, outer: 1, inputSize: h, taps: taps, inner: w * c)
            h = to.height
        }
        return current
    }

    /// One separable pass along the middle axis of `x` [outer, inputSize, inner] → [outer, outputSize, inner]:
    /// `y[o] = x[start]·w₀ + x[start+1]·w₁ + …`, accumulated left to right with fused multiply-adds,
    /// as torch's `interpolate_aa_single_dim` compiles on x86-64.
    static func resample(_ x: [Float], outer: Int, inputSize: Int, taps: Taps, inner: Int) -> [Float] {
        var y = [Float](repeating: 0, count: outer * taps.outputSize * inner)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                for b in 0..<outer {
                    for o in 0..<taps.outputSize {
                        let (start, weights) = (taps.starts[o], taps.weights[o])
                        let out = (b * taps.outputSize + o) * inner
                        let first = (b * inputSize + start) * inner
                        for k in 0..<inner { y[out + k] = x[first + k] * weights[0] }
                        for j in weights.indices.dropFirst() {
                            let row = (b * inputSize + start + j) * inner, wj = weights[j]
                            for k in 0..<inner { y[out + k] = y[out + k].addingProduct(x[row + k], wj) }
                        }
                    }
                }
            }
        }
        return y
    }

    /// The window and weights of each output position along one axis: torch's
    /// `_compute_indices_min_size_weights_aa` with `align_corners=False` and no explicit scale,
    /// computed in Float with the same roundings (including the fused multiply-adds of the filter).
    struct Taps {
        let outputSize: Int
        var starts: [Int] = []
        var weights: [[Float]] = []

        init(inputSize: Int, outputSize: Int) {
            self.outputSize = outputSize
            let scale = Float(inputSize) / Float(outputSize)
            let support: Float = scale >= 1 ? Float(2 * Double(scale)) : 2   // interp_size/2 = 2 input pixels, × scale when shrinking
            let invScale: Float = scale >= 1 ? Float(1 / Double(scale)) : 1
            let maxTaps = Int(Double(support).rounded(.up)) * 2 + 1
            for i in 0..<outputSize {
                let center = Float(Double(scale) * (Double(i) + 0.5))
                let start = max(Int(Double(center - support) + 0.5), 0)
                let size = min(max(min(Int(Double(center + support) + 0.5), inputSize) - start, 0), maxTaps)
                var w = (0..<size).map { j in
                    Self.keysCubic(Float((Double(Float(j + start) - center) + 0.5) * Double(invScale)))
                }
                let total = w.reduce(0, +)
                if total != 0 { w = w.map { $0 / total } }
                starts.append(start)
                weights.append(w)
            }
        }

        /// Keys' cubic convolution kernel with a = −0.5 (PIL's and torch's antialiased bicubic):
        /// 1.5|x|³ − 2.5|x|² + 1 for |x| < 1, −0.5|x|³ + 2.5|x|² − 4|x| + 2 for |x| < 2, else 0;
        /// Horner's form with the multiply-adds fused, as torch's x86-64 build computes it.
        static func keysCubic(_ x: Float) -> Float {
            let x = abs(x)
            if x < 1 { return Float(1).addingProduct(Float(-2.5).addingProduct(1.5, x) * x, x) }
            if x < 2 { return Float(2).addingProduct(Float(-4).addingProduct(Float(2.5).addingProduct(-0.5, x), x), x) }
            return 0
        }
    }
}

extension VisionTransformer {
    /// `model.init` from weights trained at another `image_size`: when `tensors` holds this tower's
    /// positional embedding for another square grid (OpenCLIP reads the old grid as square), it is
    /// replaced by its resized form (`PositionalEmbeddingResize.resized`, class token kept).
    /// Only the grid may differ: weights of another width, or another `patch_size` (the patch
    /// embedding `conv1.weight` is never resized, as in OpenCLIP), are refused with the reason.
    /// - Parameters:
    ///   - prefix: this tower's name prefix in `tensors` (`"visual."` in a CLIP state dict).
    ///   - source: the weights' path, for error messages.
    /// - Returns: the grids when the embedding was resized, nil when it already fit or is absent.
    public func resizePositionalEmbedding(in tensors: inout [String: Tensor], prefix: String = "visual.",
                                          source: String) throws -> (from: PositionalEmbeddingResize.Grid, to: PositionalEmbeddingResize.Grid)? {
        let key = prefix + "positional_embedding"
        guard let old = tensors[key] else { return nil }
        let (w, p) = (config.width, config.patchSize)
        guard old.rank == 2, old.shape[1] == w else {
            throw ModelError("\(source): \(key) is \(old.shape), but this model's vision width is \(w): "
                + "only image_size may differ from the weights' model (the positional embedding is resized, nothing else)")
        }
        if let conv = tensors[prefix + "conv1.weight"], conv.rank == 4, conv.shape[0] == w, conv.shape[2...] != [p, p] {
            throw ModelError("\(source): \(prefix)conv1.weight \(conv.shape) was trained with patch_size \(conv.shape[2]), "
                + "this model's is \(p): only image_size may differ (OpenCLIP resizes the positional embedding, never the patch embedding)")
        }
        let to = PositionalEmbeddingResize.Grid(side: grid)
        guard old.shape[0] != to.count + 1 else { return nil }
        let side = Int(Double(old.shape[0] - 1).squareRoot().rounded())
        guard old.shape[0] > 1, side * side == old.shape[0] - 1 else {
            throw ModelError("\(source): \(key) \(old.shape) is not a class token plus a square grid of patches, "
                + "so it cannot be resized to this model's \(to) grid")
        }
        let from = PositionalEmbeddingResize.Grid(side: side)
        tensors[key] = PositionalEmbeddingResize.resized(old, from: from, to: to)
        return (from, to)
    }
}
