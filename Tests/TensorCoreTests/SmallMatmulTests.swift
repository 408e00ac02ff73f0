import Foundation
import TensorCore
import XCTest

/// The register-blocked products of narrow-head attention and the row reductions softmax uses,
/// against double-precision loops and the BLAS path.
final class SmallMatmulTests: XCTestCase {
    func random(_ shape: [Int], _ seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return .randomNormal(shape, using: &rng)
    }

    /// Every blocking path (2 rows × 32 / 8 / 1 columns, the odd last row), A plain and transposed
    /// through its strides, leading dimensions wider than the matrices: |C − C₆₄| within the fp32
    /// summation bound k·ε·Σ|a||b|, and columns past n untouched.
    func testMatchesDoublePrecisionLoops() {
        for (m, n, k, transA) in [(1, 1, 1, false), (2, 32, 5, false), (3, 41, 7, true), (25, 25, 32, false),
                                  (16, 32, 16, true), (7, 72, 3, true), (65, 65, 64, false)] {
            let (lda, ldb, ldc) = (Swift.max(m, k) + 3, n + 2, n + 5)
            let a = random([Swift.max(m, k) * lda], UInt64(m * 100 + n)), b = random([k * ldb], UInt64(k * 7 + n))
            let c = Tensor.full([m * ldc], 12345)
            let (aRow, aCol) = transA ? (1, lda) : (lda, 1)   // transA: A = Xᵀ for X [k, m] with leading dimension lda
            SmallMatmul.run(m: m, n: n, k: k, alpha: 0.5, a: a.pointer, aRow: aRow, aCol: aCol,
                            b: b.pointer, ldb: ldb, c: c.pointer, ldc: ldc)
            for i in 0..<m {
                for j in 0..<ldc {
                    let got = c.pointer[i * ldc + j]
                    if j >= n { XCTAssertEqual(got, 12345, "\(m)×\(n)×\(k): padding written"); continue }
                    var exact = 0.0, magnitude = 0.0
                    for p in 0..<k {
                        let product = Double(a.pointer[i * aRow + p * aCol]) * Double(b.pointer[p * ldb + j])
                        exact += product; magnitude += abs(product)
                    }
                    XCTAssertEqual(Double(got), 0.5 * exact, accuracy: 0.5 * Double(k + 1) * Double(Float.ulpOfOne) * magnitude,
                                   "\(m)×\(n)×\(k) transA \(transA) at [\(i), \(j)]")
                }
            }
        }
    }

    /// Attention through the register-blocked products equals the BLAS path (forward output,
    /// probabilities and the gradient of qkv) up to fp32 summation order, masked and unmasked, in
    /// fp32 and in bf16 (where both round the same inputs to bf16).
    func testRegisterBlockedAttentionMatchesBLAS() {
        for (b, t, w, heads, causal) in [(2, 25, 64, 2, false), (3, 16, 96, 3, true), (1, 7, 24, 2, false), (2, 33, 40, 4, true)] {
            let qkv = random([b, t, 3 * w], UInt64(t * w)), dout = random([b, t, w], UInt64(t + w))
            let mask = causal ? AttentionKernel.causalMask(t) : nil
            for precision in MatmulPrecision.allCases {
                MatmulPrecision.with(precision) {
                    let what = "B\(b) T\(t) W\(w) H\(heads) causal \(causal) \(precision)"
                    let fast = AttentionKernel.forward(qkv: qkv, heads: heads, mask: mask, products: .registerBlocked)
                    let blas = AttentionKernel.forward(qkv: qkv, heads: heads, mask: mask, products: .blas)
                    XCTAssertTrue(fast.out.isClose(to: blas.out, tolerance: 2e-5), what)
                    XCTAssertTrue(fast.probs.isClose(to: blas.probs, tolerance: 2e-6), what)
                    let gFast = AttentionKernel.backward(qkv: qkv, probs: blas.probs, heads: heads, dout: dout, products: .registerBlocked)
                    let gBLAS = AttentionKernel.backward(qkv: qkv, probs: blas.probs, heads: heads, dout: dout, products: .blas)
                    XCTAssertTrue(gFast.isClose(to: gBLAS, tolerance: 2e-5), what)
                }
            }
        }
    }

    /// In bf16 the register-blocked products really take bf16-rounded inputs.
    func testBF16RegisterBlockedAttentionRoundsItsInputs() {
        let qkv = random([2, 25, 3 * 64], 5)
        let fp32 = AttentionKernel.forward(qkv: qkv, heads: 2, products: .registerBlocked).out
        let bf16 = MatmulPrecision.with(.bf16) { AttentionKernel.forward(qkv: qkv, heads: 2, products: .registerBlocked).out }
        let difference = zip(fp32.scalars, bf16.scalars).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(difference, 1e-4, "bf16 gave fp32's result")
        XCTAssertLessThan(difference, 0.1)
    }

    /// Softmax rows of every length class (shorter than a vector, whole vectors, a partial last
    /// vector that overlaps the previous one), with −∞ entries and a fully masked row, against
    /// Float64: within 1e-6 relative (the exp polynomial's ≈ 2e-7 plus the sum's rounding).
    func testSoftmaxRowsMatchDoublePrecision() {
        for n in [1, 7, 15, 16, 17, 31, 32, 33, 64, 65, 77, 197] {
            let x = random([4, n], UInt64(1000 + n))
            for j in stride(from: 1, to: n, by: 3) { x.pointer[n + j] = -.infinity }   // row 1: a third masked
            for j in 0..<n { x.pointer[2 * n + j] = -.infinity }                        // row 2: all masked
            let y = x.softmax()
            for r in 0..<4 {
                let row = (0..<n).map { Double(x.pointer[r * n + $0]) }
                let top = row.max()!
                let e = row.map { top == -.infinity ? 1 : Foundation.exp($0 - top) }
                let sum = e.reduce(0, +)
                for j in 0..<n {
                    let exact = e[j] / sum
                    XCTAssertEqual(Double(y.pointer[r * n + j]), exact, accuracy: 1e-6 * exact + 1e-37, "n \(n) row \(r) column \(j)")
                }
            }
        }
    }

    /// The row maximum softmax starts from: tails of every length, −∞ rows, NaNs skipped as folding
    /// with `Swift.max` does.
    func testMaxVectorized() {
        for n in [0, 1, 5, 15, 16, 17, 31, 32, 33, 65] {
            let x = random([Swift.max(n, 1)], UInt64(n))
            let expected = (0..<n).reduce(-Float.infinity) { Swift.max($0, x.pointer[$1]) }
            XCTAssertEqual(maxVectorized(x.pointer, n), expected, "n = \(n)")
            if n > 2 {
                x.pointer[n - 1] = 1000; x.pointer[1] = .nan
                XCTAssertEqual(maxVectorized(x.pointer, n), 1000, "n = \(n)")
            }
        }
        let masked = Tensor.full([20], -.infinity)
        XCTAssertEqual(maxVectorized(masked.pointer, 20), -.infinity)
    }
}
