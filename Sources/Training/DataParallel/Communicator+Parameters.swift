import Distributed
import Autograd
import Foundation
import TensorCore
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import ModelStore
import Evaluation

/// Collectives over model parameters: the gradient sum of data-parallel training and the
/// broadcast that starts every rank from rank 0's weights.
extension Communicator {
    /// Sums every parameter's `grad` over ranks (in rank order, see `allReduceSum`), in buckets of
    /// about `bucketElements` floats so that few, large messages move. Parameters without a
    /// gradient are skipped; every rank has the same set (same model, same graph).
    public func allReduceGradients(of parameters: [Variable], bucketElements: Int = 1 << 22) {
        guard worldSize > 1 else { return }
        for bucket in GradientBuckets.split(parameters.filter { $0.grad != nil }, maxElements: bucketElements) {
            allReduceGradients(ofBucket: bucket)
        }
    }

    /// Sums the `grad` of each parameter of one bucket over ranks, as one message.
    /// The sum is element-wise, so how parameters are grouped into buckets never changes a result.
    func allReduceGradients(ofBucket bucket: ArraySlice<Variable>) {
        guard worldSize > 1, !bucket.isEmpty else { return }
        if bucket.count == 1 {
            bucket.first!.grad!.withUnsafeMutableBufferPointer { allReduceSum($0) }
            return
        }
        var flat = [Float](repeating: 0, count: bucket.reduce(0) { $0 + $1.grad!.count })
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

    /// Rank `root`'s parameter values copied to every rank (initial weights, so that all ranks
    /// start identical whatever each read or drew).
    public func broadcast(parameters: [Variable], root: Int = 0) {
        guard worldSize > 1 else { return }
        for p in parameters { broadcast(&p.value, root: root) }
    }
}

/// How gradients are grouped for the all-reduce.
enum GradientBuckets {
    /// Consecutive runs of `parameters` holding at most `maxElements` floats each (a larger
    /// parameter is a bucket of its own).
    static func split(_ parameters: [Variable], maxElements: Int) -> [ArraySlice<Variable>] {
        var buckets: [ArraySlice<Variable>] = []
        var start = 0
        while start < parameters.count {
            var end = start, elements = 0
            while end < parameters.count && (end == start || elements + parameters[end].value.count <= maxElements) {
                elements += parameters[end].value.count
                end += 1
            }
            buckets.append(parameters[start..<end])
            start = end
        }
        return buckets
    }
}
