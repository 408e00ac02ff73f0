import Foundation
import Objectives
import TestSupport
import XCTest

/// The blocked FILIP kernel against a naive implementation: all similarities at once
/// ([B·n1, B·n2], exactly what the blocked kernel avoids), then plain loops over the
/// definition. The blocked kernel runs GEMMs of other shapes than the naive one, and BLAS kernel
/// sets (AVX2, AVX-512, small-matrix paths) sum a dot product in shape-dependent orders, so the
/// two agree to float rounding (1e-6 on unit-vector similarities), not bit for bit. What the code
/// does guarantee — the same block size and inputs give the same bits, run to run and for any
/// thread count — is asserted exactly.
final class FILIPKernelTests: XCTestCase {
    /// Unit token rows [B, n, d].
    func tokens(_ b: Int, _ n: Int, _ d: Int, seed: UInt64) -> Tensor {
        GradientCheck.random([b, n, d], seed: seed).l2Normalized().y
    }

    /// A mask [B, n2] with the given numbers of leading valid tokens.
    func mask(_ lengths: [Int], _ n2: Int) -> Tensor {
        Tensor(shape: [lengths.count, n2], scalars: lengths.flatMap { len in (0..<n2).map { $0 < len ? 1 : 0 } })
    }

    /// s^I and s^T [I, J] straight from the definition.
    func naiveSimilarities(_ x: Tensor, _ y: Tensor, _ valid: [Range<Int>]) -> (Tensor, Tensor) {
        let (b, n1, d, bt, n2) = (x.shape[0], x.shape[1], x.shape[2], y.shape[0], y.shape[1])
        let all = x.reshaped([b * n1, d]).matmul(y.reshaped([bt * n2, d]), transposeOther: true)   // [I·n1, J·n2]
        func sim(_ i: Int, _ j: Int, _ k: Int, _ r: Int) -> Float { all[flat: (i * n1 + k) * (bt * n2) + j * n2 + r] }
        var sI = Tensor.zeros([b, bt]), sT = Tensor.zeros([b, bt])
        for i in 0..<b {
            for j in 0..<bt {
                var total: Float = 0
                for k in 0..<n1 {
                    var best = -Float.infinity
                    for r in valid[j] where sim(i, j, k, r) > best { best = sim(i, j, k, r) }
                    total += best
                }
                sI[flat: i * bt + j] = total / Float(n1)
                total = 0
                for r in valid[j] {
                    var best = -Float.infinity
                    for k in 0..<n1 where sim(i, j, k, r) > best { best = sim(i, j, k, r) }
                    total += best
                }
                sT[flat: i * bt + j] = total / Float(valid[j].count)
            }
        }
        return (sI, sT)
    }

    func naiveLoss(_ sI: Tensor, _ sT: Tensor, logitScale: Float) -> Float {
        let b = sI.shape[0], scale = Variable(Tensor(logitScale)).exp(), targets = Array(0..<b)
        let li = (Variable(sI) * scale).crossEntropy(targets: targets)
        let lt = (Variable(sT).transposed() * scale).crossEntropy(targets: targets)
        return ((li + lt) * 0.5).value.scalar
    }

    func testBlockedEqualsNaiveBitForBit() {
        let cases: [(b: Int, n1: Int, n2: Int, d: Int, lengths: [Int])] = [
            (1, 3, 4, 5, [2]),
            (5, 4, 6, 8, [6, 1, 3, 2, 5]),
            (13, 9, 11, 16, [1, 11, 4, 2, 9, 10, 3, 7, 1, 5, 6, 8, 11]),
            (21, 50, 77, 32, (0..<21).map { 1 + ($0 * 37) % 77 }),
        ]
        for (index, c) in cases.enumerated() {
            let x = tokens(c.b, c.n1, c.d, seed: UInt64(10 + index)), y = tokens(c.b, c.n2, c.d, seed: UInt64(20 + index))
            let m = mask(c.lengths, c.n2)
            for special in [true, false] {
                let valid = FILIPObjective.validTokens(mask: m, includeSpecialTokens: special)
                let (sI, sT) = naiveSimilarities(x, y, valid)
                let expectedLoss = naiveLoss(sI, sT, logitScale: 2.5)
                for block in [1, 2, 3, 4, 16, 64] {
                    let r = FILIPKernel.forward(imageTokens: x, textTokens: y, validTokens: valid, blockSize: block)
                    XCTAssertLessThanOrEqual(r.imageToText.maxAbsDifference(sI), 1e-6, "case \(index) block \(block): s^I")
                    XCTAssertLessThanOrEqual(r.textToImage.maxAbsDifference(sT), 1e-6, "case \(index) block \(block): s^T")
                    let again = FILIPKernel.forward(imageTokens: x, textTokens: y, validTokens: valid, blockSize: block)
                    XCTAssertTrue(again.imageToText.scalars == r.imageToText.scalars && again.textToImage.scalars == r.textToImage.scalars,
                                  "case \(index) block \(block): a second run gives other bits")
                    var o = FILIPObjective(includeSpecialTokens: special, blockSize: block)
                    o.normalizesFeatures = false
                    let f = Features(image: Variable(Tensor.zeros([c.b, 1])), text: Variable(Tensor.zeros([c.b, 1])),
                                     imageTokens: Variable(x), textTokens: Variable(y), textMask: m)
                    let loss = o.loss(f, ObjectiveScalars(logitScale: Variable(Tensor(2.5)))).value.scalar
                    // Logits are e^2.5 ≈ 12 × similarities: 1e-6 there moves the loss by ≈ 1e-5 at most.
                    XCTAssertEqual(loss, expectedLoss, accuracy: 2e-5 * max(1, abs(expectedLoss)), "case \(index) block \(block)")
                }
            }
        }
    }

    /// Evaluation's scores of I images × J texts (no argmax kept) follow the definition too.
    func testRectangularScoresEqualNaive() {
        for (index, c) in [(ni: 7, nj: 3, n1: 5, n2: 9), (ni: 2, nj: 19, n1: 16, n2: 12), (ni: 1, nj: 1, n1: 4, n2: 3)].enumerated() {
            let x = tokens(c.ni, c.n1, 8, seed: UInt64(40 + index)), y = tokens(c.nj, c.n2, 8, seed: UInt64(50 + index))
            let valid = (0..<c.nj).map { j in (j % 2)..<(1 + j % 2 + j % (c.n2 - 1)) }
            let (sI, sT) = naiveSimilarities(x, y, valid)
            for block in [1, 2, 5, 16] {
                let s = FILIPKernel.scores(imageTokens: x, textTokens: y, validTokens: valid, blockSize: block)
                XCTAssertEqual(s.imageToText.shape, [c.ni, c.nj])
                XCTAssertLessThanOrEqual(s.imageToText.maxAbsDifference(sI), 1e-6, "case \(index) block \(block): s^I")
                XCTAssertLessThanOrEqual(s.textToImage.maxAbsDifference(sT), 1e-6, "case \(index) block \(block): s^T")
            }
        }
    }

    /// The backward pass: the same block size gives identical gradients for any thread count
    /// (fixed summation order); other block sizes run other GEMM shapes and agree to rounding.
    func testGradientsDoNotDependOnThreadsAndAgreeAcrossBlockSizes() {
        let (b, n1, n2, d) = (11, 6, 9, 12)
        let x = tokens(b, n1, d, seed: 1), y = tokens(b, n2, d, seed: 2)
        let m = mask((0..<b).map { 1 + $0 % n2 }, n2)
        func grads(_ block: Int, threads: Int) -> Tensor {
            var o = FILIPObjective(blockSize: block)
            o.normalizesFeatures = false
            let xv = Variable(x, requiresGrad: true), yv = Variable(y, requiresGrad: true)
            let f = Features(image: Variable(Tensor.zeros([b, 1])), text: Variable(Tensor.zeros([b, 1])),
                             imageTokens: xv, textTokens: yv, textMask: m)
            Parallel.withThreadBudget(threads) { o.loss(f, ObjectiveScalars(logitScale: Variable(Tensor(3)))).backward() }
            return Tensor(shape: [xv.grad!.count + yv.grad!.count], scalars: xv.grad!.scalars + yv.grad!.scalars)
        }
        let reference = grads(b, threads: 1)
        let scale = reference.scalars.map(abs).max()!
        for block in [1, 2, 4, 5] {
            let single = grads(block, threads: 1)
            XCTAssertEqual(grads(block, threads: 2).scalars, single.scalars, "block \(block): 2 threads differ from 1")
            XCTAssertLessThanOrEqual(single.maxAbsDifference(reference), 1e-5 * scale, "block \(block) vs block \(b)")
        }
    }

    func testSpecialTokensAreDroppedUnlessNothingRemains() {
        let m = mask([5, 2, 1, 3], 6)
        XCTAssertEqual(FILIPObjective.validTokens(mask: m, includeSpecialTokens: true), [0..<5, 0..<2, 0..<1, 0..<3])
        XCTAssertEqual(FILIPObjective.validTokens(mask: m, includeSpecialTokens: false), [1..<4, 0..<2, 0..<1, 1..<2])
        // From EOT positions, as evaluation derives them: the same ranges as the mask's.
        XCTAssertEqual(FILIPObjective.validTokens(ends: [4, 1, 0, 2], includeSpecialTokens: true), [0..<5, 0..<2, 0..<1, 0..<3])
        XCTAssertEqual(FILIPObjective.validTokens(ends: [4, 1, 0, 2], includeSpecialTokens: false), [1..<4, 0..<2, 0..<1, 1..<2])
    }
}
