import Autograd
import TestSupport
import XCTest

/// Every differentiable element-wise op against central finite differences,
/// with broadcasting, odd sizes and size-1 axes.
final class ElementwiseGradientTests: XCTestCase {
    func r(_ shape: [Int], _ seed: UInt64, _ scale: Float = 1) -> Tensor { GradientCheck.random(shape, seed: seed, scale: scale) }

    func testBinaryOpsWithBroadcasting() {
        let shapes: [([Int], [Int])] = [([3, 5], [3, 5]), ([2, 3, 5], [5]), ([4, 1], [1, 3]), ([1], [2, 7]), ([2, 1, 3], [4, 1]), ([5], [2, 3, 5]), ([1, 3, 1], [2, 3, 4])]
        for (sa, sb) in shapes {
            GradientCheck.check([r(sa, 1, 1), r(sb, 2, 1)]) { $0[0] + $0[1] }
            GradientCheck.check([r(sa, 3, 1), r(sb, 4, 1)]) { $0[0] - $0[1] }
            GradientCheck.check([r(sa, 5, 1), r(sb, 6, 1)]) { $0[0] * $0[1] }
            GradientCheck.check([r(sa, 7, 1), r(sb, 8, 1) + 3]) { $0[0] / $0[1] }
        }
    }

    func testScalarOps() {
        GradientCheck.check([r([3, 4], 9, 1)]) { ($0[0] * 2.5 + 1) / 3 - 0.5 }
        GradientCheck.check([r([3, 4], 9, 1)]) { -$0[0] }
    }

    func testUnaryFunctions() {
        let x = r([4, 9], 11, 1.5)
        GradientCheck.check([x]) { $0[0].exp() }
        GradientCheck.check([x.map { $0 * $0 + 0.5 }]) { $0[0].log() }
        GradientCheck.check([x]) { $0[0].tanh() }
        GradientCheck.check([x]) { $0[0].sigmoid() }
        GradientCheck.check([x]) { $0[0].gelu() }
        GradientCheck.check([x]) { $0[0].quickGelu() }
        // Keep inputs away from the kinks of relu and clamp.
        let away = x.map { $0 + $0.replacing(with: 0.1, where: $0 .> 0).replacing(with: -0.1, where: $0 .<= 0) }
        GradientCheck.check([away]) { $0[0].relu() }
        GradientCheck.check([away * 2]) { $0[0].clamped(min: -1.05, max: 0.95) }
    }

    func testSelect() {
        let cond = Tensor(shape: [2, 3], scalars: [1, 0, 1, 0, 0, 1])
        GradientCheck.check([r([2, 3], 1), r([3], 2)]) { $0[0].select(where: cond, else: $0[1]) }
    }

    func testReductions() {
        let x = r([3, 4, 5], 12, 1)
        GradientCheck.check([x]) { $0[0].sum() }
        GradientCheck.check([x]) { $0[0].sum(axis: 1) }
        GradientCheck.check([x]) { $0[0].sum(axes: [0, 2], keepDims: true) }
        GradientCheck.check([x]) { $0[0].mean(axis: -1) }
        GradientCheck.check([x]) { $0[0].mean() }
        GradientCheck.check([x]) { $0[0].logSumExp(axis: 2) }
        GradientCheck.check([x]) { $0[0].logSumExp(axis: 0, keepDims: true) }
        GradientCheck.check([x]) { $0[0].max(axis: 1) }
    }

    func testLayoutOps() {
        let x = r([2, 3, 4], 13, 1)
        GradientCheck.check([x]) { $0[0].reshaped([6, 4]) }
        GradientCheck.check([x]) { $0[0].permuted([2, 0, 1]) }
        GradientCheck.check([x]) { $0[0].transposed() }
        GradientCheck.check([x]) { $0[0].slice(axis: 1, 1..<3) }
        GradientCheck.check([x, r([2, 1, 4], 14)]) { Variable.concat([$0[0], $0[1]], axis: 1) }
        GradientCheck.check([x]) { v in
            let parts = v[0].split(axis: 2, sizes: [1, 3])
            return parts[0] * 2 + parts[1].sum(axis: 2, keepDims: true)
        }
        GradientCheck.check([r([3, 1], 15)]) { $0[0].broadcast(to: [2, 3, 4]) }
    }

    func testGradientAccumulatesAcrossBackwardCalls() {
        let w = Variable(Tensor(shape: [2], scalars: [1, 2]), requiresGrad: true)
        (w * w).sum().backward()
        (w * 3).sum().backward()
        XCTAssertEqual(w.grad?.scalars, [2 * 1 + 3, 2 * 2 + 3])
    }

    func testNoGradModeRecordsNothing() {
        let w = Variable(Tensor(shape: [2], scalars: [1, 2]), requiresGrad: true)
        let y = GradMode.noGrad { (w * w).sum() }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue(y.isLeaf)
    }

    func testBackwardIntoStoreLeavesGradUntouched() {
        let w = Variable(Tensor(shape: [2], scalars: [1, 2]), requiresGrad: true)
        let store = GradientStore()
        (w * w).sum().backward(into: store)
        XCTAssertNil(w.grad)
        XCTAssertEqual(store[w]?.scalars, [2, 4])
    }
}
