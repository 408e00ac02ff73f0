import Autograd
import TestSupport
import XCTest

/// Gradient checks of the fused NN ops: matmul, linear, softmax, layer norm, attention,
/// embedding, L2 normalization, cross-entropy, convolution and pooling.
final class NeuralNetGradientTests: XCTestCase {
    func r(_ shape: [Int], _ seed: UInt64, _ scale: Float = 1) -> Tensor { GradientCheck.random(shape, seed: seed, scale: scale) }

    func testMatmul() {
        GradientCheck.check([r([3, 4], 1), r([4, 5], 2)]) { $0[0].matmul($0[1]) }
        GradientCheck.check([r([2, 3, 4], 3), r([5, 4], 4)]) { $0[0].matmul($0[1], transposeOther: true) }
        GradientCheck.check([r([2, 3, 4], 5), r([2, 4, 2], 6)]) { $0[0].matmul($0[1]) }
        GradientCheck.check([r([1, 1], 7), r([1, 3], 8)]) { $0[0].matmul($0[1]) }
    }

    func testLinear() {
        GradientCheck.check([r([2, 3, 5], 1), r([4, 5], 2), r([4], 3)]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        GradientCheck.check([r([1, 7], 4), r([3, 7], 5)]) { $0[0].linear(weight: $0[1], bias: nil) }
    }

    func testSoftmaxFamily() {
        let x = r([3, 7], 9, 2)
        GradientCheck.check([x]) { $0[0].softmax() }
        GradientCheck.check([x]) { $0[0].logSoftmax() }
        GradientCheck.check([r([2, 1], 10)]) { $0[0].softmax() }
    }

    func testLayerNorm() {
        for shape in [[4, 8], [2, 3, 17], [1, 1, 5]] {
            let c = shape.last!
            GradientCheck.check([r(shape, 11, 2), r([c], 12) + 1, r([c], 13)], tolerance: 2e-2) {
                $0[0].layerNorm(weight: $0[1], bias: $0[2])
            }
        }
    }

    func testCrossEntropyWithLabelSmoothing() {
        for smoothing: Float in [0, 0.1] {
            GradientCheck.check([r([5, 7], 14, 2)]) { $0[0].crossEntropy(targets: [0, 3, 6, 2, 2], labelSmoothing: smoothing) }
        }
        GradientCheck.check([r([1, 1], 15)]) { $0[0].crossEntropy(targets: [0]) }
    }

    func testAttentionWithAndWithoutMask() {
        // B=2, T=5, W=8, 2 heads → qkv [2, 5, 24]
        let qkv = r([2, 5, 24], 16, 1)
        GradientCheck.check([qkv], tolerance: 2e-2) { $0[0].attention(heads: 2) }
        GradientCheck.check([qkv], tolerance: 2e-2) { $0[0].attention(heads: 2, mask: AttentionKernel.causalMask(5)) }
        GradientCheck.check([r([1, 1, 6], 17)]) { $0[0].attention(heads: 1) }
    }

    /// 64-wide heads, as the model's towers run them by default (forward in batched oneDNN calls
    /// where oneDNN has batched kernels, backward one BLAS call per head in fp32), unmasked with
    /// three tokens, causal with five. Narrow heads (above) run batched both ways there.
    func testAttentionWithWideHeads() {
        GradientCheck.check([r([2, 3, 192], 20, 0.5)], tolerance: 2e-2) { $0[0].attention(heads: 1) }
        GradientCheck.check([r([1, 5, 384], 21, 0.5)], tolerance: 2e-2) { $0[0].attention(heads: 2, mask: AttentionKernel.causalMask(5)) }
    }

    func testEmbeddingGatherWithRepeatedIndices() {
        GradientCheck.check([r([6, 4], 18)]) { $0[0].gatherRows([5, 0, 5, 2]) }
    }

    func testL2Normalize() {
        GradientCheck.check([r([3, 6], 19, 2)]) { $0[0].l2Normalized() }
    }

    func testConvolution() {
        // Patch embedding (kernel = stride) and a padded strided conv.
        GradientCheck.check([r([2, 8, 8, 3], 20), r([4, 3, 4, 4], 21)]) { $0[0].conv2d(weight: $0[1], stride: 4) }
        GradientCheck.check([r([1, 7, 6, 2], 22), r([3, 2, 3, 3], 23), r([3], 24)]) {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        }
    }

    func testAveragePooling() {
        GradientCheck.check([r([2, 6, 4, 3], 25)]) { $0[0].avgPool(kernel: 2, stride: 2) }
        GradientCheck.check([r([1, 5, 5, 2], 26)]) { $0[0].avgPool(kernel: 3, stride: 1) }
    }
}
