import Foundation

/// Eigen-decomposition of a real symmetric matrix in Double precision, without LAPACK:
/// Householder reduction to tridiagonal form with the transformations accumulated, then the
/// implicit QL algorithm with Wilkinson-style shifts (the EISPACK `tred2` / `tql2` method, as in
/// Golub & Van Loan, "Matrix Computations", §8.3). O(n³); accurate to a few ulps of ‖A‖.
struct SymmetricEigen {
    /// Eigenvalues in descending order.
    var values: [Double]
    /// Eigenvectors, one per row, in the order of `values` ([n, n], row-major, unit length).
    var vectors: [Double]
    let n: Int

    /// - Parameter matrix: [n, n] row-major, symmetric (only symmetry-consistent input is meaningful).
    init(_ matrix: [Double], n: Int) {
        ensure(matrix.count == n * n, "SymmetricEigen expects \(n)×\(n) values, got \(matrix.count)")
        self.n = n
        if n == 0 { (values, vectors) = ([], []); return }
        var v = matrix            // becomes the accumulated orthogonal transform, columns = vectors
        var d = [Double](repeating: 0, count: n), e = [Double](repeating: 0, count: n)
        SymmetricEigen.tridiagonalize(&v, &d, &e, n)
        var w = [Double](repeating: 0, count: n * n)   // rows = vectors (transpose of v)
        for r in 0..<n { for c in 0..<n { w[c * n + r] = v[r * n + c] } }
        SymmetricEigen.diagonalize(&w, &d, &e, n)
        let order = (0..<n).sorted { d[$0] > d[$1] || (d[$0] == d[$1] && $0 < $1) }
        values = order.map { d[$0] }
        var sorted = [Double](repeating: 0, count: n * n)
        for (row, idx) in order.enumerated() {
            for c in 0..<n { sorted[row * n + c] = w[idx * n + c] }
        }
        vectors = sorted
    }

    /// Householder reduction of symmetric `v` [n, n] to tridiagonal form (diagonal `d`,
    /// sub-diagonal `e[1...]`); on return `v` holds the orthogonal Q with A = Q T Qᵀ.
    private static func tridiagonalize(_ v: inout [Double], _ d: inout [Double], _ e: inout [Double], _ n: Int) {
        for j in 0..<n { d[j] = v[(n - 1) * n + j] }
        for i in stride(from: n - 1, to: 0, by: -1) {
            // Reduce row i using the Householder vector held in d[0..<i].
            var scale = 0.0, h = 0.0
            for k in 0..<i { scale += Swift.abs(d[k]) }
            if scale == 0 {
                e[i] = d[i - 1]
                for j in 0..<i {
                    d[j] = v[(i - 1) * n + j]
                    v[i * n + j] = 0
                    v[j * n + i] = 0
                }
            } else {
                for k in 0..<i { d[k] /= scale; h += d[k] * d[k] }
                var f = d[i - 1]
                var g = h.squareRoot()
                if f > 0 { g = -g }
                e[i] = scale * g
                h -= f * g
                d[i - 1] = f - g
                for j in 0..<i { e[j] = 0 }
                // p = A u / h, accumulated in e.
                for j in 0..<i {
                    f = d[j]
                    v[j * n + i] = f
                    g = e[j] + v[j * n + j] * f
                    if j + 1 <= i - 1 {
                        for k in (j + 1)...(i - 1) {
                            g += v[k * n + j] * d[k]
                            e[k] += v[k * n + j] * f
                        }
                    }
                    e[j] = g
                }
                f = 0
                for j in 0..<i { e[j] /= h; f += e[j] * d[j] }
                let hh = f / (h + h)
                for j in 0..<i { e[j] -= hh * d[j] }
                // A ← A − u qᵀ − q uᵀ on the lower triangle.
                for j in 0..<i {
                    f = d[j]
                    g = e[j]
                    for k in j...(i - 1) { v[k * n + j] -= (f * e[k] + g * d[k]) }
                    d[j] = v[(i - 1) * n + j]
                    v[i * n + j] = 0
                }
            }
            d[i] = h
        }
        // Accumulate the transformations.
        for i in 0..<(n - 1) {
            v[(n - 1) * n + i] = v[i * n + i]
            v[i * n + i] = 1
            let h = d[i + 1]
            if h != 0 {
                for k in 0...i { d[k] = v[k * n + i + 1] / h }
                for j in 0...i {
                    var g = 0.0
                    for k in 0...i { g += v[k * n + i + 1] * v[k * n + j] }
                    for k in 0...i { v[k * n + j] -= g * d[k] }
                }
            }
            for k in 0...i { v[k * n + i + 1] = 0 }
        }
        for j in 0..<n { d[j] = v[(n - 1) * n + j]; v[(n - 1) * n + j] = 0 }
        v[(n - 1) * n + n - 1] = 1
        e[0] = 0
    }

    /// Implicit QL on the tridiagonal (d, e), applying the rotations to the rows of `w`.
    private static func diagonalize(_ w: inout [Double], _ d: inout [Double], _ e: inout [Double], _ n: Int) {
        for i in 1..<n { e[i - 1] = e[i] }
        e[n - 1] = 0
        var f = 0.0, tst1 = 0.0
        let eps = Double.ulpOfOne
        for l in 0..<n {
            tst1 = Swift.max(tst1, Swift.abs(d[l]) + Swift.abs(e[l]))
            var m = l
            while m < n - 1 && Swift.abs(e[m]) > eps * tst1 { m += 1 }
            if m > l {
                var iterations = 0
                repeat {
                    iterations += 1
                    ensure(iterations < 100, "SymmetricEigen: QL iteration did not converge")
                    // Shift from the leading 2×2 block.
                    var g = d[l]
                    var p = (d[l + 1] - g) / (2 * e[l])
                    var r = hypot(p, 1)
                    if p < 0 { r = -r }
                    d[l] = e[l] / (p + r)
                    d[l + 1] = e[l] * (p + r)
                    let dl1 = d[l + 1]
                    var h = g - d[l]
                    if l + 2 < n { for i in (l + 2)..<n { d[i] -= h } }
                    f += h
                    // Implicit QL transformation.
                    p = d[m]
                    var c = 1.0, c2 = 1.0, c3 = 1.0, s = 0.0, s2 = 0.0
                    let el1 = e[l + 1]
                    for i in stride(from: m - 1, through: l, by: -1) {
                        c3 = c2; c2 = c; s2 = s
                        g = c * e[i]
                        h = c * p
                        r = hypot(p, e[i])
                        e[i + 1] = s * r
                        s = e[i] / r
                        c = p / r
                        p = c * d[i] - s * g
                        d[i + 1] = h + s * (c * g + s * d[i])
                        // Rotate vectors i and i+1 (rows of w).
                        w.withUnsafeMutableBufferPointer { wp in
                            let a = wp.baseAddress! + i * n, b = wp.baseAddress! + (i + 1) * n
                            for k in 0..<n {
                                let t = b[k]
                                b[k] = s * a[k] + c * t
                                a[k] = c * a[k] - s * t
                            }
                        }
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1
                    e[l] = s * p
                    d[l] = c * p
                } while Swift.abs(e[l]) > eps * tst1
            }
            d[l] += f
            e[l] = 0
        }
    }
}
