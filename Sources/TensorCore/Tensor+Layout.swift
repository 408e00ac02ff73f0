/// Layout operations: permute/transpose, slice, concat, split, broadcast. Results are contiguous.
extension Tensor {
    /// Axes reordered: output axis i is input axis `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        ensure(order.sorted() == Array(0..<rank), "permutation \(order) does not match rank \(rank)")
        if order == Array(0..<rank) { return self }
        let outShape = order.map { shape[$0] }
        let out = Tensor(uninitializedShape: outShape)
        let inStrides = Shape.strides(shape)
        let strides = order.map { inStrides[$0] }
        // Fast path: 2-d transpose in cache-friendly tiles.
        if rank == 2 {
            let (r, c) = (shape[0], shape[1])
            let tile = 32
            for i0 in stride(from: 0, to: r, by: tile) {
                for j0 in stride(from: 0, to: c, by: tile) {
                    for i in i0..<Swift.min(i0 + tile, r) {
                        for j in j0..<Swift.min(j0 + tile, c) { out.pointer[j * r + i] = pointer[i * c + j] }
                    }
                }
            }
            return out
        }
        let inner = outShape[rank - 1], innerStride = strides[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var o = 0
        while o < out.count {
            var base = 0
            for d in 0..<(rank - 1) { base += index[d] * strides[d] }
            if innerStride == 1 {
                (out.pointer + o).update(from: pointer + base, count: inner)
            } else {
                for j in 0..<inner { out.pointer[o + j] = pointer[base + j * innerStride] }
            }
            o += inner
            var d = rank - 2
            while d >= 0 { index[d] += 1; if index[d] < outShape[d] { break }; index[d] = 0; d -= 1 }
        }
        return out
    }

    /// Swaps two axes (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(Shape.axis(a, rank: rank), Shape.axis(b, rank: rank))
        return permuted(order)
    }

    /// Elements `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = Shape.axis(axis, rank: rank)
        ensure(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice \(range) out of bounds for axis \(ax) of \(shape)")
        let (outer, n, inner) = Shape.split(shape, at: ax)
        var outShape = shape
        outShape[ax] = range.count
        let out = Tensor(uninitializedShape: outShape)
        let block = range.count * inner
        for o in 0..<outer {
            (out.pointer + o * block).update(from: pointer + (o * n + range.lowerBound) * inner, count: block)
        }
        return out
    }

    /// Concatenation along `axis`; other axes must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        ensure(!parts.isEmpty, "concat needs at least one tensor")
        let ax = Shape.axis(axis, rank: parts[0].rank)
        for p in parts {
            ensure(p.rank == parts[0].rank && p.shape.enumerated().allSatisfy { $0.offset == ax || $0.element == parts[0].shape[$0.offset] },
                         "concat along axis \(ax): shapes \(parts.map(\.shape)) disagree")
        }
        var outShape = parts[0].shape
        outShape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        let out = Tensor(uninitializedShape: outShape)
        let (outer, total, inner) = Shape.split(outShape, at: ax)
        var offset = 0
        for p in parts {
            let block = p.shape[ax] * inner
            for o in 0..<outer {
                (out.pointer + (o * total * inner) + offset * inner).update(from: p.pointer + o * block, count: block)
            }
            offset += p.shape[ax]
        }
        return out
    }

    /// Splits along `axis` into pieces of the given sizes.
    public func split(axis: Int, sizes: [Int]) -> [Tensor] {
        let ax = Shape.axis(axis, rank: rank)
        ensure(sizes.reduce(0, +) == shape[ax], "split sizes \(sizes) do not sum to \(shape[ax]) (axis \(ax) of \(shape))")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(axis: ax, start..<(start + size))
        }
    }

    /// Materializes the broadcast of `self` to `target`.
    public func broadcast(to target: [Int]) -> Tensor {
        ensure(Shape.broadcast(shape, target) == target, "cannot broadcast \(shape) to \(target)")
        return Tensor.broadcasting(Tensor.zeros(target), self) { _, b in b }
    }
}
