import Foundation
@testable import Objectives
import TestSupport
import XCTest

/// Central finite differences (GradientCheck) of every objective on small random inputs,
/// through the full path (normalization included), with respect to features and scalars.
final class ObjectiveGradientTests: XCTestCase {
    let (b, d) = (5, 7)

    func features(_ seed: UInt64, _ shape: [Int]? = nil) -> Tensor { GradientCheck.random(shape ?? [b, d], seed: seed) }

    func testCLIP() {
        GradientCheck.check([features(1), features(2), Tensor(1.3)]) { v in
            CLIPObjective(labelSmoothing: 0.1).loss(Features(image: v[0], text: v[1]), ObjectiveScalars(logitScale: v[2]))
        }
    }

    func testALIGN() {
        GradientCheck.check([features(3), features(4), Tensor(0.7)], step: 1e-3) { v in
            ALIGNObjective().loss(Features(image: v[0], text: v[1]), ObjectiveScalars(logitScale: v[2]))
        }
    }

    func testConVIRT() {
        GradientCheck.check([features(5), features(6)], step: 1e-3) { v in
            ConVIRTObjective().loss(Features(image: v[0], text: v[1]), ObjectiveScalars(logitScale: Variable(Tensor(0))))
        }
    }

    func testSigLIPWithUnevenBlocks() {
        for block in [2, 5] {
            GradientCheck.check([features(7), features(8), Tensor(1.2), Tensor(-1.5)], step: 1e-3) { v in
                SigLIPObjective(blockSize: block).loss(Features(image: v[0], text: v[1]),
                                                       ObjectiveScalars(logitScale: v[2], logitBias: v[3]))
            }
        }
    }

    func testFILIP() {
        let (n1, n2, e) = (4, 5, 6)
        let mask = Tensor(shape: [b, n2], scalars: [5, 1, 3, 2, 4].flatMap { len in (0..<n2).map { $0 < len ? 1 : 0 } })
        for special in [true, false] {
            // Small steps: the maxima are piecewise linear; a step must not cross an argmax switch.
            GradientCheck.check([features(9, [b, n1, e]), features(10, [b, n2, e]), Tensor(1.5)], step: 1e-3) { v in
                let f = Features(image: Variable(Tensor.zeros([b, 1])), text: Variable(Tensor.zeros([b, 1])),
                                 imageTokens: v[0], textTokens: v[1], textMask: mask)
                return FILIPObjective(includeSpecialTokens: special, blockSize: 2).loss(f, ObjectiveScalars(logitScale: v[2]))
            }
        }
    }

    /// P is a stop-gradient constant, so the check holds P at its value for the unperturbed input.
    func testLongCLIPWithProjectionHeldConstant() {
        let (batch, dim) = (9, 6)
        let image = features(11, [batch, dim])
        let p = LongCLIPObjective.principalComponents(image.l2Normalized().y, count: 3)
        XCTAssertEqual(p.shape, [dim, 3])
        GradientCheck.check([image, features(12, [batch, dim]), features(13, [batch, dim]), Tensor(2.0)], step: 1e-3) { v in
            let xL = v[0].l2Normalized()
            let xS = LongCLIPObjective.shortImageFeatures(xL, projection: p)
            return clipLoss(xL, v[1].l2Normalized(), logitScale: v[3], labelSmoothing: 0.1)
                + clipLoss(xS, v[2].l2Normalized(), logitScale: v[3], labelSmoothing: 0.1) * 0.5
        }
        // The objective itself gives the same gradient as that composition.
        let vars = [image, features(12, [batch, dim]), features(13, [batch, dim])].map { Variable($0, requiresGrad: true) }
        LongCLIPObjective(shortWeight: 0.5, components: 3).loss(Features(image: vars[0], text: vars[1], extraTexts: [vars[2]]),
                                                                ObjectiveScalars(logitScale: Variable(Tensor(2.0)))).backward()
        let again = [image, features(12, [batch, dim]), features(13, [batch, dim])].map { Variable($0, requiresGrad: true) }
        let xL = again[0].l2Normalized()
        (clipLoss(xL, again[1].l2Normalized(), logitScale: Variable(Tensor(2.0)), labelSmoothing: 0.1)
            + clipLoss(LongCLIPObjective.shortImageFeatures(xL, projection: p), again[2].l2Normalized(),
                       logitScale: Variable(Tensor(2.0)), labelSmoothing: 0.1) * 0.5).backward()
        for (a, e) in zip(vars, again) { XCTAssertLessThanOrEqual(a.grad!.maxAbsDifference(e.grad!), 1e-6) }
    }

    func testMultiPositive() {
        GradientCheck.check([features(14), features(15), features(16), features(17), features(18), Tensor(1.1)]) { v in
            MultiPositiveObjective(k: 3).loss(Features(image: v[0], text: v[1], extraTexts: [v[2], v[3], v[4]]),
                                              ObjectiveScalars(logitScale: v[5]))
        }
    }
}
