/// bf16 GEMMs: inputs rounded to bf16, products accumulated in fp32 (`MatmulPrecision.bf16`).
extension BLAS {
    /// `C = alpha · bf16(op(A)) · bf16(op(B)) + beta · C`, fp32 accumulation and output, row-major
    /// with leading dimensions as in `sgemm`. op(A) is [m, k], op(B) is [k, n], C is [m, n].
    ///
    /// `path: .oneDNN` uses oneDNN's bf16 kernel when it has a native one for this shape, else
    /// (and with `.portable`) rounds the inputs to bf16 values in fp32 and calls sgemm.
    public static func gemmBF16(path: BF16Engine.Path = BF16Engine.detected.path, transA: Bool, transB: Bool,
                                m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if isEmptyProduct(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
        let (aRows, aCols) = transA ? (k, m) : (m, k)
        let (bRows, bCols) = transB ? (n, k) : (k, n)
        if path == .oneDNN {
            let packedA = TensorStorage(count: (aRows * aCols + 1) / 2), packedB = TensorStorage(count: (bRows * bCols + 1) / 2)
            let done = packedA.pointer.withMemoryRebound(to: UInt16.self, capacity: aRows * aCols) { pa in
                packedB.pointer.withMemoryRebound(to: UInt16.self, capacity: bRows * bCols) { pb in
                    pack(a, ld: lda, rows: aRows, cols: aCols) { BFloat16.round($0, into: pa + $1, count: $2) }
                    pack(b, ld: ldb, rows: bRows, cols: bCols) { BFloat16.round($0, into: pb + $1, count: $2) }
                    let problem = DNNL.Problem(type: .bf16, transA: transA, transB: transB, m: m, n: n, k: k,
                                               lda: aCols, ldb: bCols, ldc: ldc, alpha: alpha, beta: beta, threads: Parallel.threads)
                    return DNNL.matmul(problem, a: pa, b: pb, c: c)
                }
            }
            if done { return }
        }
        let roundedA = TensorStorage(count: aRows * aCols), roundedB = TensorStorage(count: bRows * bCols)
        pack(a, ld: lda, rows: aRows, cols: aCols) { BFloat16.round($0, toFloats: roundedA.pointer + $1, count: $2) }
        pack(b, ld: ldb, rows: bRows, cols: bCols) { BFloat16.round($0, toFloats: roundedB.pointer + $1, count: $2) }
        fp32gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: roundedA.pointer, lda: aCols,
                 b: roundedB.pointer, ldb: bCols, beta: beta, c: c, ldc: ldc)
    }

    /// fp32 GEMM through oneDNN's matmul (its f32 kernel), for checking the oneDNN plumbing —
    /// strides, transposes, alpha, beta, threads — on CPUs without bf16. Returns false when oneDNN
    /// has no non-reference kernel for it here.
    public static func sgemmOneDNN(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                   a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        let problem = DNNL.Problem(type: .f32, transA: transA, transB: transB, m: m, n: n, k: k,
                                   lda: lda, ldb: ldb, ldc: ldc, alpha: alpha, beta: beta, threads: Parallel.threads)
        return DNNL.matmul(problem, a: a, b: b, c: c)
    }

    /// Calls `convert(rowStart, offset, count)` for a [rows, cols] matrix with leading dimension
    /// `ld`, to write it packed (leading dimension `cols`): one call when it is already contiguous.
    @inline(__always)
    static func pack(_ src: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int,
                     _ convert: (UnsafePointer<Float>, Int, Int) -> Void) {
        if ld == cols { convert(src, 0, rows * cols); return }
        for r in 0..<rows { convert(src + r * ld, r * cols, cols) }
    }
}
