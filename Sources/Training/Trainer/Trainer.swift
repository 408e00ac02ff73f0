import Foundation
import DataPipeline
import Checkpointing
import Tokenization

/// The training loop behind `swift run train --config X.yaml`: data-parallel steps, schedule,
/// clipping, non-finite step skipping, periodic checkpoints and zero-shot evaluation, exact resume.
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
    let zeroShotDataset: ShardDataset?
    let contextLength: Int

    /// Prepares a run: builds or restores model, optimizer and loader.
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
        var modelConfig = try ModelConfig.resolve(config.model.config)
        let objective = try config.objective.makeObjective()
        self.objective = objective
        // Objectives with a learnable bias (SigLIP) need the model's `logit_bias`.
        if let bias = objective.initialScalars.logitBias, modelConfig.initLogitBias == nil { modelConfig.initLogitBias = bias }
        contextLength = config.data.tokenizer.contextLength ?? modelConfig.textCfg.contextLength
        guard contextLength == modelConfig.textCfg.contextLength else {
            throw ConfigError("data.tokenizer.context_length \(contextLength) differs from the model's text context_length \(modelConfig.textCfg.contextLength)")
        }
        tokenizer = try config.data.tokenizer.vocab.map { try CLIPTokenizer(mergesFile: URL(fileURLWithPath: $0)) } ?? CLIPTokenizer.bundled()
        guard tokenizer.vocabularySize <= modelConfig.textCfg.vocabSize else {
            throw ConfigError("model.config: \(config.model.config): text_cfg.vocab_size \(modelConfig.textCfg.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabularySize) token ids (\(config.data.tokenizer.vocab ?? "the built-in CLIP vocabulary"))")
        }
        let memory = MemoryEstimate(model: modelConfig, config: config)
        let physical = MemoryEstimate.physicalMemory()
        try memory.check(available: physical, config: config)
        log("memory: about \(MemoryEstimate.gigabytes(memory.totalBytes)) estimated of this machine's \(MemoryEstimate.gigabytes(physical))")
        model = CLIPModel(modelConfig, seed: config.run.seed)
        if config.model.patchDropout > 0 && model.visual.patchTokenCount == nil {
            throw ConfigError("model.patch_dropout: the \(modelConfig.visionCfg.type) image tower has no patch tokens to drop")
        }
        model.setActivationRecomputation(config.train.recomputeActivations)
        let modelHash = fingerprint(String(decoding: modelConfig.jsonData(), as: UTF8.self) + config.objective.type)
        let configText = try config.yaml()
        let configHash = fingerprint(configText)

        // Weights: from a checkpoint when resuming, else OpenCLIP weights when fine-tuning, else init.
        var resumeFrom: URL? = nil
        if resume == nil, !overwrite, try checkpoints.exist() {
            throw ConfigError("\(runDirectory.path) already has checkpoints: pass --resume latest to continue, or --overwrite / another run.name to start over")
        }
        if resume == nil {
            if let initPath = config.model.initWeights {
                let weights = try RunCheckpoints.readInitWeights(initPath, log: log)
                var tensors = weights.tensors
                if config.model.stretchPositionalEmbedding {
                    try LongCLIP.stretchOnLoad(&tensors, contextLength: modelConfig.textCfg.contextLength)
                }
                try Self.takeOverScalars(&tensors, from: initPath, trainedWith: weights.metadata["objective"],
                                         objective: objective, config: config.objective, log: log)
                try model.load(tensors, source: initPath)
            } else {
                let initial = objective.initialScalars
                model.logitScale.value = Tensor(initial.logitScale)
                if let b = initial.logitBias, let bias = model.logitBias { bias.value = Tensor(b) }
            }
        }
        for tower in config.model.freeze { model.setTrainable(false, prefix: tower == .visual ? "visual." : "") }
        if config.model.freeze.contains(.text) {
            // The text tower sits at the root of the state dict: unfreeze the image tower and scalars again.
            if !config.model.freeze.contains(.visual) { model.setTrainable(true, prefix: "visual.") }
            model.logitScale.requiresGrad = true
            model.logitBias?.requiresGrad = true
        }

        let entries = model.namedParameters().filter { $0.parameter.requiresGrad }.map {
            ParameterGroupEntry(name: $0.name, parameter: $0.parameter,
                                weightDecay: decays($0.name, shape: $0.parameter.shape) ? config.optimizer.weightDecay : 0)
        }
        switch config.optimizer.type {
        case .sgd: optimizer = SGD(entries, momentum: config.optimizer.momentum)
        case .adamw: optimizer = AdamW(entries, betas: (config.optimizer.betas[0], config.optimizer.betas[1]), eps: config.optimizer.eps)
        }

        state = TrainingState(step: 0, loader: LoaderState(), seed: config.run.seed, modelHash: modelHash,
                              configHash: configHash, config: configText, consecutiveNonfinite: 0, skippedNonfinite: 0,
                              optimizer: config.optimizer.type.rawValue, imagesSeen: 0)
        try checkpoints.requireSpace(model: model, optimizer: optimizer)
        if let resume {
            let folder: URL
            (state, folder) = try checkpoints.resume(resume, model: model, optimizer: optimizer, expectedModelHash: modelHash, log: log)
            if state.configHash != configHash {
                let changes = try ConfigChanges.check(checkpointConfig: state.config, current: configText,
                                                      checkpoint: folder.path, allowed: allowConfigChange)
                log("resuming with a changed config: \(changes)")
            }
            (state.configHash, state.config) = (configHash, configText)
            resumeFrom = folder
            log("resuming \(folder.lastPathComponent) at step \(state.step)")
        }

        let dataset = try ShardDataset(paths: config.data.train)
        let augmentation = Augmentation(
            randomResizedCrop: config.data.augment.randomResizedCrop.map { RandomResizedCrop(scale: $0[0]...$0[1]) },
            horizontalFlip: config.data.augment.horizontalFlip)
        let tok = tokenizer, ctx = contextLength
        loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: config.data.batchSize, imageSize: model.visual.imageSize,
                                                   contextLength: ctx, augmentation: augmentation, mode: .train,
                                                   shuffle: config.data.shuffle, seed: config.run.seed,
                                                   threads: config.data.loaderThreads,
                                                   share: try Self.rankShare(config, communicator)),
            tokenizer: { tok.tokenize($0, contextLength: ctx) },
            resumeFrom: try Self.loaderState(in: state, for: communicator, resumed: resumeFrom))
        step = DataParallelStep(model: model, objective: objective, workers: config.train.workers,
                                accumulation: config.train.accumulation, communicator: communicator)
        step.precision = config.train.precision
        zeroShotDataset = try config.eval.zeroshot.map { try ShardDataset(path: $0.dataset) }

        guard communicator.rank == 0 else { metrics = MetricsLog(); return }
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        try (try config.yaml()).write(to: runDirectory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        metrics = try MetricsLog(url: runDirectory.appendingPathComponent("metrics.jsonl"),
                                 truncateAfterStep: resumeFrom == nil ? nil : state.step)
    }

    public struct Summary: Sendable {
        public var finalStep: Int
        public var lastLoss: Float?
        public var stoppedEarly: Bool
        public var checkpoint: URL?
        public var zeroShotTop1: Double?
        public var dataWaitShare: Double
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

    private func runSteps() throws -> Summary {
        let total = config.train.steps
        let workers = config.train.workers
        // Workers use single-threaded BLAS when they occupy every core.
        Parallel.setBLASThreads(workers >= Parallel.threads ? 1 : max(1, Parallel.threads / workers))
        let progress = ProgressReporter(total: total, every: config.run.logEvery, output: log)
        var lastLoss: Float? = nil
        var lastCheckpoint: URL? = nil
        var stoppedEarly = false
        var zeroShotTop1: Double? = nil
        let startTime = Date()
        var windowStart = Date(), windowImages = 0, windowWait = 0.0, waitTotal = 0.0, pausedSeconds = 0.0
        let ranks = communicator.worldSize
        log("training \(config.run.name): \(model.parameterCount) parameters, \(config.objective.type) objective, batch \(config.data.batchSize), \(ranks > 1 ? "\(ranks) ranks × " : "")\(workers) workers → \(runDirectory.path)")
        if step.precision == .bf16 { log(BF16Engine.detected.summary) }
        communicator.broadcast(parameters: model.parameters)   // every rank starts from rank 0's weights
        while state.step < total {
            if communicator.any(StopSignal.isRequested) { stoppedEarly = true; break }   // every rank stops at the same step
            guard let batch = try loader.next() else { throw ConfigError("the training loader ended unexpectedly") }
            windowWait += loader.lastWaitSeconds
            waitTotal += loader.lastWaitSeconds
            let inputs = try towerInputs(batch)
            let loss = step.run(inputs)
            if config.model.stretchPositionalEmbedding { LongCLIP.freezeRows(of: model.text.positionalEmbedding) }
            let lr = config.learningRateSchedule.lr(at: state.step)
            // A non-finite update is never applied: parameters and optimizer moments stay as they were.
            var nonfinite: NonfiniteCause? = loss.isFinite ? firstNonfiniteGradient().map(NonfiniteCause.gradient) : .loss
            if nonfinite == nil {
                if let clip = config.train.gradClipNorm { clipGradientNorm(model.parameters, maxNorm: clip) }
                if let name = optimizer.firstNonfiniteUpdate(lr: lr) {
                    nonfinite = .parameter(name, optimizer: optimizer.displayName)
                } else {
                    optimizer.update(lr: lr)
                    objective.constrain(step.scalars)
                    state.consecutiveNonfinite = 0
                    lastLoss = loss
                }
            }
            if let cause = nonfinite {
                state.skippedNonfinite += 1
                state.consecutiveNonfinite += 1
                log("step \(state.step + 1): \(cause), step skipped (\(state.consecutiveNonfinite) in a row)")
            }
            model.zeroGradients()
            state.step += 1
            state.imagesSeen += batch.size * ranks
            state.loader = loader.state
            windowImages += batch.size * ranks
            if state.step % config.run.logEvery == 0 || state.step == total || nonfinite != nil {
                let seconds = Date().timeIntervalSince(windowStart)
                let record = StepRecord(step: state.step, loss: loss.isFinite ? Double(loss) : nil, lr: Double(lr),
                                        logitScale: Double(objective.logitMultiplier(model.logitScale.value.scalar)),
                                        imagesPerSecond: Double(windowImages) / max(seconds, 1e-9),
                                        dataWaitShare: windowWait / max(seconds, 1e-9),
                                        elapsedSeconds: Date().timeIntervalSince(startTime),
                                        trainingSeconds: Date().timeIntervalSince(startTime) - pausedSeconds,
                                        nonfinite: nonfinite?.kind)
                try metrics.append(record)
                if communicator.rank == 0 { progress.report(record) }
                (windowStart, windowImages, windowWait) = (Date(), 0, 0)
            }
            if let cause = nonfinite, state.consecutiveNonfinite >= config.train.maxNonfiniteSteps {
                progress.finish()
                let message = "stopping: \(state.consecutiveNonfinite) consecutive non-finite steps (train.max_nonfinite_steps), the last: \(cause); \(cause.advice)"
                try? metrics.append(EventRecord(kind: "stop", step: state.step, reason: "nonfinite", message: message))
                _ = try? saveCheckpoint()
                throw ConfigError(message)
            }
            let pauseStart = Date()
            // The checkpoint comes first: an evaluation that fails never costs the step's checkpoint.
            if state.step % config.checkpoint.everySteps == 0 || state.step == total {
                lastCheckpoint = try saveCheckpoint()
            }
            if communicator.rank == 0, let z = config.eval.zeroshot, state.step % z.everySteps == 0, state.step < total {
                zeroShotTop1 = evaluateZeroShotLoggingFailure(limit: z.limit) ?? zeroShotTop1
            }
            let paused = Date().timeIntervalSince(pauseStart)
            pausedSeconds += paused
            windowStart += paused   // throughput counts training time only
        }
        progress.finish()
        if stoppedEarly {
            lastCheckpoint = try saveCheckpoint()
            try metrics.append(EventRecord(kind: "stop", step: state.step, reason: "signal", message: "stop requested (signal)"))
            log("stopped at step \(state.step); checkpoint \(lastCheckpoint!.path). Continue with --resume latest")
        } else {
            if config.eval.zeroshot != nil && communicator.rank == 0 {
                zeroShotTop1 = evaluateZeroShotLoggingFailure(limit: nil) ?? zeroShotTop1
            }
            try metrics.append(EventRecord(kind: "stop", step: state.step, reason: "completed", message: "reached train.steps"))
            writeReport()
        }
        let share = waitTotal / max(Date().timeIntervalSince(startTime), 1e-9)
        if loader.skippedCount > 0 { log("data: \(loader.skippedCount) items skipped (see messages above)") }
        return Summary(finalStep: state.step, lastLoss: lastLoss, stoppedEarly: stoppedEarly, checkpoint: lastCheckpoint,
                       zeroShotTop1: zeroShotTop1, dataWaitShare: share)
    }

    /// Images and token rows of a batch, including the objective's extra caption sets.
    func towerInputs(_ batch: Batch) throws -> TowerInputs {
        let s = batch.imageSize
        let images = Tensor(shape: [batch.size, s, s, 3], scalars: batch.images)
        var sets = CaptionSets.make(for: objective, captions: batch.captions, longCaptions: batch.longCaptions,
                                    indices: batch.indices, epoch: batch.epoch, seed: config.run.seed)
        if config.data.captionSource == .longCaption && sets.main == nil {
            guard let long = batch.longCaptions else { throw ConfigError("data.caption_source: the training data has no /long_captions") }
            sets.main = long
        }
        let ctx = contextLength
        func tokens(_ captions: [String]) -> [Int32] { captions.flatMap { tokenizer.tokenize($0, contextLength: ctx) } }
        return TowerInputs(images: images, tokens: sets.main.map(tokens) ?? batch.tokens, extraTokens: sets.extra.map(tokens),
                           keptPatches: keptPatches(batch))
    }

    /// Patch dropout: each sample's kept patches, from a seed of (run seed, epoch, dataset index),
    /// so the choice is the same for any worker count and after resuming. [B, K] row-major.
    func keptPatches(_ batch: Batch) -> [Int]? {
        guard config.model.patchDropout > 0, let patches = model.visual.patchTokenCount else { return nil }
        let dropout = PatchDropout(rate: config.model.patchDropout)
        return batch.indices.flatMap { index in
            dropout.keptPatches(of: patches, seed: RandomGenerator.derivedSeed(config.run.seed, domain: 5, UInt64(batch.epoch), UInt64(index)))
        }
    }

    /// The name of the first parameter whose gradient is not finite, or nil.
    func firstNonfiniteGradient() -> String? {
        for (name, p) in model.namedParameters() {
            guard let g = p.grad else { continue }
            if !sumVectorized(g.pointer, g.count).isFinite { return name }
        }
        return nil
    }

    /// Takes `logit_scale` (and `logit_bias`) from the `model.init` checkpoint only when it was
    /// trained with an objective that reads them the same way; otherwise starts them from this
    /// objective's defaults and says so (ALIGN's σ is not CLIP's logit scale, SigLIP needs a bias).
    static func takeOverScalars(_ tensors: inout [String: Tensor], from initPath: String, trainedWith source: String?,
                                objective: any Objective, config: ObjectiveConfig, log: (String) -> Void) throws {
        guard !config.sharesScalars(withCheckpointOf: source) else { return }
        let initial = objective.initialScalars
        tensors["logit_scale"] = Tensor(initial.logitScale)
        tensors["logit_bias"] = initial.logitBias.map { Tensor($0) }
        let bias = initial.logitBias.map { ", logit_bias \($0)" } ?? ""
        log("model.init: \(initPath) was trained with \(source.map { "the \($0) objective" } ?? "no recorded objective (OpenCLIP: clip)"); \(config.type) starts its scalars from its defaults (logit_scale \(initial.logitScale)\(bias))")
    }

    @discardableResult
    func saveCheckpoint() throws -> URL {
        state.rankLoaders = gatherLoaderStates()   // a collective: every rank comes here at the same step
        guard communicator.rank == 0 else { return checkpoints.runDirectory.appendingPathComponent("checkpoints/" + CheckpointStore.folderName(step: state.step)) }
        let url = try checkpoints.save(step: state.step, model: model, optimizer: optimizer, state: state,
                                       keepLast: config.checkpoint.keepLast,
                                       modelMetadata: Scoring.metadata(for: config.objective))
        writeReport()
        return url
    }

    func writeReport() {
        guard communicator.rank == 0 else { return }
        let html = TrainingReport.html(title: "SwiftCLIP run \(config.run.name)", steps: metrics.steps, evals: metrics.evals)
        try? html.write(to: runDirectory.appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
    }

    /// `evaluateZeroShot`, with a failure logged and recorded in `metrics.jsonl` (kind
    /// `eval_failed`) instead of ending the run; nil then.
    func evaluateZeroShotLoggingFailure(limit: Int?) -> Double? {
        do { return try evaluateZeroShot(limit: limit) } catch {
            let message = String(describing: error).replacingOccurrences(of: "\n", with: " ")
            log("step \(state.step): zero-shot evaluation failed, training goes on: \(message)")
            try? metrics.append(EventRecord(kind: "eval_failed", step: state.step, message: message))
            return nil
        }
    }

    /// Zero-shot top-1 on the configured dataset; logged and appended to metrics. An evaluation
    /// of no images is an error, never a top-1 of 0.
    func evaluateZeroShot(limit: Int?) throws -> Double {
        guard let z = config.eval.zeroshot, let dataset = zeroShotDataset else { throw ConfigError("eval.zeroshot: not configured") }
        guard let classnames = dataset.classnames else { throw ConfigError("eval.zeroshot.dataset: \(z.dataset) has no classnames attribute") }
        let templates = try z.templates.map { try ZeroShotClassifier.loadTemplates($0) } ?? ZeroShotClassifier.defaultTemplates
        let encoder = ModelEncoder(model: model, workers: config.train.workers, scoring: Scoring(objective: config.objective),
                                   precision: step.precision)
        let classifier = ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: classnames, templates: templates)
        let result = try classifier.evaluate(encoder: encoder, dataset: dataset, limit: limit)
        guard result.count > 0 else { throw ConfigError("eval.zeroshot.dataset: \(z.dataset): no image could be evaluated") }
        try metrics.append(EvalRecord(step: state.step, zeroshotTop1: result.top1, zeroshotTop5: result.top5, images: result.count))
        log(String(format: "step %d: zero-shot top-1 %.2f%%, top-5 %.2f%% on %d images", state.step, 100 * result.top1, 100 * result.top5, result.count))
        return result.top1
    }
}
