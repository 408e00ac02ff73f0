import Foundation
import TensorCore
import XCTest

/// Forward results of the tensor kernels against closed forms and naive loops.
final class KernelTests: XCTestCase {
    func random(_ shape: [Int], _ seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.randomNormal(shape, using: &rng)
    }

    func testVectorMathMatchesLibm() {
        let xs = (0..<4001).map { Float($0 - 2000) / 100 }  // −20 … 20
        let x = Tensor(shape: [xs.count], scalars: xs)
        let e = x.exp(), t = x.tanh(), s = x.sigmoid(), g = x.gelu()
        for (i, v) in xs.enumerated() {
            XCTAssertEqual(e[flat: i], Foundation.exp(v), accuracy: Foundation.exp(v) * 3e-7)
            XCTAssertEqual(t[flat: i], Foundation.tanh(v), accuracy: 3e-7)
            XCTAssertEqual(s[flat: i], 1 / (1 + Foundation.exp(-v)), accuracy: 3e-7)
            XCTAssertEqual(g[flat: i], 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot().floatValue)), accuracy: 2e-6 * max(1, abs(v)))
        }
    }

    func testGELUWithDerivativeMatchesTheSeparateKernels() {
        let x = Tensor(shape: [1003], scalars: (0..<1003).map { Float($0 - 501) / 60 })
        let (y, d) = x.geluWithDerivative()
        XCTAssertTrue(y.isClose(to: x.gelu(), tolerance: 1e-6))
        XCTAssertTrue(d.isClose(to: Tensor.geluBackward(x: x, dy: .ones([1003])), tolerance: 1e-6))
    }

    func testMatmulAgainstNaiveLoops() {
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (17, 33, 9), (64, 64, 64)] {
            let a = random([m, k], 1), b = random([k, n], 2)
            let c = a.matmul(b)
            for i in 0..<m { for j in 0..<n {
                var s: Float = 0
                for p in 0..<k { s += a[flat: i * k + p] * b[flat: p * n + j] }
                XCTAssertEqual(c[flat: i * n + j], s, accuracy: 1e-4)
            } }
            XCTAssertTrue(a.transposed().matmul(b, transposeSelf: true).isClose(to: c, tolerance: 1e-4))
            XCTAssertTrue(a.matmul(b.transposed(), transposeOther: true).isClose(to: c, tolerance: 1e-4))
        }
        // Batched: each batch item is its own product.
        let a = random([3, 4, 5], 3), b = random([3, 5, 2], 4)
        let c = a.matmul(b)
        for i in 0..<3 {
            let ci = a.slice(axis: 0, i..<(i + 1)).reshaped([4, 5]).matmul(b.slice(axis: 0, i..<(i + 1)).reshaped([5, 2]))
            XCTAssertTrue(c.slice(axis: 0, i..<(i + 1)).reshaped([4, 2]).isClose(to: ci, tolerance: 1e-5))
        }
    }

    func testBroadcastArithmetic() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual((a + Tensor(shape: [3], scalars: [10, 20, 30])).scalars, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual((Tensor(shape: [3], scalars: [10, 20, 30]) - a).scalars, [9, 18, 27, 6, 15, 24])
        XCTAssertEqual((a * Tensor(shape: [2, 1], scalars: [2, 3])).scalars, [2, 4, 6, 12, 15, 18])
        XCTAssertEqual((Tensor(shape: [2, 1], scalars: [1, 2]) + Tensor(shape: [1, 3], scalars: [0, 10, 20])).scalars,
                       [1, 11, 21, 2, 12, 22])
        XCTAssertEqual((a / 2).scalars, [0.5, 1, 1.5, 2, 2.5, 3])
    }

    func testReductions() {
        let x = Tensor.arange(0, 24).reshaped([2, 3, 4])
        XCTAssertEqual(x.sum().scalar, 276)
        XCTAssertEqual(x.sum(axis: 2).scalars, [6, 22, 38, 54, 70, 86])
        XCTAssertEqual(x.sum(axes: [0, 2]).scalars, [60, 92, 124])
        XCTAssertEqual(x.mean(axis: 0).shape, [3, 4])
        XCTAssertEqual(x.max(axis: 1).scalars, [8, 9, 10, 11, 20, 21, 22, 23])
        XCTAssertEqual(x.argmax(axis: 2), [3, 3, 3, 3, 3, 3])
        let lse = Tensor(shape: [1, 3], scalars: [1, 2, 3]).logSumExp(axis: 1).scalar
        XCTAssertEqual(lse, Float(Foundation.log(Foundation.exp(1.0) + Foundation.exp(2.0) + Foundation.exp(3.0))), accuracy: 1e-6)
        let big = Tensor(shape: [2], scalars: [1000, 1000]).reshaped([1, 2]).logSumExp(axis: 1).scalar
        XCTAssertEqual(big, 1000 + Float(Foundation.log(2.0)), accuracy: 1e-3)
    }

    func testLayoutOps() {
        let x = Tensor.arange(0, 24).reshaped([2, 3, 4])
        let p = x.permuted([2, 0, 1])  // [4, 2, 3]
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 {
            XCTAssertEqual(p[flat: (k * 2 + i) * 3 + j], x[flat: (i * 3 + j) * 4 + k])
        } } }
        XCTAssertEqual(x.slice(axis: 1, 1..<2).scalars, [4, 5, 6, 7, 16, 17, 18, 19])
        let parts = x.split(axis: 2, sizes: [1, 3])
        XCTAssertEqual(Tensor.concat(parts, axis: 2).scalars, x.scalars)
        XCTAssertEqual(Tensor(shape: [2, 1], scalars: [1, 2]).broadcast(to: [2, 3]).scalars, [1, 1, 1, 2, 2, 2])
        XCTAssertEqual(x.transposed(0, 2).shape, [4, 3, 2])
    }

    func testSoftmaxAndCrossEntropyClosedForms() {
        let x = Tensor(shape: [2, 3], scalars: [0, 0, 0, 1, 2, 3])
        let s = x.softmax()
        XCTAssertEqual(s[flat: 0], 1.0 / 3, accuracy: 1e-7)
        let z = Foundation.exp(1.0) + Foundation.exp(2.0) + Foundation.exp(3.0)
        XCTAssertEqual(s[flat: 5], Float(Foundation.exp(3.0) / z), accuracy: 1e-6)
        XCTAssertEqual(x.logSoftmax()[flat: 3], Float(1 - Foundation.log(z)), accuracy: 1e-6)
        // CE of uniform logits is log C; with smoothing the targets do not matter for uniform logits.
        let (loss, grad) = Tensor.softmaxCrossEntropy(logits: Tensor.zeros([4, 5]), targets: [0, 1, 2, 3], labelSmoothing: 0.1)
        XCTAssertEqual(loss, Float(Foundation.log(5.0)), accuracy: 1e-6)
        // grad row = (p − q)/N with q = 0.9·onehot + 0.02
        XCTAssertEqual(grad[flat: 0], (0.2 - 0.92) / 4, accuracy: 1e-7)
        XCTAssertEqual(grad[flat: 1], (0.2 - 0.02) / 4, accuracy: 1e-7)
    }

    func testLayerNormClosedForm() {
        let x = Tensor(shape: [1, 4], scalars: [1, 2, 3, 4])
        let (y, mean, rstd) = LayerNormKernel.forward(x, gamma: .ones([4]), beta: .full([4], 0.5))
        let sd = (1.25 + 1e-5).squareRoot()
        XCTAssertEqual(mean.scalar, 2.5)
        XCTAssertEqual(rstd.scalar, Float(1 / sd), accuracy: 1e-6)
        XCTAssertEqual(y.scalars[0], Float(-1.5 / sd) + 0.5, accuracy: 1e-6)
        XCTAssertEqual(y.scalars[3], Float(1.5 / sd) + 0.5, accuracy: 1e-6)
    }

    func testAttentionMatchesComposedOps() {
        let (b, t, w, heads) = (2, 5, 8, 2)
        let dh = w / heads
        let qkv = random([b, t, 3 * w], 7)
        let mask = AttentionKernel.causalMask(t)
        let (out, _) = AttentionKernel.forward(qkv: qkv, heads: heads, mask: mask)
        for bi in 0..<b { for h in 0..<heads {
            let item = qkv.slice(axis: 0, bi..<(bi + 1)).reshaped([t, 3 * w])
            let q = item.slice(axis: 1, (h * dh)..<((h + 1) * dh))
            let k = item.slice(axis: 1, (w + h * dh)..<(w + (h + 1) * dh))
            let v = item.slice(axis: 1, (2 * w + h * dh)..<(2 * w + (h + 1) * dh))
            let p = (q.matmul(k, transposeOther: true) / Float(dh).squareRoot() + mask).softmax()
            let expected = p.matmul(v)
            let got = out.slice(axis: 0, bi..<(bi + 1)).reshaped([t, w]).slice(axis: 1, (h * dh)..<((h + 1) * dh))
            XCTAssertTrue(got.isClose(to: expected, tolerance: 1e-5), "batch \(bi) head \(h)")
        } }
        // Causal: the first query attends only to itself → output equals v of token 0.
        let v0 = qkv.slice(axis: 0, 0..<1).reshaped([t, 3 * w]).slice(axis: 1, (2 * w)..<(3 * w)).slice(axis: 0, 0..<1)
        XCTAssertTrue(out.slice(axis: 0, 0..<1).reshaped([t, w]).slice(axis: 0, 0..<1).isClose(to: v0, tolerance: 1e-6))
    }

    func testConvolutionMatchesDirectLoops() {
        let x = random([2, 7, 6, 3], 8), wt = random([4, 3, 3, 3], 9)
        let (stride, pad) = (2, 1)
        let geo = Conv2DGeometry(input: x.shape, weight: wt.shape, stride: stride, padding: pad)
        let y = ConvolutionKernel.im2col(x, geo).matmul(wt.reshaped([4, 27]), transposeOther: true)
        for b in 0..<2 { for oy in 0..<geo.outHeight { for ox in 0..<geo.outWidth { for o in 0..<4 {
            var s: Float = 0
            for c in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy * stride - pad + ky, ix = ox * stride - pad + kx
                if iy < 0 || iy >= 7 || ix < 0 || ix >= 6 { continue }
                s += x[flat: ((b * 7 + iy) * 6 + ix) * 3 + c] * wt[flat: ((o * 3 + c) * 3 + ky) * 3 + kx]
            } } }
            XCTAssertEqual(y[flat: ((b * geo.outHeight + oy) * geo.outWidth + ox) * 4 + o], s, accuracy: 1e-4)
        } } } }
        let pooled = ConvolutionKernel.avgPool(Tensor.arange(0, 16).reshaped([1, 4, 4, 1]), kernel: 2, stride: 2)
        XCTAssertEqual(pooled.scalars, [2.5, 4.5, 10.5, 12.5])
    }

    func testEmbeddingGatherScatterTopK() {
        let table = Tensor.arange(0, 6).reshaped([3, 2])
        XCTAssertEqual(table.gatherRows([2, 0, 2]).scalars, [4, 5, 0, 1, 4, 5])
        XCTAssertEqual(Tensor.scatterAddRows(.ones([3, 2]), indices: [2, 0, 2], shape: [3, 2]).scalars, [1, 1, 0, 0, 2, 2])
        let (values, indices) = Tensor(shape: [1, 5], scalars: [3, 9, 1, 9, 4]).topK(3)
        XCTAssertEqual(values.scalars, [9, 9, 4])
        XCTAssertEqual(indices, [[1, 3, 4]])
    }

    func testShapeMismatchIsReportedInTheMessage() {
        XCTAssertEqual(Shape.broadcast([2, 1], [3]), [2, 3])
        XCTAssertEqual(Tensor.zeros([2, 3]).reshaped([3, -1]).shape, [3, 2])
    }
}

private extension Double { var floatValue: Float { Float(self) } }
