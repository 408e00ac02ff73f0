import Foundation
@_exported import NeuralNet
@_exported import Objectives
@_exported import Optimization

/// The inputs of one global batch for both towers.
public struct TowerInputs: @unchecked Sendable {
    /// [B, H, W, 3], normalized, channels last.
    public var images: Tensor
    /// [B, ctx] token ids of the main caption, row-major.
    public var tokens: [Int32]
    /// Further caption sets (Long-CLIP short captions, multi-positive sub-captions), each [B, ctx].
    public var extraTokens: [[Int32]]
    /// Patch dropout: [B, K] row-major indices of the patches each image keeps, or nil for all.
    public var keptPatches: [Int]?

    public init(images: Tensor, tokens: [Int32], extraTokens: [[Int32]] = [], keptPatches: [Int]? = nil) {
        (self.images, self.tokens, self.extraTokens, self.keptPatches) = (images, tokens, extraTokens, keptPatches)
    }

    public var batchSize: Int { images.shape[0] }

    /// Rows `range` of every input.
    public func slice(_ range: Range<Int>) -> TowerInputs {
        func rows<T>(_ t: [T]) -> [T] {
            let width = t.count / max(batchSize, 1)
            return Array(t[(range.lowerBound * width)..<(range.upperBound * width)])
        }
        return TowerInputs(images: images.slice(axis: 0, range), tokens: rows(tokens), extraTokens: extraTokens.map(rows),
                           keptPatches: keptPatches.map(rows))
    }
}

/// One data-parallel gradient step inside a process (DESIGN.md):
///
/// 1. the batch is split into `workers` contiguous slices; each worker thread runs both towers on
///    its slice with single-threaded kernels;
/// 2. features are gathered in worker order and the objective runs once on the global batch;
/// 3. each worker back-propagates the gradient of its own features; workers 2k and 2k+1 share a
///    gradient store, which then holds the sum of their two gradients (the same in either
///    arrival order, see `GradientStore`), so gradients take ⌈workers/2⌉ stores, not one per worker;
/// 4. the pairs' sums are added in order into `parameter.grad`, moving each tensor (no copies).
///
/// With `accumulation = k`, the features of all k micro-batches are first computed without a
/// tape, the loss and feature gradients come from the full batch, then each micro-batch is
/// re-run with a tape and back-propagates its cached gradient (GradCache / OpenCLIP's
/// accum-freq), which gives the exact large-batch gradient.
/// Results depend only on the seed, the batch and the worker count, never on thread timing.
public final class DataParallelStep {
    public let model: CLIPModel
    public let objective: any Objective
    public let workers: Int
    public let accumulation: Int
    /// GEMM precision of the towers' forward and backward on the worker threads (the objective runs
    /// on the calling thread, in fp32 unless the caller sets otherwise).
    public var precision = MatmulPrecision.fp32

    public init(model: CLIPModel, objective: any Objective, workers: Int, accumulation: Int = 1) {
        ensure(workers >= 1 && accumulation >= 1, "workers and accumulation must be at least 1")
        (self.model, self.objective, self.workers, self.accumulation) = (model, objective, workers, accumulation)
    }

    public var scalars: ObjectiveScalars { ObjectiveScalars(logitScale: model.logitScale, logitBias: model.logitBias) }

    /// Runs forward, loss and backward; leaves the summed gradients in each parameter's `grad`
    /// (replacing what was there). Returns the loss.
    @discardableResult
    public func run(_ batch: TowerInputs) -> Float {
        let b = batch.batchSize
        ensure(b % (workers * accumulation) == 0,
                     "batch size \(b) must be divisible by workers × accumulation = \(workers * accumulation)")
        model.zeroGradients()
        let micro = b / accumulation
        let microBatches = (0..<accumulation).map { batch.slice(($0 * micro)..<(($0 + 1) * micro)) }
        let features: Features
        var taped: [WorkerFeatures]? = nil   // the one micro-batch's graphs, when there is one
        if accumulation == 1 {
            let graphs = forwardParallel(microBatches[0])
            taped = graphs
            features = gather(graphs, detach: true)
        } else {
            let cached = GradMode.noGrad { microBatches.map { forwardParallel($0) } }
            features = gather(cached.flatMap { $0 }, detach: true)
        }
        // Objective on the global batch.
        let lossStore = GradientStore()
        Profiler.markStartIfEnabled()
        let loss = objective.loss(features, scalars)
        loss.backward(into: lossStore)
        absorb(lossStore)
        // Back-propagate each micro-batch's feature gradients through the towers.
        for j in 0..<accumulation {
            let graphs = taped.take() ?? forwardParallel(microBatches[j])
            let perWorker = micro / workers
            let pairStores = (0..<(workers + 1) / 2).map { _ in GradientStore() }
            runWorkers { w in
                let offset = j * micro + w * perWorker
                graphs[w].backward(seedsFrom: features, rows: offset..<(offset + perWorker), lossStore: lossStore, into: pairStores[w / 2])
            }
            for store in pairStores { absorb(store) }
        }
        return loss.value.scalar
    }

    /// Runs `body(worker)` on `workers` threads, each with single-threaded kernels and GEMMs in `precision`.
    func runWorkers(_ body: @escaping (Int) -> Void) {
        let precision = self.precision
        if workers == 1 { Profiler.markStartIfEnabled(); MatmulPrecision.with(precision) { body(0) }; return }
        let box = UncheckedBox(body)
        let noGrad = !GradMode.isEnabled
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            Parallel.withThreadBudget(1) {
                Profiler.markStartIfEnabled()
                MatmulPrecision.with(precision) { if noGrad { GradMode.noGrad { box.value(w) } } else { box.value(w) } }
            }
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

    /// Concatenates worker features into leaf variables of the global batch.
    func gather(_ parts: [WorkerFeatures], detach: Bool) -> Features {
        func cat(_ vs: [Variable]) -> Variable { Variable(Tensor.concat(vs.map(\.value), axis: 0), requiresGrad: true) }
        let extraCount = parts[0].extraTexts.count
        return Features(
            image: cat(parts.map(\.image)), text: cat(parts.map(\.text)),
            imageTokens: parts[0].imageTokens == nil ? nil : cat(parts.map { $0.imageTokens! }),
            textTokens: parts[0].textTokens == nil ? nil : cat(parts.map { $0.textTokens! }),
            textMask: parts[0].textMask == nil ? nil : Tensor.concat(parts.map { $0.textMask! }, axis: 0),
            extraTexts: (0..<extraCount).map { k in cat(parts.map { $0.extraTexts[k] }) })
    }

    /// Adds the parameters' gradients in `store` to their `grad`, taking the tensors out of the
    /// store so that the first becomes `grad` itself and later ones are added in place.
    func absorb(_ store: GradientStore) {
        let params = model.parameters
        Parallel.forEachChunk(params.count) { range in
            for i in range {
                let p = params[i]
                if let g = store.take(p) { if p.grad == nil { p.grad = g } else { p.grad! += g } }
            }
        }
    }
}

/// The outputs of one worker's forward pass (with their graphs when recording).
struct WorkerFeatures {
    var image: Variable
    var text: Variable
    var imageTokens: Variable?
    var textTokens: Variable?
    var textMask: Tensor?
    var extraTexts: [Variable]

    init(model: CLIPModel, inputs: TowerInputs, needs: ObjectiveNeeds) {
        let b = inputs.batchSize
        let img = model.encodeImage(inputs.images, returnTokens: needs.tokens, keptPatches: inputs.keptPatches)
        let txt = model.encodeText(inputs.tokens, batch: b, returnTokens: needs.tokens)
        (image, text, imageTokens, textTokens) = (img.pooled, txt.pooled, img.tokens, txt.tokens)
        if needs.tokens {
            let ctx = model.config.textCfg.contextLength
            let ends = model.text.endPositions(inputs.tokens, batch: b)
            let mask = Tensor.zeros([b, ctx])
            for r in 0..<b { for t in 0...ends[r] { mask.pointer[r * ctx + t] = 1 } }
            textMask = mask
        }
        extraTexts = inputs.extraTokens.map { model.encodeText($0, batch: b).pooled }
    }

    /// Back-propagates the gradients that the objective gave to rows `rows` of the global features.
    func backward(seedsFrom global: Features, rows: Range<Int>, lossStore: GradientStore, into store: GradientStore) {
        func seed(_ v: Variable) -> Tensor {
            (lossStore[v] ?? Tensor.zeros(v.shape)).slice(axis: 0, rows)
        }
        var outputs: [(Variable, Tensor)] = [(image, seed(global.image)), (text, seed(global.text))]
        if let t = imageTokens, let g = global.imageTokens { outputs.append((t, seed(g))) }
        if let t = textTokens, let g = global.textTokens { outputs.append((t, seed(g))) }
        for (k, e) in extraTexts.enumerated() { outputs.append((e, seed(global.extraTexts[k]))) }
        Variable.backward(outputs, into: store)
    }
}
