import Foundation
import Distributed
import Autograd
import TensorCore
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import ModelStore
import Evaluation

/// The gradient all-reduce of one backward round, overlapped with the backward pass (as PyTorch's
/// DDP does): parameters are grouped into buckets in the order the backward pass finishes them
/// (layers near the outputs first); a bucket is summed over ranks on a communication thread as soon
/// as every worker of this rank has finished all its parameters, while the workers go on through
/// earlier layers.
///
/// Results are bit-identical to summing after the backward pass: each parameter's worker-pair
/// gradients are added in pair order (as `DataParallelStep.absorb`), and the all-reduce sums each
/// element in rank order whatever the bucket it travels in. Every rank builds the same buckets
/// (same model, same graphs) and reduces them in the same order, so the collectives match.
final class OverlappedGradientSync: @unchecked Sendable {
    private let communicator: any Communicator
    private let pairStores: [GradientStore]
    private let buckets: [ArraySlice<Variable>]
    private var bucketOf: [ObjectIdentifier: Int] = [:]
    /// Per parameter: how many workers have yet to finish it.
    private var unfinishedWorkers: [ObjectIdentifier: Int] = [:]
    /// Per bucket: how many of its parameters are not final on this rank yet.
    private var unfinishedParameters: [Int]
    private let condition = NSCondition()
    private let done = DispatchSemaphore(value: 0)
    /// Deliveries still to come when each bucket became ready (for tests and `bench`: a bucket that
    /// became ready with deliveries to come could be sent while the backward pass went on).
    private(set) var remainingDeliveriesWhenReady: [Int]
    private var remainingDeliveries = 0
    /// Seconds the communication thread spent in all-reduces.
    private(set) var allReduceSeconds = 0.0

    /// - Parameters:
    ///   - reachable: per worker, the leaves its backward pass will finish, in the order it finishes
    ///     them (`Variable.leaves(reachableFrom:)`); only `parameters` among them are summed.
    ///   - pairStores: the stores the workers back-propagate into (workers 2k and 2k+1 share store k).
    init(parameters: [Variable], reachable: [[Variable]], pairStores: [GradientStore],
         communicator: any Communicator, bucketElements: Int) {
        (self.communicator, self.pairStores) = (communicator, pairStores)
        let trainable = Set(parameters.map(ObjectIdentifier.init))
        for leaves in reachable {
            for leaf in leaves where trainable.contains(ObjectIdentifier(leaf)) {
                unfinishedWorkers[ObjectIdentifier(leaf), default: 0] += 1
                remainingDeliveries += 1
            }
        }
        var seen = Set<ObjectIdentifier>()
        let summed = unfinishedWorkers
        let order = reachable.flatMap { $0 }.filter {
            summed[ObjectIdentifier($0)] != nil && seen.insert(ObjectIdentifier($0)).inserted
        }
        buckets = GradientBuckets.split(order, maxElements: bucketElements)
        for (b, bucket) in buckets.enumerated() { for p in bucket { bucketOf[ObjectIdentifier(p)] = b } }
        unfinishedParameters = buckets.map(\.count)
        remainingDeliveriesWhenReady = Array(repeating: -1, count: buckets.count)
    }

    /// Starts the communication thread: it all-reduces bucket 0, 1, … each once it is ready.
    func start() {
        let thread = Thread { [self] in
            for b in buckets.indices {
                condition.lock()
                while unfinishedParameters[b] > 0 { condition.wait() }
                condition.unlock()
                let start = DispatchTime.now().uptimeNanoseconds
                // A parameter the graph reaches without giving it a gradient keeps none, as after backward
                // (which parameters those are depends on the graph only, so every rank skips the same).
                communicator.allReduceGradients(ofBucket: ArraySlice(buckets[b].filter { $0.grad != nil }))
                allReduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// A worker's backward pass has finished `leaf` (called on the worker's thread). The last
    /// worker to finish a parameter adds the pairs' gradients into its `grad`.
    func finished(_ leaf: Variable) {
        let id = ObjectIdentifier(leaf)
        condition.lock()
        guard let left = unfinishedWorkers[id] else { condition.unlock(); return }
        unfinishedWorkers[id] = left - 1
        remainingDeliveries -= 1
        condition.unlock()
        guard left == 1 else { return }
        DataParallelStep.accumulate(leaf, from: pairStores)
        condition.lock()
        let b = bucketOf[id]!
        unfinishedParameters[b] -= 1
        if unfinishedParameters[b] == 0 {
            remainingDeliveriesWhenReady[b] = remainingDeliveries
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Waits until every bucket has been summed over ranks (call after the workers have finished).
    func wait() {
        done.wait()
    }
}
