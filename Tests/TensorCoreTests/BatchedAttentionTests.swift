import Foundation
@testable import TensorCore   // BatchedAttention: the bf16-as-rounded-fp32 variant where bf16 is native
import XCTest

/// Attention with batched products (one oneDNN call per product for all heads of a block of batch
/// items) against a double-precision oracle and against the per-head path, forward and backward,
/// masked and unmasked, in fp32 and bf16.
final class BatchedAttentionTests: XCTestCase {
    enum Mask { case none, causal, perItem }

    /// Shapes: tiny's vision tower (T = 65, 64-wide heads; 3 items per call, so two calls, the last
    /// partial); tiny's text tower (causal); odd token counts and a per-item mask; one token; heads
    /// of 40; the quickstart's 32-wide heads.
    static let cases: [(b: Int, t: Int, w: Int, heads: Int, mask: Mask)] = [
        (4, 65, 256, 4, .none), (2, 32, 256, 4, .causal), (7, 13, 192, 3, .perItem), (3, 1, 64, 1, .none),
        (4, 9, 80, 2, .causal), (5, 25, 128, 4, .perItem),
    ]

    func random(_ shape: [Int], _ seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return .randomNormal(shape, using: &rng)
    }

    func mask(_ kind: Mask, b: Int, t: Int, seed: UInt64) -> Tensor? {
        switch kind {
        case .none: return nil
        case .causal: return AttentionKernel.causalMask(t)
        case .perItem:   // random additive values, a third of them −∞ (never the diagonal)
            let m = random([b, t, t], seed)
            for i in 0..<b { for r in 0..<t { for c in 0..<t where c != r && (i + r + c) % 3 == 0 {
                m.pointer[(i * t + r) * t + c] = -.infinity
            } } }
            return m
        }
    }

    /// The batched products ran (oneDNN has a kernel for them here), else the test is skipped.
    func requireBatched(b: Int, t: Int, w: Int, heads: Int, precision: MatmulPrecision = .fp32) throws {
        let available = BatchedAttention(batch: b, tokens: t, width: w, heads: heads, precision: precision,
                                         requireBatchedKernel: false, backward: true) != nil
        try XCTSkipUnless(available, "oneDNN has no matmul kernel for batched attention on this CPU (\(BF16Engine.cpuISA))")
    }

    /// fp32: output, probabilities and the gradient of qkv within 2e-5 / 2e-6 / 2e-5 of a Float64
    /// evaluation of the same formulas (the bounds the attention tests already use between paths).
    func testMatchesDoublePrecisionOracle() throws {
        for (i, c) in Self.cases.enumerated() {
            try requireBatched(b: c.b, t: c.t, w: c.w, heads: c.heads)
            let qkv = random([c.b, c.t, 3 * c.w], UInt64(100 + i)), dout = random([c.b, c.t, c.w], UInt64(200 + i))
            let m = mask(c.mask, b: c.b, t: c.t, seed: UInt64(300 + i))
            let what = "B\(c.b) T\(c.t) W\(c.w) H\(c.heads) mask \(c.mask)"
            let (out, probs) = AttentionKernel.forward(qkv: qkv, heads: c.heads, mask: m, products: .batched)
            let grad = AttentionKernel.backward(qkv: qkv, probs: probs, heads: c.heads, dout: dout, products: .batched)
            let exact = AttentionOracle(qkv: qkv, heads: c.heads, mask: m, dout: dout)
            XCTAssertLessThanOrEqual(exact.out.maxDifference(out), 2e-5, what)
            XCTAssertLessThanOrEqual(exact.probs.maxDifference(probs), 2e-6, what)
            XCTAssertLessThanOrEqual(exact.dqkv.maxDifference(grad), 2e-5, what)
        }
    }

    /// The batched products agree with one BLAS call per head within the same bounds, in fp32 and
    /// in bf16 (both round the same inputs to bf16 and accumulate in fp32); and so does the bf16
    /// variant that holds bf16 values in fp32 (the path of CPUs without native bf16), but for
    /// rare rounding flips where the per-head path is native bf16.
    func testMatchesThePerHeadPath() throws {
        for (i, c) in Self.cases.enumerated() {
            try requireBatched(b: c.b, t: c.t, w: c.w, heads: c.heads)
            let qkv = random([c.b, c.t, 3 * c.w], UInt64(400 + i)), dout = random([c.b, c.t, c.w], UInt64(500 + i))
            let m = mask(c.mask, b: c.b, t: c.t, seed: UInt64(600 + i))
            for precision in MatmulPrecision.allCases {
                MatmulPrecision.with(precision) {
                    let what = "B\(c.b) T\(c.t) W\(c.w) H\(c.heads) mask \(c.mask) \(precision)"
                    let perHead = AttentionKernel.forward(qkv: qkv, heads: c.heads, mask: m, products: .blas)
                    let batched = AttentionKernel.forward(qkv: qkv, heads: c.heads, mask: m, products: .batched)
                    XCTAssertLessThanOrEqual(batched.out.maxAbsDifference(perHead.out), 2e-5, what)
                    XCTAssertLessThanOrEqual(batched.probs.maxAbsDifference(perHead.probs), 2e-6, what)
                    let gPerHead = AttentionKernel.backward(qkv: qkv, probs: perHead.probs, heads: c.heads, dout: dout, products: .blas)
                    let gBatched = AttentionKernel.backward(qkv: qkv, probs: perHead.probs, heads: c.heads, dout: dout, products: .batched)
                    XCTAssertLessThanOrEqual(gBatched.maxAbsDifference(gPerHead), 2e-5, what)
                    guard precision == .bf16 else { return }
                    // The portable variant (bf16 values in fp32, oneDNN's f32 kernel) computes the same.
                    let portable = BatchedAttention(batch: c.b, tokens: c.t, width: c.w, heads: c.heads, precision: .bf16,
                                                    bf16Path: .portable, requireBatchedKernel: false, backward: true)!
                    let out = Tensor.zeros([c.b, c.t, c.w]), probs = Tensor.zeros([c.b, c.heads, c.t, c.t])
                    portable.forward(qkv: qkv.pointer, mask: m.map { UnsafePointer($0.pointer) }, maskStride: m?.rank == 3 ? c.t * c.t : 0,
                                     out: out.pointer, probs: probs.pointer)
                    let grad = Tensor.zeros(qkv.shape)
                    portable.backward(qkv: qkv.pointer, probs: perHead.probs.pointer, dout: dout.pointer, dqkv: grad.pointer)
                    assertClose(out, perHead.out, 2e-5, exceptRoundingFlips: true, what + " portable")
                    assertClose(probs, perHead.probs, 2e-6, exceptRoundingFlips: false, what + " portable")
                    assertClose(grad, gPerHead, 2e-5, exceptRoundingFlips: true, what + " portable")
                    withExtendedLifetime((m, out, probs, grad)) {}
                }
            }
        }
    }

    /// |x − y| ≤ `tolerance` element-wise. With `exceptRoundingFlips`, up to 0.1% of the elements may
    /// differ by up to 2e-3 instead: two bf16 paths that accumulate in different orders can round
    /// a P or dS element lying near a bf16 rounding boundary different ways, which moves the next
    /// product by one bf16 step (2^-8 relative) of that term.
    func assertClose(_ x: Tensor, _ y: Tensor, _ tolerance: Float, exceptRoundingFlips: Bool, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        let differences = zip(x.scalars, y.scalars).map { Swift.abs($0 - $1) }
        guard exceptRoundingFlips else {
            XCTAssertLessThanOrEqual(differences.max() ?? 0, tolerance, what, file: file, line: line)
            return
        }
        let flips = differences.filter { $0 > tolerance }.count
        XCTAssertLessThanOrEqual(Double(flips), 1e-3 * Double(differences.count), what + ": \(flips) elements", file: file, line: line)
        XCTAssertLessThanOrEqual(differences.max() ?? 0, 2e-3, what, file: file, line: line)
    }

    /// In bf16 the batched products really take bf16-rounded inputs (they differ from fp32 by
    /// bf16's rounding, not by fp32's).
    func testBF16RoundsItsInputs() throws {
        let (b, t, w, heads) = (2, 65, 128, 2)
        try requireBatched(b: b, t: t, w: w, heads: heads, precision: .bf16)
        let qkv = random([b, t, 3 * w], 7), dout = random([b, t, w], 8)
        let fp32 = AttentionKernel.forward(qkv: qkv, heads: heads, products: .batched)
        let bf16 = MatmulPrecision.with(.bf16) { AttentionKernel.forward(qkv: qkv, heads: heads, products: .batched) }
        let difference = fp32.out.maxAbsDifference(bf16.out)
        XCTAssertGreaterThan(difference, 1e-4, "bf16 gave fp32's result")
        XCTAssertLessThan(difference, 0.1)
        let g32 = AttentionKernel.backward(qkv: qkv, probs: fp32.probs, heads: heads, dout: dout, products: .batched)
        let g16 = MatmulPrecision.with(.bf16) {
            AttentionKernel.backward(qkv: qkv, probs: fp32.probs, heads: heads, dout: dout, products: .batched)
        }
        XCTAssertGreaterThan(g32.maxAbsDifference(g16), 1e-4, "bf16 backward gave fp32's result")
        XCTAssertLessThan(g32.maxAbsDifference(g16), 0.1)
    }

    /// Bit-identical results with one thread and with two, in fp32 and bf16 (blocks are fixed by the
    /// shape; each oneDNN call runs on one thread).
    func testResultsDoNotDependOnThreadCount() throws {
        let (b, t, w, heads) = (7, 65, 256, 4)   // three calls, the last partial
        try requireBatched(b: b, t: t, w: w, heads: heads)
        let items = BatchedAttention.itemsPerBlock(tokens: t, width: w, heads: heads, batch: b)
        XCTAssertTrue(items > 1 && b % items != 0, "\(items) items per call: no partial last call")
        let qkv = random([b, t, 3 * w], 9), dout = random([b, t, w], 10)
        for precision in MatmulPrecision.allCases {
            func run() -> [Float] {
                MatmulPrecision.with(precision) {
                    let (out, probs) = AttentionKernel.forward(qkv: qkv, heads: heads, mask: AttentionKernel.causalMask(t), products: .batched)
                    return out.scalars + probs.scalars
                        + AttentionKernel.backward(qkv: qkv, probs: probs, heads: heads, dout: dout, products: .batched).scalars
                }
            }
            let one = Parallel.withThreadBudget(1) { run() }
            let two = Parallel.withThreadBudget(2) { run() }
            XCTAssertEqual(one, two, "\(precision)")
            XCTAssertEqual(run(), two, "\(precision)")
        }
    }

    /// By default the batched products run wherever oneDNN has batched kernels for them (AVX-512) —
    /// for narrow heads too, not for the fp32 backward of wider heads; elsewhere narrow heads keep
    /// the register-blocked loops and wide heads one BLAS call per head.
    func testDefaultChoice() {
        XCTAssertEqual(AttentionKernel.Products.perHeadChoice(tokens: 25, headWidth: 32), .registerBlocked)
        XCTAssertEqual(AttentionKernel.Products.perHeadChoice(tokens: 65, headWidth: 64), .blas)
        let avx512 = BF16Engine.cpuISA.hasPrefix("avx512")
        for precision in MatmulPrecision.allCases {
            MatmulPrecision.with(precision) {
                for (t, w, heads) in [(65, 256, 4), (25, 128, 4)] {
                    for backward in [false, true] {
                        let plan = AttentionKernel.plan(nil, batch: 4, tokens: t, width: w, heads: heads, backward: backward)
                        let what = "T\(t) W\(w) H\(heads) \(precision) backward \(backward)"
                        if backward && precision == .fp32 && w / heads > 32 {
                            XCTAssertNil(plan.batched, what)
                            XCTAssertEqual(plan.perHead, .blas, what)
                        } else if avx512 && (precision == .fp32 || BF16Engine.detected.isNative) {
                            XCTAssertNotNil(plan.batched, what)
                        }
                    }
                }
            }
        }
        XCTAssertNil(AttentionKernel.plan(.blas, batch: 4, tokens: 65, width: 256, heads: 4, backward: false).batched)
        let summary = AttentionKernel.productsSummary(batch: 4, tokens: 65, width: 256, heads: 4)
        if avx512 { XCTAssertTrue(summary.hasPrefix("forward: oneDNN batched brg:") && summary.hasSuffix("backward: one GEMM call per head"), summary) }
    }
}

/// Attention in Float64: `S = Q Kᵀ / √Dh + mask`, `P = softmax(S)`, `O = P V`, and the gradient of
/// qkv for `dout` (`dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`, `dQ = dS K / √Dh`,
/// `dK = dSᵀ Q / √Dh`), one head at a time with plain loops.
struct AttentionOracle {
    var out: [Double] = [], probs: [Double] = [], dqkv: [Double] = []

    init(qkv: Tensor, heads: Int, mask: Tensor?, dout: Tensor) {
        let (b, t, w3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
        let w = w3 / 3, dh = w / heads
        let scale = 1 / Double(dh).squareRoot()
        let x = qkv.scalars.map(Double.init), g = dout.scalars.map(Double.init)
        let m = mask?.scalars.map(Double.init)
        out = .init(repeating: 0, count: b * t * w)
        probs = .init(repeating: 0, count: b * heads * t * t)
        dqkv = .init(repeating: 0, count: b * t * w3)
        for bi in 0..<b {
            for h in 0..<heads {
                func q(_ i: Int, _ d: Int) -> Double { x[(bi * t + i) * w3 + h * dh + d] }
                func k(_ i: Int, _ d: Int) -> Double { x[(bi * t + i) * w3 + w + h * dh + d] }
                func v(_ i: Int, _ d: Int) -> Double { x[(bi * t + i) * w3 + 2 * w + h * dh + d] }
                func go(_ i: Int, _ d: Int) -> Double { g[(bi * t + i) * w + h * dh + d] }
                var p = [Double](repeating: 0, count: t * t)
                for i in 0..<t {
                    for j in 0..<t {
                        var s = 0.0
                        for d in 0..<dh { s += q(i, d) * k(j, d) }
                        p[i * t + j] = s * scale + (m.map { $0[(mask!.rank == 3 ? bi * t * t : 0) + i * t + j] } ?? 0)
                    }
                    let top = p[(i * t)..<(i * t + t)].max()!
                    var sum = 0.0
                    for j in 0..<t { p[i * t + j] = Foundation.exp(p[i * t + j] - top); sum += p[i * t + j] }
                    for j in 0..<t { p[i * t + j] /= sum }
                }
                for i in 0..<(t * t) { probs[(bi * heads + h) * t * t + i] = p[i] }
                var ds = [Double](repeating: 0, count: t * t)
                for i in 0..<t {
                    for d in 0..<dh {
                        var o = 0.0
                        for j in 0..<t { o += p[i * t + j] * v(j, d) }
                        out[(bi * t + i) * w + h * dh + d] = o
                    }
                    var rowDot = 0.0
                    for j in 0..<t {
                        var dp = 0.0
                        for d in 0..<dh { dp += go(i, d) * v(j, d) }
                        ds[i * t + j] = dp
                        rowDot += dp * p[i * t + j]
                    }
                    for j in 0..<t { ds[i * t + j] = p[i * t + j] * (ds[i * t + j] - rowDot) }
                }
                for i in 0..<t {
                    for d in 0..<dh {
                        var dq = 0.0, dk = 0.0, dv = 0.0
                        for j in 0..<t {
                            dq += ds[i * t + j] * k(j, d)
                            dk += ds[j * t + i] * q(j, d)
                            dv += p[j * t + i] * go(j, d)
                        }
                        let row = (bi * t + i) * w3 + h * dh + d
                        dqkv[row] = dq * scale
                        dqkv[row + w] = dk * scale
                        dqkv[row + 2 * w] = dv
                    }
                }
            }
        }
    }
}

extension Array where Element == Double {
    /// max |self[i] − t[i]|, over equal counts.
    func maxDifference(_ t: Tensor) -> Double {
        precondition(count == t.count, "oracle has \(count) values, tensor \(t.count)")
        var m = 0.0
        for i in 0..<count { m = Swift.max(m, Swift.abs(self[i] - Double(t.pointer[i]))) }
        return m
    }
}
