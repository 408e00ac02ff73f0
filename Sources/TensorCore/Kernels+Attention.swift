/// Fused multi-head scaled-dot-product attention reading Q, K and V straight out of the
/// fused `in_proj` output, so no head split/merge copies are made.
///
/// Layout: `qkv` [B, T, 3W] with q, k, v in that order along the last axis (OpenCLIP's
/// `in_proj_weight` order); head h of q occupies columns `h·Dh ..< (h+1)·Dh`. Output [B, T, W]
/// with heads concatenated, ready for `out_proj`.
public enum AttentionKernel {
    /// - Parameters:
    ///   - mask: optional additive mask [T, T] (e.g. causal, −inf above the diagonal) or [B, T, T].
    /// - Returns: output [B, T, W] and the attention probabilities [B, H, T, T] for backward.
    public static func forward(qkv: Tensor, heads: Int, mask: Tensor? = nil) -> (out: Tensor, probs: Tensor) {
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
        Parallel.forEachChunk(b * heads) { range in
            for bh in range {
                let (bi, h) = (bh / heads, bh % heads)
                let base = q + bi * t * w3 + h * dh
                let s = p + bh * t * t
                // S = scale · Q Kᵀ  [T, T]
                BLAS.sgemm(transA: false, transB: true, m: t, n: t, k: dh, alpha: scale,
                           a: base, lda: w3, b: base + w, ldb: w3, c: s, ldc: t)
                if let mp { let m = mp + bi * maskStride; zipVectorized(s, m, s, t * t, +) }
                for r in 0..<t { softmaxRow(s + r * t, s + r * t, t) }
                // O = P V  [T, Dh] into the head's columns of out
                BLAS.sgemm(transA: false, transB: false, m: t, n: dh, k: t,
                           a: s, lda: t, b: base + 2 * w, ldb: w3, c: o + bi * t * w + h * dh, ldc: w)
            }
        }
        return (out, probs)
    }

    /// Gradient with respect to `qkv` given the forward probabilities and `dout` [B, T, W]:
    /// `dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`, `dQ = s·dS K`, `dK = s·dSᵀ Q`.
    public static func backward(qkv: Tensor, probs: Tensor, heads: Int, dout: Tensor) -> Tensor {
        let (b, t, w3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
        let w = w3 / 3, dh = w / heads
        let scale = 1 / Float(dh).squareRoot()
        let dqkv = Tensor(uninitializedShape: qkv.shape)
        let (q, p, dq, dO) = (qkv.pointer, probs.pointer, dqkv.pointer, dout.pointer)
        Parallel.forEachChunk(b * heads) { range in
            var dpBuffer = [Float](repeating: 0, count: t * t)
            dpBuffer.withUnsafeMutableBufferPointer { dpb in
                let dp = dpb.baseAddress!
                for bh in range {
                    let (bi, h) = (bh / heads, bh % heads)
                    let base = q + bi * t * w3 + h * dh
                    let grad = dq + bi * t * w3 + h * dh
                    let s = p + bh * t * t
                    let go = dO + bi * t * w + h * dh
                    // dV = Pᵀ dO
                    BLAS.sgemm(transA: true, transB: false, m: t, n: dh, k: t,
                               a: s, lda: t, b: go, ldb: w, c: grad + 2 * w, ldc: w3)
                    // dP = dO Vᵀ
                    BLAS.sgemm(transA: false, transB: true, m: t, n: t, k: dh,
                               a: go, lda: w, b: base + 2 * w, ldb: w3, c: dp, ldc: t)
                    for r in 0..<t {
                        let pr = s + r * t, dr = dp + r * t
                        let dot = dotVectorized(pr, dr, t)
                        zipVectorized(pr, dr, dr, t) { p, d in p * (d - dot) }
                    }
                    // dQ = scale · dS K ; dK = scale · dSᵀ Q
                    BLAS.sgemm(transA: false, transB: false, m: t, n: dh, k: t, alpha: scale,
                               a: dp, lda: t, b: base + w, ldb: w3, c: grad, ldc: w3)
                    BLAS.sgemm(transA: true, transB: false, m: t, n: dh, k: t, alpha: scale,
                               a: dp, lda: t, b: base, ldb: w3, c: grad + w, ldc: w3)
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
