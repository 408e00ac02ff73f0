import Foundation
import Distributed
import NeuralNet
import Objectives
import Optimization
import TensorCore
import Autograd
import DataPipeline
import Tokenization
import Checkpointing
import ModelStore
import Evaluation

/// One data-parallel gradient step over ranks × workers (docs/DESIGN.md):
///
/// 1. this rank's rows of the global batch are split into `workers` contiguous slices; each worker
///    thread runs both towers on its slice with single-threaded kernels;
/// 2. features are concatenated in worker order, all-gathered in rank order through the
///    `communicator`, and the objective runs on the global batch (on every rank, identically);
/// 3. each worker back-propagates the objective's gradient of its own feature rows; workers 2k and
///    2k+1 share a gradient store, which then holds the sum of their two gradients (the same in
///    either arrival order, see `GradientStore`), so gradients take ⌈workers/2⌉ stores;
/// 4. the pairs' sums are added in order into `parameter.grad`, then summed over ranks in rank
///    order (`Communicator.allReduceSum`), then the objective's own parameter gradients
///    (logit scale and bias, the same on every rank) are added.
///
/// With `accumulation = k`, the features of all k micro-batches are first computed without a
/// tape, the loss and feature gradients come from the full batch, then each micro-batch is
/// re-run with a tape and back-propagates its cached gradient (GradCache / OpenCLIP's
/// accum-freq), which gives the exact large-batch gradient. Micro-batch j of the global batch is
/// rows j·m ..< (j+1)·m (m = B / k), and rank r holds rows r·m/R ..< (r+1)·m/R of each (the loader's
/// `RankShare`), so the global order of the features is the same for every rank count.
/// With `gradientSync = .overlapped` the rank sum of step 4 starts bucket by bucket during the last
/// backward round (`OverlappedGradientSync`), with the same result.
/// Results depend only on the seed, the batch and ranks × workers, never on thread or message timing;
/// R ranks × 1 worker equal 1 rank × R workers bit for bit when R ≤ 2 (same additions).
public final class DataParallelStep {
    /// When gradients are summed over ranks (`DataParallelStep.gradientSync`).
    public enum GradientSync: Sendable { case afterBackward, overlapped }

    public let model: CLIPModel
    public let objective: any Objective
    public let workers: Int
    public let accumulation: Int
    public let communicator: any Communicator
    /// GEMM precision of the towers' forward and backward on the worker threads (the objective runs
    /// on the calling thread, in fp32 unless the caller sets otherwise).
    public var precision = MatmulPrecision.fp32
    /// When the gradient sum over ranks runs: after the backward pass, or overlapped with it.
    /// Either way the result is the same, bit for bit.
    public var gradientSync = GradientSync.afterBackward
    /// Bucket size (floats) of the overlapped all-reduce: small enough that the first bucket
    /// leaves early, large enough that messages stay few.
    public var overlapBucketElements = 1 << 20
    /// Seconds the last `run` spent waiting for collectives (feature all-gather, and the gradient
    /// all-reduce or, overlapped, the part of it the backward pass did not hide).
    public private(set) var lastCommunicationSeconds = 0.0
    /// Of the last `run`, when overlapped: seconds the communication thread spent in all-reduces,
    /// and for each bucket how many parameter deliveries the backward pass still had to make when
    /// the bucket was ready to leave.
    public private(set) var lastOverlap: (allReduceSeconds: Double, remainingDeliveriesWhenReady: [Int])?

    public init(model: CLIPModel, objective: any Objective, workers: Int, accumulation: Int = 1,
                communicator: any Communicator = InProcessCommunicator()) {
        ensure(workers >= 1 && accumulation >= 1, "workers and accumulation must be at least 1")
        (self.model, self.objective, self.workers, self.accumulation) = (model, objective, workers, accumulation)
        self.communicator = communicator
    }

    public var scalars: ObjectiveScalars { ObjectiveScalars(logitScale: model.logitScale, logitBias: model.logitBias) }

    /// Runs forward, loss and backward on this rank's rows of the global batch; leaves the
    /// gradients summed over every rank and worker in each parameter's `grad` (replacing what was
    /// there). Returns the loss of the global batch.
    /// - Parameter batch: this rank's rows (B / worldSize of the global batch B), micro-batch by micro-batch.
    @discardableResult
    public func run(_ batch: TowerInputs) -> Float {
        let b = batch.batchSize
        ensure(b % (workers * accumulation) == 0,
                     "batch size \(b) must be divisible by workers × accumulation = \(workers * accumulation)")
        model.zeroGradients()
        lastCommunicationSeconds = 0
        let micro = b / accumulation                     // this rank's rows of one micro-batch
        let globalMicro = micro * communicator.worldSize
        let microBatches = (0..<accumulation).map { batch.slice(($0 * micro)..<(($0 + 1) * micro)) }
        let features: Features
        var taped: [WorkerFeatures]? = nil   // the one micro-batch's graphs, when there is one
        if accumulation == 1 {
            let graphs = forwardParallel(microBatches[0])
            taped = graphs
            features = gather([graphs])
        } else {
            let cached = GradMode.noGrad { microBatches.map { forwardParallel($0) } }
            features = gather(cached)
        }
        // Objective on the global batch.
        let lossStore = GradientStore()
        Profiler.markStartIfEnabled()
        let loss = objective.loss(features, scalars)
        loss.backward(into: lossStore)
        // Back-propagate each micro-batch's feature gradients through the towers; the last round's
        // gradients are summed over ranks during its backward pass (`.overlapped`) or after it.
        let overlapping = gradientSync == .overlapped && communicator.worldSize > 1 && communicator.allowsCollectivesFromAnyThread
        lastOverlap = nil
        for j in 0..<accumulation {
            let graphs = taped.take() ?? forwardParallel(microBatches[j])
            let perWorker = micro / workers
            let pairStores = (0..<(workers + 1) / 2).map { _ in GradientStore() }
            let rankOffset = j * globalMicro + communicator.rank * micro
            var sync: OverlappedGradientSync? = nil
            if overlapping && j == accumulation - 1 {
                let reachable = graphs.map { Variable.leaves(reachableFrom: $0.outputs(matching: features).map(\.output)) }
                sync = OverlappedGradientSync(parameters: model.parameters, reachable: reachable, pairStores: pairStores,
                                              communicator: communicator, bucketElements: overlapBucketElements)
                sync!.start()
            }
            runWorkers { [sync] w in
                let offset = rankOffset + w * perWorker
                graphs[w].backward(seedsFrom: features, rows: offset..<(offset + perWorker), lossStore: lossStore,
                                   into: pairStores[w / 2], finished: sync.map { s in { s.finished($0) } })
            }
            if let sync {   // it has already moved each parameter's pair sums into `grad`
                timingCommunication { sync.wait() }
                lastOverlap = (sync.allReduceSeconds, sync.remainingDeliveriesWhenReady)
            } else {
                for store in pairStores { absorb(store) }
            }
        }
        if !overlapping { timingCommunication { communicator.allReduceGradients(of: model.parameters) } }
        absorb(lossStore)
        return loss.value.scalar
    }

    /// Runs `body(worker)` on `workers` threads, each with single-threaded kernels, in the caller's
    /// grad mode and with GEMMs in `precision`.
    func runWorkers(_ body: (Int) -> Void) {
        let noGrad = !GradMode.isEnabled, precision = self.precision
        Parallel.forEachWorker(workers) { w in
            Profiler.markStartIfEnabled()
            MatmulPrecision.with(precision) { if noGrad { GradMode.noGrad { body(w) } } else { body(w) } }
        }
    }

    /// Forward of both towers on each worker's slice.
    func forwardParallel(_ batch: TowerInputs) -> [WorkerFeatures] {
        let per = batch.batchSize / workers
        let results = UncheckedBox(UnsafeMutableBufferPointer<WorkerFeatures?>.allocate(capacity: workers))
        results.value.initialize(repeating: nil)
        defer { results.value.deallocate() }
        let needs = objective.needs
        runWorkers { w in
            let slice = batch.slice((w * per)..<((w + 1) * per))
            results.value[w] = WorkerFeatures(model: self.model, inputs: slice, needs: needs)
        }
        return results.value.map { $0! }
    }

    /// The global batch's features as leaf variables: for each micro-batch, this rank's workers'
    /// features concatenated, then all ranks' gathered in rank order; micro-batches one after another.
    /// - Parameter microBatches: [micro-batch][worker] features of this rank.
    func gather(_ microBatches: [[WorkerFeatures]]) -> Features {
        func global(_ field: (WorkerFeatures) -> Tensor) -> Tensor {
            let parts = microBatches.map { workers in
                let local = Tensor.concat(workers.map(field), axis: 0)
                return timingCommunication { communicator.allGather(rows: local) }
            }
            return parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 0)
        }
        func leaf(_ field: (WorkerFeatures) -> Variable) -> Variable { Variable(global { field($0).value }, requiresGrad: true) }
        let first = microBatches[0][0]
        return Features(
            image: leaf(\.image), text: leaf(\.text),
            imageTokens: first.imageTokens == nil ? nil : leaf { $0.imageTokens! },
            textTokens: first.textTokens == nil ? nil : leaf { $0.textTokens! },
            textMask: first.textMask == nil ? nil : global { $0.textMask! },
            extraTexts: (0..<first.extraTexts.count).map { k in leaf { $0.extraTexts[k] } })
    }

    /// Adds the parameters' gradients in `store` to their `grad`, taking the tensors out of the
    /// store so that the first becomes `grad` itself and later ones are added in place.
    func absorb(_ store: GradientStore) {
        let params = model.parameters
        Parallel.forEachChunk(params.count) { range in
            for i in range { Self.accumulate(params[i], from: [store]) }
        }
    }

    /// Adds `parameter`'s gradients in `stores` to its `grad`, in order (see `absorb`).
    static func accumulate(_ parameter: Variable, from stores: [GradientStore]) {
        for store in stores {
            if let g = store.take(parameter) { if parameter.grad == nil { parameter.grad = g } else { parameter.grad! += g } }
        }
    }

    private func timingCommunication<R>(_ body: () -> R) -> R {
        guard communicator.worldSize > 1 else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { lastCommunicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return body()
    }
}
