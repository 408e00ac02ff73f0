import Autograd
import XCTest

/// Central finite-difference gradient checking for differentiable ops.
///
/// The op's output is reduced to a scalar with fixed random weights (so every output
/// element matters), the analytic gradient comes from `backward()`, and each input
/// element is perturbed by ±`step` in Double-accumulated Float32 arithmetic.
public enum GradientCheck {
    /// Checks `f` at `inputs`; fails the test with the worst element when the
    /// relative error `|a − n| / max(1, |a|, |n|)` exceeds `tolerance`.
    public static func check(_ inputs: [Tensor], step: Float = 1e-2, tolerance: Float = 1e-2,
                             file: StaticString = #filePath, line: UInt = #line,
                             _ f: ([Variable]) -> Variable) {
        var rng = RandomGenerator(seed: 1234)
        let probeShape = f(inputs.map { Variable($0) }).shape
        let weights = Tensor.randomNormal(probeShape, using: &rng)
        func objective(_ xs: [Tensor]) -> Double {
            let y = GradMode.noGrad { f(xs.map { Variable($0) }).value }
            var s = 0.0
            for i in 0..<y.count { s += Double(y.pointer[i]) * Double(weights.pointer[i]) }
            return s
        }
        let vars = inputs.map { Variable($0, requiresGrad: true) }
        let y = f(vars)
        (y * Variable(weights)).sum().backward()
        for (k, v) in vars.enumerated() {
            let analytic = v.grad ?? Tensor.zeros(v.shape)
            var worst: (Float, Int, Float, Float) = (0, -1, 0, 0)
            for i in 0..<inputs[k].count {
                var plus = inputs, minus = inputs
                plus[k][flat: i] += step
                minus[k][flat: i] -= step
                let numeric = Float((objective(plus) - objective(minus)) / Double(2 * step))
                let a = analytic[flat: i]
                let err = Swift.abs(a - numeric) / Swift.max(1, Swift.abs(a), Swift.abs(numeric))
                if err > worst.0 { worst = (err, i, a, numeric) }
            }
            XCTAssertLessThanOrEqual(worst.0, tolerance,
                "input \(k) \(inputs[k].shape): element \(worst.1) analytic \(worst.2) vs numeric \(worst.3)",
                file: file, line: line)
        }
    }

    /// A seeded random tensor for tests.
    public static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.randomNormal(shape, std: scale, using: &rng)
    }
}
