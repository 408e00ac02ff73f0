/// 2-d convolution (via im2col + GEMM) and average pooling on channels-last images.
///
/// Images are NHWC [B, H, W, C]; convolution weights use PyTorch's layout [O, C, kh, kw],
/// so OpenCLIP's `conv1.weight` loads unchanged. A patch embedding is the case
/// kernel = stride, padding 0.
public struct Conv2DGeometry: Equatable, Sendable {
    public let batch, height, width, channels, outChannels, kernel, stride, padding: Int
    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    public var patchSize: Int { channels * kernel * kernel }
    public var rows: Int { batch * outHeight * outWidth }

    public init(input: [Int], weight: [Int], stride: Int, padding: Int) {
        ensure(input.count == 4 && weight.count == 4 && weight[1] == input[3] && weight[2] == weight[3],
                     "conv2d expects input [B, H, W, C] and square weight [O, C, k, k], got \(input) and \(weight)")
        (batch, height, width, channels) = (input[0], input[1], input[2], input[3])
        (outChannels, kernel) = (weight[0], weight[2])
        (self.stride, self.padding) = (stride, padding)
        ensure(outHeight > 0 && outWidth > 0, "conv2d kernel \(kernel) does not fit input \(input) with padding \(padding)")
    }
}

public enum ConvolutionKernel {
    /// Unfolds patches: [B·OH·OW, C·k·k] with columns ordered (c, ky, kx) like PyTorch's weight.
    public static func im2col(_ x: Tensor, _ g: Conv2DGeometry) -> Tensor {
        let cols = Tensor(uninitializedShape: [g.rows, g.patchSize])
        let (src, dst) = (x.pointer, cols.pointer)
        let k = g.kernel
        Parallel.forEachChunk(g.rows, grain: 16) { range in
            for row in range {
                let ox = row % g.outWidth, oy = (row / g.outWidth) % g.outHeight, b = row / (g.outWidth * g.outHeight)
                let out = dst + row * g.patchSize
                for ky in 0..<k {
                    let iy = oy * g.stride - g.padding + ky
                    for kx in 0..<k {
                        let ix = ox * g.stride - g.padding + kx
                        let inside = iy >= 0 && iy < g.height && ix >= 0 && ix < g.width
                        let pixel = src + ((b * g.height + iy) * g.width + ix) * g.channels
                        for c in 0..<g.channels { out[(c * k + ky) * k + kx] = inside ? pixel[c] : 0 }
                    }
                }
            }
        }
        return cols
    }

    /// Folds patch gradients back onto the image (sums overlaps): the adjoint of `im2col`.
    public static func col2im(_ cols: Tensor, _ g: Conv2DGeometry) -> Tensor {
        let dx = Tensor.zeros([g.batch, g.height, g.width, g.channels])
        let (src, dst) = (cols.pointer, dx.pointer)
        let k = g.kernel
        // Parallel over images: each image's pixels are written by one thread only.
        Parallel.forEachChunk(g.batch) { range in
            for b in range {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        let col = src + ((b * g.outHeight + oy) * g.outWidth + ox) * g.patchSize
                        for ky in 0..<k {
                            let iy = oy * g.stride - g.padding + ky
                            if iy < 0 || iy >= g.height { continue }
                            for kx in 0..<k {
                                let ix = ox * g.stride - g.padding + kx
                                if ix < 0 || ix >= g.width { continue }
                                let pixel = dst + ((b * g.height + iy) * g.width + ix) * g.channels
                                for c in 0..<g.channels { pixel[c] += col[(c * k + ky) * k + kx] }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Average pooling with a square window `kernel` and `stride` on [B, H, W, C] (no padding).
    public static func avgPool(_ x: Tensor, kernel: Int, stride: Int) -> Tensor {
        let (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1
        ensure(oh > 0 && ow > 0, "avgPool window \(kernel) larger than input \(x.shape)")
        let out = Tensor.zeros([b, oh, ow, c])
        let inv = 1 / Float(kernel * kernel)
        for bi in 0..<b { for oy in 0..<oh { for ox in 0..<ow {
            let o = out.pointer + ((bi * oh + oy) * ow + ox) * c
            for ky in 0..<kernel { for kx in 0..<kernel {
                let p = x.pointer + ((bi * h + oy * stride + ky) * w + ox * stride + kx) * c
                zipVectorized(o, p, o, c, +)
            } }
            mapVectorized(o, o, c) { $0 * inv }
        } } }
        return out
    }

    /// Backward of `avgPool`: each output gradient spread evenly over its window.
    public static func avgPoolBackward(_ dy: Tensor, inputShape: [Int], kernel: Int, stride: Int) -> Tensor {
        let (b, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow) = (dy.shape[1], dy.shape[2])
        let dx = Tensor.zeros(inputShape)
        let inv = 1 / Float(kernel * kernel)
        for bi in 0..<b { for oy in 0..<oh { for ox in 0..<ow {
            let g = dy.pointer + ((bi * oh + oy) * ow + ox) * c
            for ky in 0..<kernel { for kx in 0..<kernel {
                let p = dx.pointer + ((bi * h + oy * stride + ky) * w + ox * stride + kx) * c
                zipVectorized(p, g, p, c) { $0 + $1 * inv }
            } }
        } } }
        return dx
    }
}
