import Foundation

/// Limited-memory BFGS for a smooth function of a few thousand fp64 parameters (Nocedal & Wright,
/// *Numerical Optimization*, 2nd ed.: the two-loop recursion, Algorithm 7.4, and a line search that
/// meets the strong Wolfe conditions, Algorithms 3.5 and 3.6). Deterministic: no randomness, and a
/// fixed order of every sum.
struct LBFGS {
    var maxIterations = 1000
    /// Stop when ‖∇f‖∞ ≤ tolerance.
    var tolerance = 1e-6
    /// Correction pairs kept (SciPy's `maxcor`).
    var memory = 10
    /// Function evaluations per line search at most.
    var maxLineSearch = 40
    /// Sufficient decrease and curvature constants of the Wolfe conditions.
    let c1 = 1e-4, c2 = 0.9
    /// Near the minimum f changes by less than its rounding error (the GEMMs run in fp32), so the
    /// sufficient-decrease test can no longer tell; a step is then accepted on the slope alone, by
    /// Hager and Zhang's approximate Wolfe conditions (SIAM J. Optim. 16, 2005):
    /// σφ'(0) ≤ φ'(α) ≤ (2δ − 1)φ'(0) and φ(α) ≤ φ(0) + ε|φ(0)|, with δ = 0.1, σ = c2, ε = 1e-6.
    let approximateDelta = 0.1, approximateEpsilon = 1e-6

    typealias Function = ([Double]) -> (value: Double, gradient: [Double])

    /// The point reached from `start` and how the search ended.
    mutating func minimize(start: [Double], _ f: Function) -> ([Double], SoftmaxRegression.FitReport) {
        var x = start
        var (value, gradient) = f(x)
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        var iteration = 0
        func report(converged: Bool) -> ([Double], SoftmaxRegression.FitReport) {
            (x, .init(iterations: iteration, gradientNorm: Self.maxNorm(gradient), objective: value, converged: converged))
        }
        while iteration < maxIterations {
            if Self.maxNorm(gradient) <= tolerance { return report(converged: true) }
            var direction = Self.direction(gradient: gradient, s: s, y: y, rho: rho)
            var slope = Self.dot(direction, gradient)
            if !(slope < 0) {                      // not a descent direction: restart from steepest descent
                (s, y, rho) = ([], [], [])
                direction = gradient.map { -$0 }
                slope = Self.dot(direction, gradient)
            }
            // The first step (no curvature known yet) has length 1 in the ∞-norm sense of SciPy: 1/‖g‖₂.
            let initial = s.isEmpty ? min(1, 1 / Self.dot(gradient, gradient).squareRoot()) : 1
            guard let step = lineSearch(f, x: x, value: value, gradient: gradient, direction: direction,
                                        slope: slope, initial: initial) else {
                if s.isEmpty { return report(converged: Self.maxNorm(gradient) <= tolerance) }
                (s, y, rho) = ([], [], [])     // the curvature pairs misled: retry along −∇f once
                continue
            }
            let sk = direction.map { $0 * step.alpha }
            let yk = zip(step.gradient, gradient).map { $0 - $1 }
            let sy = Self.dot(sk, yk)
            for i in x.indices { x[i] += sk[i] }
            (value, gradient) = (step.value, step.gradient)
            iteration += 1
            if sy > 1e-10 * Self.dot(yk, yk) {     // keep the pair only when it carries positive curvature
                s.append(sk); y.append(yk); rho.append(1 / sy)
                if s.count > memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
            }
        }
        return report(converged: Self.maxNorm(gradient) <= tolerance)
    }

    /// −H∇f by the two-loop recursion, with H₀ = (sᵀy / yᵀy)·I from the newest pair.
    static func direction(gradient: [Double], s: [[Double]], y: [[Double]], rho: [Double]) -> [Double] {
        var q = gradient
        var alpha = [Double](repeating: 0, count: s.count)
        for i in s.indices.reversed() {
            alpha[i] = rho[i] * dot(s[i], q)
            for j in q.indices { q[j] -= alpha[i] * y[i][j] }
        }
        if let last = s.indices.last {
            let gamma = dot(s[last], y[last]) / dot(y[last], y[last])
            for j in q.indices { q[j] *= gamma }
        }
        for i in s.indices {
            let beta = rho[i] * dot(y[i], q)
            for j in q.indices { q[j] += (alpha[i] - beta) * s[i][j] }
        }
        return q.map { -$0 }
    }

    struct Step { var alpha: Double, value: Double, gradient: [Double] }

    /// A step length α along `direction` meeting the strong Wolfe conditions; when the bracket
    /// shrinks below fp resolution, the best point with sufficient decrease; nil when no tried
    /// point lowers f (the minimum is reached as far as f can tell).
    func lineSearch(_ f: Function, x: [Double], value f0: Double, gradient g0: [Double], direction d: [Double],
                    slope: Double, initial: Double) -> Step? {
        var evaluations = 0
        func at(_ alpha: Double) -> Step {
            evaluations += 1
            let (v, g) = f(zip(x, d).map { $0 + alpha * $1 })
            return Step(alpha: alpha, value: v, gradient: g)
        }
        func slopeAt(_ p: Step) -> Double { Self.dot(p.gradient, d) }
        func armijo(_ p: Step) -> Bool { p.value <= f0 + c1 * p.alpha * slope }
        func curvature(_ p: Step) -> Bool { abs(slopeAt(p)) <= -c2 * slope }
        func approximateWolfe(_ p: Step) -> Bool {
            let s = slopeAt(p)
            return p.value <= f0 + approximateEpsilon * abs(f0) && c2 * slope <= s && s <= (2 * approximateDelta - 1) * slope
        }

        /// Algorithm 3.6: `lo` satisfies sufficient decrease with the lowest value so far; the
        /// minimizer lies between `lo` and `hi`.
        func zoom(_ lo: Step, _ hi: Step) -> Step? {
            var (lo, hi) = (lo, hi)
            while evaluations < maxLineSearch {
                let alpha = Self.cubicMinimizer(lo.alpha, lo.value, slopeAt(lo), hi.alpha, hi.value, slopeAt(hi))
                if abs(hi.alpha - lo.alpha) <= 1e-12 * max(1, abs(lo.alpha)) { break }
                let p = at(alpha)
                if approximateWolfe(p) { return p }
                if !armijo(p) || p.value >= lo.value {
                    hi = p
                } else {
                    if curvature(p) { return p }
                    if slopeAt(p) * (hi.alpha - lo.alpha) >= 0 { hi = lo }
                    lo = p
                }
            }
            return lo.alpha > 0 && lo.value < f0 ? lo : nil
        }

        var previous = Step(alpha: 0, value: f0, gradient: g0)
        var alpha = initial
        while evaluations < maxLineSearch {
            let p = at(alpha)
            if !p.value.isFinite { alpha = (previous.alpha + alpha) / 2; continue }
            if approximateWolfe(p) { return p }
            if !armijo(p) || (previous.alpha > 0 && p.value >= previous.value) { return zoom(previous, p) }
            if curvature(p) { return p }
            if slopeAt(p) >= 0 { return zoom(p, previous) }
            previous = p
            alpha *= 2
        }
        return previous.alpha > 0 ? previous : nil
    }

    /// The minimizer of the cubic through (a, fa, da) and (b, fb, db), kept inside the middle 80% of
    /// [a, b] (bisection when the cubic has none there).
    static func cubicMinimizer(_ a: Double, _ fa: Double, _ da: Double, _ b: Double, _ fb: Double, _ db: Double) -> Double {
        let (lo, hi) = (min(a, b), max(a, b))
        let margin = 0.1 * (hi - lo)
        let d1 = da + db - 3 * (fa - fb) / (a - b)
        let radicand = d1 * d1 - da * db
        if radicand >= 0 {
            let d2 = (b > a ? 1.0 : -1.0) * radicand.squareRoot()
            let t = b - (b - a) * (db + d2 - d1) / (db - da + 2 * d2)
            if t.isFinite && t >= lo + margin && t <= hi - margin { return t }
        }
        return (a + b) / 2
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in a.indices { s += a[i] * b[i] }
        return s
    }

    static func maxNorm(_ v: [Double]) -> Double { v.reduce(0) { max($0, abs($1)) } }
}
