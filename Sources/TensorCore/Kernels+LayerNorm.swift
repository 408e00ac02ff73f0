/// Layer normalization over the last axis with its hand-written backward.
public enum LayerNormKernel {
    /// `y = (x − μ) / √(σ² + eps) · γ + β` per row of `x` [N, C].
    /// - Returns: y [N, C], and per-row mean and reciprocal std [N] for the backward pass.
    public static func forward(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float = 1e-5)
        -> (y: Tensor, mean: Tensor, rstd: Tensor)
    {
        let c = x.shape.last ?? 1
        ensure(gamma.count == c && beta.count == c, "layer norm over \(c) features got γ \(gamma.shape), β \(beta.shape)")
        let rows = x.count / c
        let y = Tensor(uninitializedShape: x.shape)
        let mean = Tensor(uninitializedShape: [rows]), rstd = Tensor(uninitializedShape: [rows])
        let (xp, yp, g, b, mp, rp) = (x.pointer, y.pointer, gamma.pointer, beta.pointer, mean.pointer, rstd.pointer)
        Parallel.forEachChunk(rows, grain: Swift.max(1, 8192 / c)) { range in
            for r in range {
                let row = xp + r * c, out = yp + r * c
                let mu = sumVectorized(row, c) / Float(c)
                var acc = Vec(repeating: 0)
                var j = 0
                let raw = UnsafeRawPointer(row)
                while j + 16 <= c { let d = raw.loadUnaligned(fromByteOffset: j * 4, as: Vec.self) - mu; acc += d * d; j += 16 }
                var v = acc.sum()
                while j < c { let d = row[j] - mu; v += d * d; j += 1 }
                let rs = 1 / (v / Float(c) + eps).squareRoot()
                mp[r] = mu; rp[r] = rs
                zipVectorized(row, g, out, c) { x, g in (x - mu) * rs * g }
                zipVectorized(out, b, out, c, +)
            }
        }
        return (y, mean, rstd)
    }

    /// Rows per block when summing γ and β gradients: fixed, so results do not depend on threads.
    static let block = 64

    /// Gradients of layer norm: `dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂))` with `ĝ = dy ⊙ γ`,
    /// `dγ = Σ dy ⊙ x̂`, `dβ = Σ dy`.
    public static func backward(_ x: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor, dy: Tensor)
        -> (dx: Tensor, dgamma: Tensor, dbeta: Tensor)
    {
        let c = x.shape.last ?? 1
        let rows = x.count / c
        let dx = Tensor(uninitializedShape: x.shape)
        let blocks = (rows + block - 1) / block
        let partial = Tensor.zeros([blocks, 2, c])
        let (xp, g, mp, rp, dyp, dxp, pp) = (x.pointer, gamma.pointer, mean.pointer, rstd.pointer, dy.pointer, dx.pointer, partial.pointer)
        Parallel.forEachChunk(blocks) { range in
            var xhat = [Float](repeating: 0, count: c), gh = [Float](repeating: 0, count: c)
            for blk in range {
                let dgam = pp + blk * 2 * c, dbet = dgam + c
                for r in (blk * block)..<Swift.min(rows, (blk + 1) * block) {
                    let row = xp + r * c, d = dyp + r * c
                    let mu = mp[r], rs = rp[r]
                    mapVectorized(row, &xhat, c) { ($0 - mu) * rs }
                    zipVectorized(d, g, &gh, c, *)
                    let meanG = sumVectorized(gh, c) / Float(c)
                    let meanGX = dotVectorized(gh, xhat, c) / Float(c)
                    zipVectorized(gh, xhat, dxp + r * c, c) { g, xh in (g - meanG - xh * meanGX) * rs }
                    xhat.withUnsafeBufferPointer { xh in
                        zipVectorized(d, xh.baseAddress!, &gh, c, *)
                    }
                    zipVectorized(dgam, gh, dgam, c, +)
                    zipVectorized(dbet, d, dbet, c, +)
                }
            }
        }
        let sums = partial.sum(axis: 0)  // [2, C], blocks summed in order
        return (dx, sums.slice(axis: 0, 0..<1).reshaped([c]), sums.slice(axis: 0, 1..<2).reshaped([c]))
    }
}
