internal import COpenBLAS

/// The one file that talks to OpenBLAS: row-major single-precision GEMM and thread control.
public enum BLAS {
    /// `C = alpha · op(A) · op(B) + beta · C`, row-major, with leading dimensions, so
    /// strided sub-matrices (e.g. one attention head inside a fused QKV buffer) need no copy.
    /// In `MatmulPrecision.bf16` (set by the caller) the inputs are rounded to bf16 (`gemmBF16`).
    /// - Parameters: op(A) is [m, k], op(B) is [k, n], C is [m, n].
    @inline(__always)
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if MatmulPrecision.current == .bf16 {
            gemmBF16(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                     beta: beta, c: c, ldc: ldc)
            return
        }
        if isEmptyProduct(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
        fp32gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c, ldc: ldc)
    }

    /// Handles `m`, `n` or `k` = 0 (C = beta · C when only k is 0); true when there is nothing left to do.
    @inline(__always)
    static func isEmptyProduct(m: Int, n: Int, k: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        if m == 0 || n == 0 { return true }
        if k != 0 { return false }
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return true
    }

    @inline(__always)
    static func fp32gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    /// The kernel set OpenBLAS runs on this CPU (e.g. `Haswell`, `SkylakeX`, `Cooperlake`).
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }
}

extension Tensor {
    /// Matrix product of the last two axes: `op(self) @ op(other)`.
    ///
    /// - `self` [..., M, K] (or [..., K, M] with `transposeSelf`), `other` [K, N] (or [N, K] with
    ///   `transposeOther`) is multiplied as one big GEMM over all leading rows;
    /// - with equal leading (batch) axes on both sides, one GEMM per batch item.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        ensure(rank >= 2 && other.rank >= 2, "matmul needs rank ≥ 2, got \(shape) and \(other.shape)")
        let m = transposeSelf ? shape[rank - 1] : shape[rank - 2]
        let k = transposeSelf ? shape[rank - 2] : shape[rank - 1]
        let k2 = transposeOther ? other.shape[other.rank - 1] : other.shape[other.rank - 2]
        let n = transposeOther ? other.shape[other.rank - 2] : other.shape[other.rank - 1]
        ensure(k == k2, "matmul inner dimensions differ: \(shape)\(transposeSelf ? "ᵀ" : "") @ \(other.shape)\(transposeOther ? "ᵀ" : "")")
        if other.rank == 2 && !transposeSelf {
            let rows = count / k
            let out = Tensor(uninitializedShape: Array(shape.dropLast()) + [n])
            BLAS.sgemm(transA: false, transB: transposeOther, m: rows, n: n, k: k, a: pointer, lda: k,
                       b: other.pointer, ldb: transposeOther ? k : n, c: out.pointer, ldc: n)
            return out
        }
        let batchShape = Array(shape.dropLast(2))
        let otherBatch = Array(other.shape.dropLast(2))
        ensure(batchShape == otherBatch || otherBatch.isEmpty,
                     "batched matmul needs equal batch axes, got \(shape) and \(other.shape)")
        let batch = batchShape.reduce(1, *)
        let out = Tensor(uninitializedShape: batchShape + [m, n])
        let strideB = otherBatch.isEmpty ? 0 : k * n
        for i in 0..<batch {
            BLAS.sgemm(transA: transposeSelf, transB: transposeOther, m: m, n: n, k: k,
                       a: pointer + i * m * k, lda: transposeSelf ? m : k,
                       b: other.pointer + i * strideB, ldb: transposeOther ? k : n,
                       c: out.pointer + i * m * n, ldc: n)
        }
        return out
    }
}
