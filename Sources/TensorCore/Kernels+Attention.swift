/// Fused multi-head scaled-dot-product attention reading Q, K and V straight out of the
/// fused `in_proj` output, so no head split/merge copies are made.
///
/// Layout: `qkv` [B, T, 3W] with q, k, v in that order along the last axis (OpenCLIP's
/// `in_proj_weight` order); head h of q occupies columns `h·Dh ..< (h+1)·Dh`. Output [B, T, W]
/// with heads concatenated, ready for `out_proj`.
public enum AttentionKernel {
    /// What runs the per-head products (Q Kᵀ, P V and their gradients).
    public enum Products: Sendable {
        /// `SmallMatmul`: register-blocked loops, no per-call overhead (short sequences, narrow heads).
        case registerBlocked
        /// One BLAS call per product (`BLAS.sgemm`).
        case blas
        /// One oneDNN batched matmul per product for all heads of a block of batch items
        /// (`BatchedAttention`); where oneDNN has no kernel for it, the per-head BLAS calls.
        case batched

        /// The per-head products where batched ones are not available: measured on AVX2 (OpenBLAS Zen
        /// kernels), the register-blocked loops win for heads up to 32 wide (quickstart: fwd+bwd 1.2×
        /// faster at T = 25, 1.3× at T = 16), one BLAS call per head for wider heads (tiny, ViT-B) and
        /// long sequences.
        public static func perHeadChoice(tokens: Int, headWidth: Int) -> Products {
            tokens <= 128 && headWidth <= 32 ? .registerBlocked : .blas
        }
    }

    /// What runs the products of one call: the batched products, or else the per-head ones.
    ///
    /// By default (`products` nil) batched wherever oneDNN has batched kernels for the shape
    /// (`brg:…`, AVX-512 CPUs) — except the fp32 backward of heads wider than 32 — else
    /// `Products.perHeadChoice`; without batched kernels oneDNN runs a batch one GEMM at a time
    /// (`gemm:jit`), no faster than per-head calls. Measured on Zen 4 (thread CPU time, alternating,
    /// B = 64 / 128, OpenBLAS 0.3.21 Cooperlake kernels unless said): 64-wide heads over 65 tokens,
    /// batched vs one call per head: bf16 1.5× faster forward and backward (the per-head bf16 path
    /// packs both operands per call); fp32 forward alike (1.1× faster than OpenBLAS's Haswell
    /// kernels), fp32 backward 1.1× slower (its packing and the interleaving of dQ, dK, dV into
    /// dqkv are passes over memory that per-head calls overlap with their arithmetic; alike with
    /// Haswell kernels). 32-wide heads (quickstart), batched vs the register-blocked loops: 1.3–1.7×
    /// faster forward at 16–50 tokens, 1.15–1.4× backward at 25–50, alike at 16.
    /// `.batched` asked for runs wherever oneDNN has any kernel for it.
    static func plan(_ products: Products?, batch: Int, tokens: Int, width: Int, heads: Int,
                     backward: Bool) -> (batched: BatchedAttention?, perHead: Products) {
        let precision = MatmulPrecision.current
        func batched(requireBatchedKernel: Bool) -> BatchedAttention? {
            BatchedAttention(batch: batch, tokens: tokens, width: width, heads: heads, precision: precision,
                             requireBatchedKernel: requireBatchedKernel, backward: backward)
        }
        switch products {
        case nil:
            let perHead = Products.perHeadChoice(tokens: tokens, headWidth: width / heads)
            if backward && precision == .fp32 && width / heads > 32 { return (nil, perHead) }
            return (batched(requireBatchedKernel: true), perHead)
        case .batched?: return (batched(requireBatchedKernel: false), .blas)
        case let perHead?: return (nil, perHead)
        }
    }

    /// What runs the products for qkv [B, T, 3W] with `heads` heads in the current `MatmulPrecision`
    /// (for `bench` to print), e.g. `forward: oneDNN batched brg:avx512_core, 4 heads × 3 batch items
    /// per call; backward: one GEMM call per head`.
    public static func productsSummary(batch: Int, tokens: Int, width: Int, heads: Int) -> String {
        func summary(backward: Bool) -> String {
            let (batched, perHead) = plan(nil, batch: batch, tokens: tokens, width: width, heads: heads, backward: backward)
            if let batched {
                let name = DNNL.implementation(of: (backward ? batched.backwardProblems(items: batched.itemsPerBlock).all
                                                             : batched.forwardProblems(items: batched.itemsPerBlock).all)[0]) ?? "?"
                let items = batched.itemsPerBlock
                return "oneDNN batched \(name), \(heads) heads × \(items) batch item\(items == 1 ? "" : "s") per call"
            }
            return perHead == .registerBlocked ? "register-blocked loops per head" : "one GEMM call per head"
        }
        let (forward, backward) = (summary(backward: false), summary(backward: true))
        return forward == backward ? forward : "forward: \(forward); backward: \(backward)"
    }

    /// - Parameters:
    ///   - mask: optional additive mask [T, T] (e.g. causal, −inf above the diagonal) or [B, T, T].
    /// - Returns: output [B, T, W] and the attention probabilities [B, H, T, T] for backward.
    public static func forward(qkv: Tensor, heads: Int, mask: Tensor? = nil, products: Products? = nil) -> (out: Tensor, probs: Tensor) {
        ensure(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0,
                     "attention expects qkv [B, T, 3W] with W divisible by \(heads) heads, got \(qkv.shape)")
        let (b, t, w3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
        let w = w3 / 3, dh = w / heads
        let scale = 1 / Float(dh).squareRoot()
        if let mask {
            ensure(mask.shape == [t, t] || mask.shape == [b, t, t], "attention mask must be [T, T] or [B, T, T] with T = \(t), got \(mask.shape)")
        }
        let out = Tensor(uninitializedShape: [b, t, w])
        let probs = Tensor(uninitializedShape: [b, heads, t, t])
        let (q, o, p, mp) = (qkv.pointer, out.pointer, probs.pointer, mask?.pointer)
        let maskStride = mask?.rank == 3 ? t * t : 0
        let (batched, products) = plan(products, batch: b, tokens: t, width: w, heads: heads, backward: false)
        if let batched {
            batched.forward(qkv: q, mask: mp.map { UnsafePointer($0) }, maskStride: maskStride, out: o, probs: p)
            return (out, probs)
        }
        let bf16 = MatmulPrecision.current == .bf16
        Parallel.forEachChunk(b * heads) { range in
            let scratch = products == .registerBlocked ? HeadScratch(tokens: t, headWidth: dh, bf16: bf16) : nil
            for bh in range {
                let (bi, h) = (bh / heads, bh % heads)
                let base = q + bi * t * w3 + h * dh
                let s = p + bh * t * t
                let head = o + bi * t * w + h * dh
                if let scratch {
                    // S = scale · Q Kᵀ  [T, T]
                    let (qa, qld) = scratch.operand(base, ld: w3, rows: t, cols: dh, slot: 0)
                    SmallMatmul.run(m: t, n: t, k: dh, alpha: scale, a: qa, aRow: qld, aCol: 1,
                                    b: scratch.transposed(base + w, ld: w3), ldb: t, c: s, ldc: t)
                } else {
                    BLAS.sgemm(transA: false, transB: true, m: t, n: t, k: dh, alpha: scale,
                               a: base, lda: w3, b: base + w, ldb: w3, c: s, ldc: t)
                }
                if let mp { let m = mp + bi * maskStride; zipVectorized(s, m, s, t * t, +) }
                for r in 0..<t { softmaxRow(s + r * t, s + r * t, t) }
                // O = P V  [T, Dh] into the head's columns of out
                if let scratch {
                    let (pa, pld) = scratch.operand(s, ld: t, rows: t, cols: t, slot: 1)
                    let (va, vld) = scratch.operand(base + 2 * w, ld: w3, rows: t, cols: dh, slot: 2)
                    SmallMatmul.run(m: t, n: dh, k: t, a: pa, aRow: pld, aCol: 1, b: va, ldb: vld, c: head, ldc: w)
                } else {
                    BLAS.sgemm(transA: false, transB: false, m: t, n: dh, k: t,
                               a: s, lda: t, b: base + 2 * w, ldb: w3, c: head, ldc: w)
                }
            }
        }
        return (out, probs)
    }

    /// Gradient with respect to `qkv` given the forward probabilities and `dout` [B, T, W]:
    /// `dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`, `dQ = s·dS K`, `dK = s·dSᵀ Q`.
    public static func backward(qkv: Tensor, probs: Tensor, heads: Int, dout: Tensor, products: Products? = nil) -> Tensor {
        let (b, t, w3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
        let w = w3 / 3, dh = w / heads
        let scale = 1 / Float(dh).squareRoot()
        let dqkv = Tensor(uninitializedShape: qkv.shape)
        let (q, p, dq, dO) = (qkv.pointer, probs.pointer, dqkv.pointer, dout.pointer)
        let (batched, products) = plan(products, batch: b, tokens: t, width: w, heads: heads, backward: true)
        if let batched {
            batched.backward(qkv: q, probs: p, dout: dO, dqkv: dq)
            return dqkv
        }
        let bf16 = MatmulPrecision.current == .bf16
        Parallel.forEachChunk(b * heads) { range in
            let scratch = products == .registerBlocked ? HeadScratch(tokens: t, headWidth: dh, bf16: bf16) : nil
            var dpBuffer = [Float](repeating: 0, count: t * t)
            dpBuffer.withUnsafeMutableBufferPointer { dpb in
                let dp = dpb.baseAddress!
                for bh in range {
                    let (bi, h) = (bh / heads, bh % heads)
                    let base = q + bi * t * w3 + h * dh
                    let grad = dq + bi * t * w3 + h * dh
                    let s = p + bh * t * t
                    let go = dO + bi * t * w + h * dh
                    if let scratch {
                        let (pa, pld) = scratch.operand(s, ld: t, rows: t, cols: t, slot: 1)
                        let (ga, gld) = scratch.operand(go, ld: w, rows: t, cols: dh, slot: 0)
                        // dV = Pᵀ dO ; dP = dO Vᵀ
                        SmallMatmul.run(m: t, n: dh, k: t, a: pa, aRow: 1, aCol: pld, b: ga, ldb: gld, c: grad + 2 * w, ldc: w3)
                        SmallMatmul.run(m: t, n: t, k: dh, a: ga, aRow: gld, aCol: 1,
                                        b: scratch.transposed(base + 2 * w, ld: w3), ldb: t, c: dp, ldc: t)
                    } else {
                        BLAS.sgemm(transA: true, transB: false, m: t, n: dh, k: t,
                                   a: s, lda: t, b: go, ldb: w, c: grad + 2 * w, ldc: w3)
                        BLAS.sgemm(transA: false, transB: true, m: t, n: t, k: dh,
                                   a: go, lda: w, b: base + 2 * w, ldb: w3, c: dp, ldc: t)
                    }
                    for r in 0..<t { softmaxBackwardRow(s + r * t, dp + r * t, t) }
                    // dQ = scale · dS K ; dK = scale · dSᵀ Q
                    if let scratch {
                        let (da, dld) = scratch.operand(dp, ld: t, rows: t, cols: t, slot: 1)
                        let (ka, kld) = scratch.operand(base + w, ld: w3, rows: t, cols: dh, slot: 0)
                        SmallMatmul.run(m: t, n: dh, k: t, alpha: scale, a: da, aRow: dld, aCol: 1, b: ka, ldb: kld, c: grad, ldc: w3)
                        let (qa, qld) = scratch.operand(base, ld: w3, rows: t, cols: dh, slot: 2)
                        SmallMatmul.run(m: t, n: dh, k: t, alpha: scale, a: da, aRow: 1, aCol: dld, b: qa, ldb: qld, c: grad + w, ldc: w3)
                    } else {
                        BLAS.sgemm(transA: false, transB: false, m: t, n: dh, k: t, alpha: scale,
                                   a: dp, lda: t, b: base + w, ldb: w3, c: grad, ldc: w3)
                        BLAS.sgemm(transA: true, transB: false, m: t, n: dh, k: t, alpha: scale,
                                   a: dp, lda: t, b: base, ldb: w3, c: grad + w, ldc: w3)
                    }
                }
            }
        }
        return dqkv
    }

    /// Additive causal mask [T, T]: 0 on and below the diagonal, −inf above.
    public static func causalMask(_ t: Int) -> Tensor {
        let m = Tensor.zeros([t, t])
        for i in 0..<t { for j in (i + 1)..<Swift.max(i + 1, t) { m.pointer[i * t + j] = -.infinity } }
        return m
    }
}

/// One thread's buffers for the register-blocked per-head products: a transposed operand and three
/// packed ones, in bf16 rounded to bf16 values (the products of `MatmulPrecision.bf16`: bf16 inputs, fp32
/// accumulation, as `BLAS.gemmBF16`).
private final class HeadScratch {
    let tokens: Int, headWidth: Int, bf16: Bool
    /// Kᵀ or Vᵀ [Dh, T]; then three [T, max(T, Dh)] slots for rounded operands.
    let transposeBuffer: UnsafeMutablePointer<Float>, slots: [UnsafeMutablePointer<Float>]
    let rowBuffer: UnsafeMutablePointer<Float>

    init(tokens: Int, headWidth: Int, bf16: Bool) {
        (self.tokens, self.headWidth, self.bf16) = (tokens, headWidth, bf16)
        transposeBuffer = .allocate(capacity: tokens * headWidth)
        rowBuffer = .allocate(capacity: headWidth)
        slots = (0..<3).map { _ in .allocate(capacity: tokens * Swift.max(tokens, headWidth)) }
    }

    deinit {
        transposeBuffer.deallocate(); rowBuffer.deallocate()
        slots.forEach { $0.deallocate() }
    }

    /// A [rows, cols] operand at `src` (leading dimension `ld`) packed into `slot` (leading dimension
    /// `cols`), rounded to bf16 values in bf16. Packing matters: a head's rows inside `qkv` lie 3W
    /// floats apart, a stride that maps them onto a few L1 sets.
    func operand(_ src: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int, slot: Int) -> (UnsafePointer<Float>, Int) {
        if !bf16 && ld == cols { return (src, ld) }   // already packed
        let dst = slots[slot]
        for r in 0..<rows {
            if bf16 { BFloat16.round(src + r * ld, toFloats: dst + r * cols, count: cols) }
            else { (dst + r * cols).update(from: src + r * ld, count: cols) }
        }
        return (UnsafePointer(dst), cols)
    }

    /// The transpose [Dh, T] of a [T, Dh] head operand at `src` (leading dimension `ld`), rounded in bf16.
    func transposed(_ src: UnsafePointer<Float>, ld: Int) -> UnsafePointer<Float> {
        let (t, dh, dst) = (tokens, headWidth, transposeBuffer)
        for r in 0..<t {
            var row = src + r * ld
            if bf16 { BFloat16.round(row, toFloats: rowBuffer, count: dh); row = UnsafePointer(rowBuffer) }
            for d in 0..<dh { dst[d * t + r] = row[d] }
        }
        return UnsafePointer(dst)
    }
}
