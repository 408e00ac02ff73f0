import Foundation
@testable import Objectives
import TestSupport
import XCTest

final class LongCLIPTests: XCTestCase {
    /// The reference table, bit for bit (fixture computed in float64, rounded once).
    func testStretchMatchesFixtureExactly() throws {
        let f = try Fixture("longclip-stretch")
        let stretched = LongCLIP.stretchPositionalEmbedding(f["positional_embedding"])
        XCTAssertEqual(stretched.shape, [248, 16])
        XCTAssertEqual(stretched.scalars, f["expected.stretched"].scalars)
    }

    /// Closed forms: a linear ramp PE[p] = p·a + c stays linear at quarter steps.
    func testStretchClosedForm() {
        let w = 3
        var ramp: [Float] = []
        for p in 0..<77 { for c in 0..<w { ramp.append(Float(p) * Float(c + 1) + Float(c)) } }
        let pe = Tensor(shape: [77, w], scalars: ramp)
        let s = LongCLIP.stretchPositionalEmbedding(pe)
        for c in 0..<w {
            let a = Float(c + 1), off = Float(c)
            for p in 0..<20 { XCTAssertEqual(s[flat: p * w + c], pe[flat: p * w + c]) }
            for q in 20..<248 {
                // position q maps to source position 20 + (q − 20)/4 (extrapolated past 76)
                let source = 20 + Float(q - 20) / 4
                XCTAssertEqual(s[flat: q * w + c], source * a + off, accuracy: 1e-4, "row \(q)")
            }
        }
        // Every 4th row from 20 on is an original row; the last four extrapolate from 75 → 76.
        for i in 0..<57 where 20 + 4 * i < 248 { XCTAssertEqual(s[flat: (20 + 4 * i) * w], pe[flat: (20 + i) * w]) }
        XCTAssertEqual(LongCLIP.frozenPositions, 0..<20)
        var g = Tensor.ones([248, 2])
        LongCLIP.zeroFrozenRows(of: &g)
        XCTAssertEqual(g.sum().scalar, Float(228 * 2))
        XCTAssertEqual(LongCLIP.trainableRowMask.sum().scalar, 228)
    }

    /// The two parameter hooks of `model.stretch_positional_embedding`.
    func testStretchOnLoadAndFrozenRows() throws {
        var pe = [Float](repeating: 0, count: 77 * 2)
        for i in pe.indices { pe[i] = Float(i) }
        var tensors = ["positional_embedding": Tensor(shape: [77, 2], scalars: pe), "other": Tensor.ones([3])]
        try LongCLIP.stretchOnLoad(&tensors, contextLength: 77)
        XCTAssertEqual(tensors["positional_embedding"]!.scalars, pe, "a fitting embedding stays")
        try LongCLIP.stretchOnLoad(&tensors, contextLength: 248)
        XCTAssertEqual(tensors["positional_embedding"]!.scalars,
                       LongCLIP.stretchPositionalEmbedding(Tensor(shape: [77, 2], scalars: pe)).scalars)
        XCTAssertEqual(tensors["other"]!.scalars, [1, 1, 1])
        var wrong = ["positional_embedding": Tensor(shape: [77, 2], scalars: pe)]
        XCTAssertThrowsError(try LongCLIP.stretchOnLoad(&wrong, contextLength: 100)) {
            XCTAssertEqual("\($0)", "model.stretch_positional_embedding: the stretched embedding has 248 positions but the model config's text context_length is 100")
        }
        let v = Variable(Tensor.zeros([248, 2]), requiresGrad: true)
        LongCLIP.freezeRows(of: v)
        XCTAssertNil(v.grad, "no gradient, nothing to freeze")
        v.grad = Tensor.ones([248, 2])
        LongCLIP.freezeRows(of: v)
        let g = v.grad!.scalars
        XCTAssertEqual(Array(g[..<40]), [Float](repeating: 0, count: 40))
        XCTAssertEqual(Array(g[40...]), [Float](repeating: 1, count: 228 * 2))
    }

    /// Eigen-decomposition: A v = λ v, orthonormal vectors, descending values, on random matrices.
    func testSymmetricEigen() {
        for n in [1, 2, 5, 40, 100] {
            var rng = RandomGenerator(seed: UInt64(n))
            var a = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for j in 0...i { let v = Double(rng.nextNormal()); a[i * n + j] = v; a[j * n + i] = v } }
            let e = SymmetricEigen(a, n: n)
            for i in 1..<max(n, 1) { XCTAssertGreaterThanOrEqual(e.values[i - 1], e.values[i]) }
            for p in 0..<n {
                for q in 0..<n {
                    var dot = 0.0
                    for c in 0..<n { dot += e.vectors[p * n + c] * e.vectors[q * n + c] }
                    XCTAssertEqual(dot, p == q ? 1 : 0, accuracy: 1e-12)
                }
                for r in 0..<n {
                    var av = 0.0
                    for c in 0..<n { av += a[r * n + c] * e.vectors[p * n + c] }
                    XCTAssertEqual(av, e.values[p] * e.vectors[p * n + r], accuracy: 1e-11)
                }
            }
        }
        // Repeated eigenvalues (identity plus a rank-one term).
        let n = 6
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { a[i * n + i] = 1; for j in 0..<n { a[i * n + j] += 2 } }
        XCTAssertEqual(SymmetricEigen(a, n: n).values, [13, 1, 1, 1, 1, 1].map(Double.init), accuracy: 1e-12)
    }

    /// The Gram (B < D) and covariance (B ≥ D) paths find the same principal subspace:
    /// repeating the rows of a wide matrix keeps its centered row space but switches the path.
    func testPrincipalComponentsBothPaths() {
        let wide = GradientCheck.random([8, 20], seed: 5)                  // Gram path (8 < 20)
        let tall = Tensor.concat([wide, wide, wide], axis: 0)               // covariance path (24 ≥ 20)
        let pw = LongCLIPObjective.principalComponents(wide, count: 4)
        let pt = LongCLIPObjective.principalComponents(tall, count: 4)
        XCTAssertEqual(pw.shape, [20, 4])
        XCTAssertLessThan(pw.matmul(pw, transposeOther: true).maxAbsDifference(pt.matmul(pt, transposeOther: true)), 1e-5)
        // Rank 7 after centering: asking for 32 gives the 7 components with nonzero singular value.
        XCTAssertEqual(LongCLIPObjective.principalComponents(wide, count: 32).shape, [20, 7])
    }

    /// B = 1: nothing to project; xS is xL itself.
    func testSingleSampleBatch() {
        let x = Variable(GradientCheck.random([1, 4], seed: 1), requiresGrad: true)
        let xs = LongCLIPObjective.shortImageFeatures(x, components: 32)
        XCTAssertEqual(xs.value.scalars, x.value.scalars)
        let loss = LongCLIPObjective().loss(Features(image: x, text: Variable(GradientCheck.random([1, 4], seed: 2)),
                                                     extraTexts: [Variable(GradientCheck.random([1, 4], seed: 3))]),
                                            ObjectiveScalars(logitScale: Variable(Tensor(2))))
        XCTAssertEqual(loss.value.scalar, 0, accuracy: 1e-6)
    }
}

func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
