import Distributed
import Autograd

/// Collectives over model parameters: the gradient sum of data-parallel training and the
/// broadcast that starts every rank from rank 0's weights.
extension Communicator {
    /// Sums every parameter's `grad` over ranks (in rank order, see `allReduceSum`), in buckets of
    /// about `bucketElements` floats so that few, large messages move. Parameters without a
    /// gradient are skipped; every rank has the same set (same model, same graph).
    public func allReduceGradients(of parameters: [Variable], bucketElements: Int = 1 << 22) {
        guard worldSize > 1 else { return }
        let withGrad = parameters.filter { $0.grad != nil }
        var start = 0
        while start < withGrad.count {
            var end = start, elements = 0
            while end < withGrad.count && (end == start || elements + withGrad[end].grad!.count <= bucketElements) {
                elements += withGrad[end].grad!.count
                end += 1
            }
            let bucket = withGrad[start..<end]
            if bucket.count == 1 {
                bucket.first!.grad!.withUnsafeMutableBufferPointer { allReduceSum($0) }
            } else {
                var flat = [Float](repeating: 0, count: elements)
                flat.withUnsafeMutableBufferPointer { buffer in
                    var offset = 0
                    for p in bucket {
                        p.grad!.withUnsafeBufferPointer { g in
                            (buffer.baseAddress! + offset).update(from: g.baseAddress!, count: g.count)
                            offset += g.count
                        }
                    }
                    allReduceSum(buffer)
                    offset = 0
                    for p in bucket {
                        p.grad!.withUnsafeMutableBufferPointer { g in
                            g.baseAddress!.update(from: buffer.baseAddress! + offset, count: g.count)
                            offset += g.count
                        }
                    }
                }
            }
            start = end
        }
    }

    /// Rank `root`'s parameter values copied to every rank (initial weights, so that all ranks
    /// start identical whatever each read or drew).
    public func broadcast(parameters: [Variable], root: Int = 0) {
        guard worldSize > 1 else { return }
        for p in parameters { broadcast(&p.value, root: root) }
    }
}
