import Foundation
import DataPipeline
import Checkpointing
import Tokenization
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import Distributed
import ModelStore
import Evaluation

/// The training loop behind `swift run train --config X.yaml`: data-parallel steps, schedule,
/// clipping, non-finite step skipping, periodic checkpoints, zero-shot and retrieval evaluation, exact resume.
///
/// Read it as `init` (the run setup, one named step each in `Trainer+Setup.swift`), then `runSteps`
/// (the loop) and `trainStep` (one optimizer step). The policies are small types of their own:
/// `Cadence` (which steps log, checkpoint, evaluate), `NonfinitePolicy` (skipped steps and the stop),
/// `ThroughputWindow` (images/s, data wait, paused time). Under MPI every rank runs the same steps;
/// rank 0 alone holds the run lock, writes files and evaluates.
public final class Trainer {
    public let config: TrainingConfig
    public let runDirectory: URL
    public let model: CLIPModel
    public let objective: any Objective
    public let optimizer: any Optimizer
    public let tokenizer: CLIPTokenizer
    public let loader: DataLoader
    public let step: DataParallelStep
    /// The ranks of this job (one in-process rank unless launched by `mpirun`/`srun`); rank 0 alone writes run files.
    public let communicator: any Communicator
    public let checkpoints: RunCheckpoints
    /// Held by rank 0 for the trainer's lifetime: no second process trains in this run folder.
    let lock: RunLock?
    public let metrics: MetricsLog
    public private(set) var state: TrainingState
    let log: (String) -> Void
    let zeroShotDataset: (any DatasetSource)?
    let retrievalDataset: (any DatasetSource)?
    let contextLength: Int
    /// The latest zero-shot evaluation's per-class results, for the report.
    var lastZeroShot: TrainingReport.ZeroShotSnapshot?
    /// This rank's samples per mixture source since the last `syncSourceSamples` (empty: none).
    var unsyncedSourceSamples: [Int] = []

    /// Called with each logged step's record (every `run.log_every` steps, and skipped steps), on every rank.
    public var onStep: ((StepRecord) -> Void)?
    /// Called with each zero-shot evaluation's record (rank 0, which alone evaluates).
    public var onEvaluation: ((EvalRecord) -> Void)?
    /// Called with each retrieval evaluation's record (rank 0, which alone evaluates).
    public var onRetrieval: ((RetrievalRecord) -> Void)?
    private let cancelled = Locked(false)

    /// Asks the run to stop after the current step, as a stop signal does: it checkpoints and `run`
    /// returns with `stoppedEarly`. Safe from any thread; cancelling the Swift task that runs `run()` does the same.
    public func cancel() { cancelled.withLock { $0 = true } }

    /// Whether `cancel()` was called or the task running the trainer was cancelled.
    public var isCancelled: Bool { cancelled.withLock { $0 } || Task.isCancelled }

    /// What the `train` command sets before a run, and a program may: kernel threads for this
    /// process's share of the cores, and OpenBLAS threads for `train.workers` workers side by side
    /// (single-threaded BLAS once the workers fill the cores). Process-wide, so the trainer never
    /// sets it by itself.
    public static func configureThreads(for config: TrainingConfig, threads: Int) {
        Parallel.configure(threads: threads)
        Parallel.configureBLAS(forWorkers: config.train.workers)
    }

    /// Prepares a run: builds or restores model, optimizer and loader (the steps are in `Trainer+Setup.swift`).
    /// - Parameters:
    ///   - resume: nil for a new run, `"latest"` or a checkpoint path (`RunCheckpoints.resume`) to continue.
    ///   - overwrite: allow reusing a run folder that already has checkpoints (new run only).
    ///   - allowConfigChange: resume although keys outside `ConfigChanges.mayChangeOnResume` changed
    ///     (the differences are logged).
    public init(config: TrainingConfig, resume: String? = nil, overwrite: Bool = false,
                allowConfigChange: Bool = false, communicator: any Communicator = InProcessCommunicator(),
                log: @escaping (String) -> Void = { writeLine($0) }) throws {
        self.config = config
        self.communicator = communicator
        self.log = log
        runDirectory = URL(fileURLWithPath: config.run.outputDir).appendingPathComponent(config.run.name)
        checkpoints = RunCheckpoints(runDirectory: runDirectory)
        if resume != nil && overwrite { throw ConfigError("--overwrite starts over and --resume continues: pass one of them") }
        lock = communicator.rank == 0 ? try RunLock(runDirectory: runDirectory) : nil

        let (modelConfig, objective) = try Self.modelAndObjective(config)
        self.objective = objective
        contextLength = try Self.contextLength(config, modelConfig)
        tokenizer = try Self.tokenizer(config, modelConfig)
        try Self.checkMemory(modelConfig, config, log: log)
        model = try Self.makeModel(modelConfig, config)
        let modelHash = fingerprint(String(decoding: modelConfig.jsonData(), as: UTF8.self) + config.objective.type)
        let configText = try config.yaml()

        // Weights: from a checkpoint when resuming, else OpenCLIP weights when fine-tuning, else init.
        if resume == nil, !overwrite, try checkpoints.exist() {
            throw ConfigError("\(runDirectory.path) already has checkpoints: pass --resume latest to continue, or --overwrite / another run.name to start over")
        }
        if resume == nil { try Self.initializeWeights(of: model, modelConfig, config, objective: objective, log: log) }
        Self.setTrainable(model, freeze: config.model.freeze)
        optimizer = Self.makeOptimizer(for: model, config.optimizer)
        state = TrainingState(step: 0, loader: LoaderState(), seed: config.run.seed, modelHash: modelHash,
                              configHash: fingerprint(configText), config: configText, consecutiveNonfinite: 0,
                              skippedNonfinite: 0, optimizer: config.optimizer.type.rawValue, imagesSeen: 0)
        try checkpoints.requireSpace(model: model, optimizer: optimizer)
        var resumedFrom: URL? = nil
        if let resume {
            (state, resumedFrom) = try Self.resume(resume, checkpoints: checkpoints, model: model, optimizer: optimizer,
                                                   modelHash: modelHash, configText: configText,
                                                   allowConfigChange: allowConfigChange, log: log)
        }

        loader = try Self.makeLoader(config, imageSize: model.visual.imageSize, tokenizer: tokenizer, contextLength: contextLength,
                                     communicator: communicator, state: state, resumedFrom: resumedFrom,
                                     runDirectory: runDirectory, log: log)
        state.loader = loader.state   // this rank's own position in its stream, before the first step too
        step = Self.makeStep(model, objective, config, communicator: communicator)
        zeroShotDataset = try config.eval.zeroshot.map { try DatasetSourceRegistry.open($0.dataset) }
        if let z = config.eval.zeroshot, let names = zeroShotDataset?.classnames {   // refused now, not at the first evaluation
            try ZeroShotClassifier.requireDistinct(names, tokenizer: tokenizer, source: "eval.zeroshot.dataset: \(z.dataset): classnames attribute")
        }
        retrievalDataset = try config.eval.retrieval.map { try DatasetSourceRegistry.open($0.dataset) }
        metrics = try Self.openRunFiles(config, runDirectory: runDirectory, communicator: communicator,
                                        resumedAt: resumedFrom == nil ? nil : state.step)
    }

    public struct Summary: Sendable {
        public var finalStep: Int
        public var lastLoss: Float?
        public var stoppedEarly: Bool
        public var checkpoint: URL?
        public var zeroShotTop1: Double?
        public var dataWaitShare: Double
        /// For a mixture of training sources: the samples drawn from each source (all ranks), by name.
        public var sourceSamples: [String: Int]? = nil
    }

    /// Trains until `train.steps` (or a stop signal), checkpointing and evaluating as configured.
    /// However the run ends, the last line of `metrics.jsonl` says why (`"kind": "stop"`).
    public func run() throws -> Summary {
        do { return try runSteps() } catch {
            if metrics.events.last?.kind != "stop" {
                let message = String(describing: error).replacingOccurrences(of: "\n", with: " ")
                try? metrics.append(EventRecord(kind: "stop", step: state.step, reason: "error", message: message))
            }
            throw error
        }
    }

    /// The loop: every rank takes the same steps and agrees on stopping; rank 0 alone writes and evaluates.
    private func runSteps() throws -> Summary {
        let cadence = Cadence(config)
        let nonfinitePolicy = NonfinitePolicy(maxConsecutive: config.train.maxNonfiniteSteps)
        let progress = ProgressReporter(total: cadence.total, every: config.run.logEvery, output: log)
        var clock = ThroughputWindow()
        var lastLoss: Float? = nil, lastCheckpoint: URL? = nil, zeroShotTop1: Double? = nil
        var stoppedEarly = false
        let ranks = communicator.worldSize
        log("training \(config.run.name): \(model.parameterCount) parameters, \(config.objective.type) objective, batch \(config.data.batchSize), \(ranks > 1 ? "\(ranks) ranks × " : "")\(config.train.workers) workers → \(runDirectory.path)")
        // `auto` on machines that differ: bf16 only if every rank runs it natively (one arithmetic for the
        // job). A collective, so here, where every rank arrives, not in setup (which may fail on one rank).
        if config.train.precision == .auto && communicator.any(step.precision == .fp32) { step.precision = .fp32 }
        switch (config.train.precision, step.precision) {
        case (.auto, .bf16): log("train.precision auto: bf16 — " + BF16Engine.detected.summary)
        case (.auto, _): log("train.precision auto: fp32 — bf16 GEMMs are not native on \(ranks > 1 ? "every rank's CPU" : "this CPU (\(BF16Engine.cpuISA))")")
        case (_, .bf16): log(BF16Engine.detected.summary)
        default: break
        }
        communicator.broadcast(parameters: model.parameters)   // every rank starts from rank 0's weights
        while state.step < cadence.total {
            if communicator.any(StopSignal.isRequested || isCancelled) { stoppedEarly = true; break }   // every rank stops at the same step
            guard let batch = try loader.next() else { throw RunError("the training loader ended unexpectedly") }
            let lr = config.learningRateSchedule.lr(at: state.step)
            let (loss, nonfinite) = try trainStep(batch, lr: lr)
            if let line = nonfinitePolicy.record(nonfinite, step: state.step + 1, in: &state) { log(line) } else { lastLoss = loss }
            state.step += 1
            state.imagesSeen += batch.size * ranks
            state.loader = loader.state
            countSources(of: batch)
            clock.add(images: batch.size * ranks, waitSeconds: loader.lastWaitSeconds)

            if cadence.logs(state.step) { syncSourceSamples() }   // a collective, at the same steps on every rank
            if cadence.logs(state.step) || nonfinite != nil {
                var record = stepRecord(loss: loss, lr: lr, nonfinite: nonfinite, time: clock.read())
                if cadence.logs(state.step) { record.sourceSamples = sourceSampleCounts }
                try metrics.append(record)
                if communicator.rank == 0 { progress.report(record) }
                onStep?(record)
            }
            if let message = nonfinitePolicy.stopMessage(after: nonfinite, state: state) {
                progress.finish()
                try? metrics.append(EventRecord(kind: "stop", step: state.step, reason: "nonfinite", message: message))
                _ = try? saveCheckpoint()
                throw ConfigError(message)
            }
            try clock.pausing {
                // The checkpoint comes first: an evaluation that fails never costs the step's checkpoint.
                if cadence.checkpoints(state.step) { lastCheckpoint = try saveCheckpoint() }
                if communicator.rank == 0, cadence.evaluates(state.step), let z = config.eval.zeroshot {
                    zeroShotTop1 = evaluateZeroShotLoggingFailure(limit: z.limit) ?? zeroShotTop1
                }
                if communicator.rank == 0, cadence.evaluatesRetrieval(state.step), let r = config.eval.retrieval {
                    evaluateRetrievalLoggingFailure(limit: r.limit)
                }
            }
        }
        progress.finish()
        if stoppedEarly {
            lastCheckpoint = try saveCheckpoint()
            let (reason, message) = StopSignal.isRequested ? ("signal", "stop requested (signal)") : ("cancelled", "stop requested (cancelled)")
            try metrics.append(EventRecord(kind: "stop", step: state.step, reason: reason, message: message))
            log("stopped at step \(state.step); checkpoint \(lastCheckpoint!.path). Continue with --resume latest")
        } else {
            if config.eval.zeroshot != nil && communicator.rank == 0 {   // the final evaluation
                zeroShotTop1 = evaluateZeroShotLoggingFailure(limit: nil) ?? zeroShotTop1
            }
            if config.eval.retrieval != nil && communicator.rank == 0 { evaluateRetrievalLoggingFailure(limit: nil) }
            try metrics.append(EventRecord(kind: "stop", step: state.step, reason: "completed", message: "reached train.steps"))
            writeReport()
        }
        if loader.skippedCount > 0 { log("data: \(loader.skippedCount) items skipped (see messages above)") }
        syncSourceSamples()   // every rank ends here at the same step
        if communicator.rank == 0, let line = sourceSummaryLine() { log(line) }
        return Summary(finalStep: state.step, lastLoss: lastLoss, stoppedEarly: stoppedEarly, checkpoint: lastCheckpoint,
                       zeroShotTop1: zeroShotTop1, dataWaitShare: clock.dataWaitShare, sourceSamples: sourceSampleCounts)
    }

    /// The `metrics.jsonl` line of the step just taken (`loss` nil when not finite).
    func stepRecord(loss: Float, lr: Float, nonfinite: NonfiniteCause?, time: ThroughputWindow.Reading) -> StepRecord {
        StepRecord(step: state.step, loss: loss.isFinite ? Double(loss) : nil, lr: Double(lr),
                   logitMultiplier: Double(objective.logitMultiplier(model.logitScale.value.scalar)),
                   imagesPerSecond: time.imagesPerSecond, dataWaitShare: time.dataWaitShare,
                   elapsedSeconds: time.elapsedSeconds, trainingSeconds: time.trainingSeconds, nonfinite: nonfinite?.kind,
                   dataTime: time.stepDataSeconds, batchTime: time.stepSeconds, samplesPerSecond: time.stepImagesPerSecond)
    }

    /// One optimizer step on `batch` (forward and backward on every worker and rank), with Long-CLIP's
    /// frozen rows and the update unless the loss, a gradient or the update is not finite (`NonfinitePolicy`:
    /// nothing changes then). Gradients are cleared afterwards.
    func trainStep(_ batch: Batch, lr: Float) throws -> (loss: Float, nonfinite: NonfiniteCause?) {
        let loss = step.run(try towerInputs(batch))
        if config.model.stretchPositionalEmbedding { LongCLIP.freezeRows(of: model.text.positionalEmbedding) }
        defer { model.zeroGradients() }
        if let cause = NonfinitePolicy.cause(loss: loss, gradientsOf: model) { return (loss, cause) }
        if let clip = config.train.gradClipNorm { clipGradientNorm(model.parameters, maxNorm: clip) }
        if let name = optimizer.firstNonfiniteUpdate(lr: lr) { return (loss, .parameter(name, optimizer: optimizer.displayName)) }
        optimizer.update(lr: lr)
        objective.constrain(step.scalars)
        return (loss, nil)
    }

    /// Saves the step's checkpoint. A collective: every rank calls it at the same steps (the ranks'
    /// loader positions are gathered); rank 0 alone writes the checkpoint and `report.html`.
    @discardableResult
    func saveCheckpoint() throws -> URL {
        state.rankLoaders = gatherLoaderStates()   // a collective: every rank comes here at the same step
        syncSourceSamples()                         // likewise
        (state.layout, state.dealtFrom) = dataRecord(positions: state.rankLoaders ?? [state.loader])
        guard communicator.rank == 0 else { return checkpoints.runDirectory.appendingPathComponent("checkpoints/" + CheckpointStore.folderName(step: state.step)) }
        let url = try checkpoints.save(step: state.step, model: model, optimizer: optimizer, state: state,
                                       keepLast: config.checkpoint.keepLast,
                                       modelMetadata: try Similarity.checkpointMetadata(for: config.objective))
        writeReport()
        return url
    }

    /// Adds every rank's samples per source since the last call to `state.sourceSamples`. A collective:
    /// every rank calls it at the same steps (logged steps, checkpoints, the end).
    func syncSourceSamples() {
        guard let mixture else { return }
        let sources = mixture.components.count
        var local = unsyncedSourceSamples.isEmpty ? [Int](repeating: 0, count: sources) : unsyncedSourceSamples
        if communicator.worldSize > 1 {
            let all = communicator.allGather(local)
            local = (0..<sources).map { s in stride(from: s, to: all.count, by: sources).reduce(0) { $0 + all[$1] } }
        }
        // A checkpoint of another mixture (resumed with --allow-config-change) starts the counts anew.
        let before = state.sourceSamples.flatMap { $0.count == sources ? $0 : nil } ?? [Int](repeating: 0, count: sources)
        state.sourceSamples = zip(before, local).map(+)
        unsyncedSourceSamples = []
    }

    func writeReport() {
        guard communicator.rank == 0 else { return }
        let report = TrainingReport(runName: config.run.name, configYAML: (try? config.yaml()) ?? "",
                                    machine: .current(precision: step.precision, ranks: communicator.worldSize, workers: config.train.workers),
                                    totalSteps: config.train.steps, steps: metrics.steps, evals: metrics.evals, retrievals: metrics.retrievals, events: metrics.events, zeroShot: lastZeroShot,
                                    skippedSteps: state.skippedNonfinite, skippedItems: loader.skippedItems.map(\.description))
        try? report.html().write(to: runDirectory.appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
    }
}
