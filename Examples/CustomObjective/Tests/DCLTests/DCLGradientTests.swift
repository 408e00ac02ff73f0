import DCL
import Foundation
import SwiftCLIP
import XCTest

/// DCL's loss against its formula evaluated in Float64, and its gradients against central finite
/// differences of that formula.
final class DCLGradientTests: XCTestCase {
    /// The loss in Float64 from raw features x, y [b, d] and logit scale t.
    func reference(_ x: [Double], _ y: [Double], _ t: Double, b: Int, d: Int) -> Double {
        func normalized(_ v: [Double]) -> [Double] {
            (0..<b).flatMap { i -> [Double] in
                let row = Array(v[(i * d)..<((i + 1) * d)])
                let n = row.map { $0 * $0 }.reduce(0, +).squareRoot()
                return row.map { $0 / n }
            }
        }
        let (u, w) = (normalized(x), normalized(y))
        let s = exp(t)
        func logit(_ i: Int, _ j: Int) -> Double { s * (0..<d).map { u[i * d + $0] * w[j * d + $0] }.reduce(0, +) }
        var total = 0.0
        for i in 0..<b {
            let rowNegatives = (0..<b).filter { $0 != i }.map { logit(i, $0) }
            let columnNegatives = (0..<b).filter { $0 != i }.map { logit($0, i) }
            func lse(_ v: [Double]) -> Double { let m = v.max()!; return m + log(v.map { exp($0 - m) }.reduce(0, +)) }
            total += 0.5 * (lse(rowNegatives) - logit(i, i)) + 0.5 * (lse(columnNegatives) - logit(i, i))
        }
        return total / Double(b)
    }

    func testLossAndGradientsMatchTheFormula() throws {
        let (b, d) = (5, 4)
        var rng = RandomGenerator(seed: 7)
        let x = Tensor.randomNormal([b, d], using: &rng), y = Tensor.randomNormal([b, d], using: &rng)
        let t: Float = 1.3
        let xv = Variable(x, requiresGrad: true), yv = Variable(y, requiresGrad: true), tv = Variable(Tensor(t), requiresGrad: true)
        let loss = DCLObjective().loss(Features(image: xv, text: yv), ObjectiveScalars(logitScale: tv))
        let (xs, ys) = (x.scalars.map(Double.init), y.scalars.map(Double.init))
        XCTAssertEqual(Double(loss.value.scalar), reference(xs, ys, Double(t), b: b, d: d), accuracy: 1e-5)
        loss.backward()

        let h = 1e-5
        func check(_ analytic: [Float], _ perturbed: (Int, Double) -> Double, _ name: String) {
            for k in analytic.indices {
                let numeric = (perturbed(k, h) - perturbed(k, -h)) / (2 * h)
                XCTAssertEqual(Double(analytic[k]), numeric, accuracy: 1e-4 + 1e-3 * abs(numeric), "\(name)[\(k)]")
            }
        }
        check(xv.grad!.scalars, { k, e in var p = xs; p[k] += e; return self.reference(p, ys, Double(t), b: b, d: d) }, "dx")
        check(yv.grad!.scalars, { k, e in var p = ys; p[k] += e; return self.reference(xs, p, Double(t), b: b, d: d) }, "dy")
        check(tv.grad!.scalars, { _, e in self.reference(xs, ys, Double(t) + e, b: b, d: d) }, "dt")
    }

    func testRegisteredObjectiveDecodesFromAConfig() throws {
        DCLObjective.register()
        let config = try JSONDecoder().decode(ObjectiveConfig.self, from: Data(#"{"type": "dcl", "temperature_init": 0.05}"#.utf8))
        let objective = try XCTUnwrap(try config.makeObjective() as? DCLObjective)
        XCTAssertEqual(objective.initialScalars.logitScale, log(1 / 0.05), accuracy: 1e-6)
        XCTAssertThrowsError(try JSONDecoder().decode(ObjectiveConfig.self, from: Data(#"{"type": "dcl", "temperature_init": 0}"#.utf8)).makeObjective())
    }
}
