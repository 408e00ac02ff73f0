/// Embedding lookup and its scatter-add, row gathers, and row-wise L2 normalization.
extension Tensor {
    /// Rows of `self` [V, C] at `indices` → [indices.count, C].
    public func gatherRows(_ indices: [Int]) -> Tensor {
        let c = count / Swift.max(shape[0], 1)
        let out = Tensor(uninitializedShape: [indices.count] + shape.dropFirst())
        for (i, idx) in indices.enumerated() {
            ensure(idx >= 0 && idx < shape[0], "row index \(idx) out of range 0..<\(shape[0])")
            (out.pointer + i * c).update(from: pointer + idx * c, count: c)
        }
        return out
    }

    /// `result[indices[i]] += rows[i]` into a zero tensor of `shape` (the gather's backward).
    /// Rows are added in index order, so duplicates accumulate deterministically.
    public static func scatterAddRows(_ rows: Tensor, indices: [Int], shape: [Int]) -> Tensor {
        let out = Tensor.zeros(shape)
        let c = out.count / Swift.max(shape[0], 1)
        for (i, idx) in indices.enumerated() {
            zipVectorized(out.pointer + idx * c, rows.pointer + i * c, out.pointer + idx * c, c, +)
        }
        return out
    }

    /// `x / max(‖x‖, eps)` along the last axis. Returns the result and the norms [rows].
    public func l2Normalized(eps: Float = 1e-12) -> (y: Tensor, norms: Tensor) {
        let c = shape.last ?? 1, rows = count / Swift.max(c, 1)
        let y = Tensor(uninitializedShape: shape), norms = Tensor(uninitializedShape: [rows])
        for r in 0..<rows {
            let x = pointer + r * c
            let n = Swift.max(dotVectorized(x, x, c).squareRoot(), eps)
            norms.pointer[r] = n
            let inv = 1 / n
            mapVectorized(x, y.pointer + r * c, c) { $0 * inv }
        }
        return (y, norms)
    }

    /// Backward of `l2Normalized`: `dx = (dy − y·(y·dy)) / ‖x‖`.
    public static func l2NormalizedBackward(y: Tensor, norms: Tensor, dy: Tensor) -> Tensor {
        let c = y.shape.last ?? 1, rows = y.count / Swift.max(c, 1)
        let dx = Tensor(uninitializedShape: y.shape)
        for r in 0..<rows {
            let yr = y.pointer + r * c, g = dy.pointer + r * c
            let d = dotVectorized(yr, g, c), inv = 1 / norms.pointer[r]
            zipVectorized(yr, g, dx.pointer + r * c, c) { y, g in (g - y * d) * inv }
        }
        return dx
    }
}
