/// Register-blocked matrix products for the small per-head GEMMs inside attention (T up to a few
/// hundred tokens, head width 32–128), where a BLAS call costs more than its arithmetic: on the
/// quickstart model (T = 25 and 16, head width 32) OpenBLAS ran them at about 11 GFLOP/s per thread.
///
/// `C [m, n] (ldc) = alpha · A · B`, C overwritten. A [m, k] is read at `a[i·aRow + p·aCol]`, so a
/// row-major matrix is `(ld, 1)` and its transpose `(1, ld)`; B [k, n] is row-major with leading
/// dimension `ldb`. Each element of C is one fp32 fused multiply-add chain over p = 0 ..< k in order,
/// so the result does not depend on blocking, threads or the machine's vector width.
public enum SmallMatmul {
    typealias V = SIMD8<Float>

    public static func run(m: Int, n: Int, k: Int, alpha: Float = 1,
                           a: UnsafePointer<Float>, aRow: Int, aCol: Int,
                           b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int) {
        var i = 0
        while i + 2 <= m {
            rows2(i, n: n, k: k, alpha: alpha, a: a, aRow: aRow, aCol: aCol, b: b, ldb: ldb, c: c, ldc: ldc)
            i += 2
        }
        if i < m { row1(i, n: n, k: k, alpha: alpha, a: a, aRow: aRow, aCol: aCol, b: b, ldb: ldb, c: c, ldc: ldc) }
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// Rows i and i+1 of C: 32 columns at a time (8 accumulators), then 8, then one by one.
    @inline(__always)
    static func rows2(_ i: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, aRow: Int, aCol: Int,
                      b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let a0 = a + i * aRow, a1 = a0 + aRow
        let c0 = c + i * ldc, c1 = c0 + ldc
        var j = 0
        while j + 32 <= n {
            var (x0, x1, x2, x3) = (V(), V(), V(), V())
            var (y0, y1, y2, y3) = (V(), V(), V(), V())
            var bp = b + j
            for p in 0..<k {
                let (b0, b1, b2, b3) = (load(bp), load(bp + 8), load(bp + 16), load(bp + 24))
                let u = V(repeating: a0[p * aCol]), v = V(repeating: a1[p * aCol])
                x0 = x0.addingProduct(u, b0); x1 = x1.addingProduct(u, b1)
                x2 = x2.addingProduct(u, b2); x3 = x3.addingProduct(u, b3)
                y0 = y0.addingProduct(v, b0); y1 = y1.addingProduct(v, b1)
                y2 = y2.addingProduct(v, b2); y3 = y3.addingProduct(v, b3)
                bp += ldb
            }
            store(x0 * alpha, c0 + j); store(x1 * alpha, c0 + j + 8); store(x2 * alpha, c0 + j + 16); store(x3 * alpha, c0 + j + 24)
            store(y0 * alpha, c1 + j); store(y1 * alpha, c1 + j + 8); store(y2 * alpha, c1 + j + 16); store(y3 * alpha, c1 + j + 24)
            j += 32
        }
        while j + 8 <= n {
            var (x, y) = (V(), V())
            var bp = b + j
            for p in 0..<k {
                let bv = load(bp)
                x = x.addingProduct(V(repeating: a0[p * aCol]), bv)
                y = y.addingProduct(V(repeating: a1[p * aCol]), bv)
                bp += ldb
            }
            store(x * alpha, c0 + j); store(y * alpha, c1 + j)
            j += 8
        }
        while j < n {
            var (x, y): (Float, Float) = (0, 0)
            for p in 0..<k {
                let bv = b[p * ldb + j]
                x = x.addingProduct(a0[p * aCol], bv); y = y.addingProduct(a1[p * aCol], bv)
            }
            c0[j] = x * alpha; c1[j] = y * alpha
            j += 1
        }
    }

    /// Row i of C alone (the last row when m is odd).
    @inline(__always)
    static func row1(_ i: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, aRow: Int, aCol: Int,
                     b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let a0 = a + i * aRow, c0 = c + i * ldc
        var j = 0
        while j + 8 <= n {
            var x = V()
            var bp = b + j
            for p in 0..<k { x = x.addingProduct(V(repeating: a0[p * aCol]), load(bp)); bp += ldb }
            store(x * alpha, c0 + j)
            j += 8
        }
        while j < n {
            var x: Float = 0
            for p in 0..<k { x = x.addingProduct(a0[p * aCol], b[p * ldb + j]) }
            c0[j] = x * alpha
            j += 1
        }
    }
}
