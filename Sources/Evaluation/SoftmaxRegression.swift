import Foundation
import TensorCore

/// Multinomial logistic regression with an L2 penalty on the weights (not the bias), fitted on
/// full batches with L-BFGS — the classifier of the linear-probe protocol (CLIP, Radford et al.,
/// 2021, §3.2 and appendix A.3: scikit-learn's L-BFGS `LogisticRegression`, at most 1,000 iterations).
///
/// The objective is scikit-learn's with `C = 1/λ`:
///
///     J(W, b) = Σᵢ −log softmax(W xᵢ + b)[yᵢ] + (λ/2)·‖W‖²_F
///     ∂J/∂W = (P − Y)ᵀ X + λ W,   ∂J/∂b = Σᵢ (pᵢ − e_yᵢ)
///
/// It is strictly convex in W, so the minimizer's weights are unique. The solver minimizes J/n (the
/// gradient tolerance does not depend on n). The GEMMs run in fp32 on fixed blocks of rows, in
/// parallel; the blocks' losses and gradients are summed in fp64 in block order, so the fit is the
/// same bit for bit whatever the thread count.
public struct SoftmaxRegression: Sendable {
    /// [C, D] row-major.
    public var weights: [Double]
    /// [C]
    public var bias: [Double]
    public let classes: Int, dimension: Int

    public init(classes: Int, dimension: Int) {
        (self.classes, self.dimension) = (classes, dimension)
        weights = Array(repeating: 0, count: classes * dimension)
        bias = Array(repeating: 0, count: classes)
    }

    /// Class logits [N, C] of `features` [N, D] (fp32 GEMM).
    public func logits(_ features: Tensor) -> Tensor {
        ensure(features.rank == 2 && features.shape[1] == dimension,
               "softmax regression expects features [N, \(dimension)], got \(features.shape)")
        let w = Tensor(shape: [classes, dimension], scalars: weights.map(Float.init))
        var out = MatmulPrecision.with(.fp32) { features.matmul(w, transposeOther: true) }
        let c = classes
        out.withUnsafeMutableBufferPointer { z in
            for i in 0..<(z.count / max(c, 1)) { for k in 0..<c { z[i * c + k] += Float(bias[k]) } }
        }
        return out
    }

    /// How a fit ended.
    public struct FitReport: Codable, Equatable, Sendable {
        public var iterations: Int
        /// ‖∇(J/n)‖∞ at the returned point.
        public var gradientNorm: Double
        /// J/n at the returned point.
        public var objective: Double
        /// True when ‖∇(J/n)‖∞ reached the tolerance (otherwise the iteration limit, or no step
        /// that lowers J within fp32 resolution, ended the fit).
        public var converged: Bool
        enum CodingKeys: String, CodingKey {
            case iterations, gradientNorm = "gradient_norm", objective, converged
        }
    }

    /// Fits the weights and bias to `labels` (N values in 0..<classes) on `features` [N, D],
    /// starting from the current parameters.
    /// - Parameters:
    ///   - lambda: λ, the L2 strength (scikit-learn's `1/C`); must be positive.
    ///   - maxIterations: L-BFGS iterations at most (CLIP: 1,000).
    ///   - tolerance: stop when ‖∇(J/n)‖∞ ≤ tolerance (scikit-learn's `tol` is 1e-4).
    @discardableResult
    public mutating func fit(features: Tensor, labels: [Int], lambda: Double, maxIterations: Int = 1000,
                             tolerance: Double = 1e-6) -> FitReport {
        // Centering the features is an exact change of variables — W x + b = W (x − μ) + (b + W μ), and
        // the penalty is on W alone — that leaves the minimizer unchanged but conditions L-BFGS far
        // better (image embeddings share a large common component).
        let mean = Self.columnMeans(features)
        let centered = Self.subtracting(mean, from: features)
        let (c, d) = (classes, dimension)
        func shifted(_ b: [Double], by sign: Double) -> [Double] {
            (0..<c).map { k in b[k] + sign * (0..<d).reduce(0.0) { $0 + weights[k * d + $1] * mean[$1] } }
        }
        let problem = SoftmaxObjective(features: centered, labels: labels, classes: c, lambda: lambda)
        var lbfgs = LBFGS(maxIterations: maxIterations, tolerance: tolerance)
        // fp32 GEMMs whatever precision the caller runs the towers in (bf16 would blur the gradient).
        let (x, report) = MatmulPrecision.with(.fp32) {
            lbfgs.minimize(start: weights + shifted(bias, by: 1)) { problem.evaluate($0) }
        }
        weights = Array(x[0..<(c * d)])
        bias = shifted(Array(x[(c * d)...]), by: -1)
        return report
    }

    /// μ [D], the mean of the rows of `features` [N, D] (summed in fp64 in row order, rounded to fp32).
    static func columnMeans(_ features: Tensor) -> [Double] {
        let (n, d) = (features.shape[0], features.shape[1])
        var sum = [Double](repeating: 0, count: d)
        features.withUnsafeBufferPointer { x in
            for i in 0..<n { for j in 0..<d { sum[j] += Double(x[i * d + j]) } }
        }
        return sum.map { Double(Float($0 / Double(max(n, 1)))) }   // as subtracted (fp32), so the shift is exact
    }

    /// `features` [N, D] minus `mean` [D] from every row.
    static func subtracting(_ mean: [Double], from features: Tensor) -> Tensor {
        var out = features
        let d = features.shape[1], m = mean.map(Float.init)
        out.withUnsafeMutableBufferPointer { x in
            for i in 0..<(x.count / max(d, 1)) { for j in 0..<d { x[i * d + j] -= m[j] } }
        }
        return out
    }
}

/// J/n of `SoftmaxRegression` and its gradient at a packed parameter vector [W (C·D), b (C)].
struct SoftmaxObjective {
    let blocks: [(features: Tensor, labels: [Int])]
    let classes: Int, dimension: Int, count: Int
    let lambda: Double

    /// Rows per block: fixed, so the summation order (and the result) does not depend on the threads.
    static let blockRows = 1024

    init(features: Tensor, labels: [Int], classes: Int, lambda: Double) {
        ensure(features.rank == 2 && features.shape[0] == labels.count && !labels.isEmpty,
               "softmax regression needs features [N, D] with N labels, got \(features.shape) and \(labels.count)")
        ensure(labels.allSatisfy { $0 >= 0 && $0 < classes }, "labels must lie in 0..<\(classes)")
        ensure(lambda > 0 && lambda.isFinite, "the L2 strength must be positive, got \(lambda)")
        let n = labels.count
        blocks = stride(from: 0, to: n, by: Self.blockRows).map { start in
            let r = start..<min(n, start + Self.blockRows)
            return (features.slice(axis: 0, r), Array(labels[r]))
        }
        (self.classes, dimension, count, self.lambda) = (classes, features.shape[1], n, lambda)
    }

    /// (J/n, ∇(J/n)) at `x` = [W (C·D), b (C)].
    func evaluate(_ x: [Double]) -> (value: Double, gradient: [Double]) {
        let (c, d) = (classes, dimension)
        let w = Tensor(shape: [c, d], scalars: x[0..<(c * d)].map(Float.init))
        let b = x[(c * d)...].map { $0 }
        var value = 0.0
        var gradient = [Double](repeating: 0, count: c * d + c)
        // Waves of `threads` blocks: each block's loss and gradient land in its own slot, then are added in block order.
        let wave = max(1, Parallel.threads)
        for first in stride(from: 0, to: blocks.count, by: wave) {
            let ids = first..<min(blocks.count, first + wave)
            let parts = UncheckedBox(UnsafeMutableBufferPointer<(Double, Tensor, [Double])?>.allocate(capacity: ids.count))
            parts.value.initialize(repeating: nil)
            defer { parts.value.deallocate() }
            Parallel.forEachWorker(ids.count) { k in
                parts.value[k] = blockTerms(blocks[ids.lowerBound + k], w: w, b: b)
            }
            for k in 0..<ids.count {
                let (loss, gw, gb) = parts.value[k]!
                value += loss
                gw.withUnsafeBufferPointer { g in for j in 0..<(c * d) { gradient[j] += Double(g[j]) } }
                for j in 0..<c { gradient[c * d + j] += gb[j] }
            }
        }
        let n = Double(count)
        var penalty = 0.0
        for j in 0..<(c * d) {
            penalty += x[j] * x[j]
            gradient[j] = gradient[j] / n + lambda / n * x[j]
        }
        for j in 0..<c { gradient[c * d + j] /= n }
        return (value / n + 0.5 * lambda / n * penalty, gradient)
    }

    /// Summed cross-entropy of one block, Σ (P − Y)ᵀ X [C, D] and Σ (P − Y) [C].
    func blockTerms(_ block: (features: Tensor, labels: [Int]), w: Tensor, b: [Double]) -> (Double, Tensor, [Double]) {
        let c = classes
        let z = block.features.matmul(w, transposeOther: true)           // [m, C]
        let m = block.labels.count
        var residual = Tensor(uninitializedShape: [m, c])                 // P − Y
        var loss = 0.0
        var gb = [Double](repeating: 0, count: c)
        var e = [Double](repeating: 0, count: c)
        z.withUnsafeBufferPointer { z in
            residual.withUnsafeMutableBufferPointer { r in
                e.withUnsafeMutableBufferPointer { e in
                    gb.withUnsafeMutableBufferPointer { gb in
                        for i in 0..<m {
                            var top = -Double.infinity
                            for k in 0..<c { e[k] = Double(z[i * c + k]) + b[k]; top = Swift.max(top, e[k]) }
                            let y = block.labels[i]
                            loss -= e[y] - top
                            var sum = 0.0
                            for k in 0..<c { e[k] = exp(e[k] - top); sum += e[k] }
                            loss += log(sum)                                      // log Σ exp(zₖ) − z_y
                            for k in 0..<c {
                                let v = e[k] / sum - (k == y ? 1 : 0)
                                r[i * c + k] = Float(v)
                                gb[k] += v
                            }
                        }
                    }
                }
            }
        }
        let gw = residual.matmul(block.features, transposeSelf: true)    // [C, D]
        return (loss, gw, gb)
    }
}
