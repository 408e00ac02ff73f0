/// Reductions over axes. Summation order is fixed, so results are deterministic.
extension Tensor {
    /// Reduces one axis with `combine`, starting from the first element along it.
    @inline(__always)
    func reduce(axis: Int, keepDims: Bool, _ combine: (Vec, Vec) -> Vec, scalar: (Float, Float) -> Float) -> Tensor {
        let ax = Shape.axis(axis, rank: rank)
        let (outer, n, inner) = Shape.split(shape, at: ax)
        ensure(n > 0, "cannot reduce an empty axis of \(shape)")
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = Tensor(uninitializedShape: outShape)
        for o in 0..<outer {
            let src = pointer + o * n * inner, dst = out.pointer + o * inner
            if inner == 1 {
                var acc = src[0]
                for k in 1..<n { acc = scalar(acc, src[k]) }
                dst[0] = acc
            } else {
                dst.update(from: src, count: inner)
                for k in 1..<n { zipVectorized(dst, src + k * inner, dst, inner, combine) }
            }
        }
        return out
    }

    /// Sum over `axes` (all axes when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        guard let axes else {
            return Tensor(shape: keepDims ? shape.map { _ in 1 } : [], scalars: [sumVectorized(pointer, count)])
        }
        var t = self
        for ax in axes.map({ Shape.axis($0, rank: rank) }).sorted(by: >) {
            t = t.reduce(axis: ax, keepDims: keepDims, +, scalar: +)
        }
        if axes.isEmpty { return self }
        return t
    }

    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let n = (axes ?? Array(0..<rank)).map { shape[Shape.axis($0, rank: rank)] }.reduce(1, *)
        return sum(axes: axes, keepDims: keepDims) / Float(n)
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        reduce(axis: axis, keepDims: keepDims, { $0.replacing(with: $1, where: $1 .> $0) }, scalar: Swift.max)
    }

    public func min(axis: Int, keepDims: Bool = false) -> Tensor {
        reduce(axis: axis, keepDims: keepDims, { $0.replacing(with: $1, where: $1 .< $0) }, scalar: Swift.min)
    }

    /// Index of the first maximum along `axis` (as Float values; exact below 2^24).
    public func argmax(axis: Int) -> [Int] {
        let ax = Shape.axis(axis, rank: rank)
        let (outer, n, inner) = Shape.split(shape, at: ax)
        var result = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = pointer[o * n * inner + i], bestK = 0
                for k in 1..<n where pointer[(o * n + k) * inner + i] > best {
                    best = pointer[(o * n + k) * inner + i]; bestK = k
                }
                result[o * inner + i] = bestK
            }
        }
        return result
    }

    /// `log Σ exp` along `axis`, stabilized by the maximum.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor {
        let m = max(axis: axis, keepDims: true)
        var s = (self - m).exp().sum(axis: axis, keepDims: true).log() + m
        if !keepDims { s = s.reshaped(s.shape.enumerated().filter { $0.offset != Shape.axis(axis, rank: rank) }.map(\.element)) }
        return s
    }

    /// Sums a broadcast result back to `target` (the gradient of broadcasting).
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let offset = rank - target.count
        ensure(offset >= 0, "sumToShape: \(shape) cannot reduce to \(target)")
        var axes = Array(0..<offset)
        for (i, d) in target.enumerated() where d == 1 && shape[i + offset] != 1 { axes.append(i + offset) }
        return sum(axes: axes, keepDims: true).reshaped(target)
    }

    /// The `k` largest values along the last axis and their indices, in descending order
    /// (ties keep the lower index first).
    public func topK(_ k: Int) -> (values: Tensor, indices: [[Int]]) {
        let n = shape.last ?? 1
        ensure(k >= 1 && k <= n, "topK: k = \(k) must be in 1...\(n)")
        let rows = count / n
        let values = Tensor(uninitializedShape: Array(shape.dropLast()) + [k])
        var indices = [[Int]]()
        indices.reserveCapacity(rows)
        for r in 0..<rows {
            let row = pointer + r * n
            let order = (0..<n).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(k)
            indices.append(Array(order))
            for (j, idx) in order.enumerated() { values.pointer[r * k + j] = row[idx] }
        }
        return (values, indices)
    }
}
