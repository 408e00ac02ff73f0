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
    public let metrics: MetricsLog
    public private(set) var state: TrainingState
    let log: (String) -> Void
    let zeroShotDataset: ShardDataset?
    let contextLength: Int

    /// Prepares a run: builds or restores model, optimizer and loader.
    /// - Parameters:
    ///   - resume: nil for a new run, `"latest"` or a checkpoint folder path to continue.
    ///   - overwrite: allow reusing a run folder that already has checkpoints (new run only).
    public init(config: TrainingConfig, configFile: String? = nil, resume: String? = nil, overwrite: Bool = false,
                communicator: any Communicator = InProcessCommunicator(),
                log: @escaping (String) -> Void = { writeLine($0) }) throws {
        self.config = config
        self.communicator = communicator
        self.log = log
        runDirectory = URL(fileURLWithPath: config.run.outputDir).appendingPathComponent(config.run.name)
        checkpoints = RunCheckpoints(runDirectory: runDirectory)
        var modelConfig = try ModelConfig.load(URL(fileURLWithPath: config.model.config))
        let objective = try config.objective.makeObjective()
        self.objective = objective
        // Objectives with a learnable bias (SigLIP) need the model's `logit_bias`.
        if let bias = objective.initialScalars.logitBias, modelConfig.initLogitBias == nil { modelConfig.initLogitBias = bias }
        contextLength = config.data.tokenizer.contextLength ?? modelConfig.textCfg.contextLength
        guard contextLength == modelConfig.textCfg.contextLength else {
            throw ConfigError("data.tokenizer.context_length \(contextLength) differs from the model's text context_length \(modelConfig.textCfg.contextLength)")
        }
        model = CLIPModel(modelConfig, seed: config.run.seed)
        model.setActivationRecomputation(config.train.recomputeActivations)
        let modelHash = fingerprint(String(decoding: modelConfig.jsonData(), as: UTF8.self) + config.objective.type)
        let configHash = fingerprint((try? config.yaml()) ?? "")

        // Weights: from a checkpoint when resuming, else OpenCLIP weights when fine-tuning, else init.
        var resumeFrom: URL? = nil
        if let resume {
            resumeFrom = try checkpoints.resolve(resume)
        } else if !overwrite, try checkpoints.latest() != nil {
            throw ConfigError("\(runDirectory.path) already has checkpoints: pass --resume latest to continue, or --overwrite / another run.name to start over")
        }
        if resumeFrom == nil {
            if let initPath = config.model.initWeights {
                var tensors = try RunCheckpoints.readTensors(try ModelLoading.weightsURL(initPath))
                if config.model.stretchPositionalEmbedding, let pe = tensors["positional_embedding"],
                   pe.shape[0] != modelConfig.textCfg.contextLength {
                    let stretched = LongCLIP.stretchPositionalEmbedding(pe)
                    guard stretched.shape[0] == modelConfig.textCfg.contextLength else {
                        throw ConfigError("model.stretch_positional_embedding: the stretched embedding has \(stretched.shape[0]) positions but the model config's text context_length is \(modelConfig.textCfg.contextLength)")
                    }
                    tensors["positional_embedding"] = stretched
                }
                try model.load(tensors, source: initPath)
            } else {
                let initial = objective.initialScalars
                model.logitScale.value = Tensor(initial.logitScale)
                if let b = initial.logitBias, let bias = model.logitBias { bias.value = Tensor(b) }
            }
        }
        for tower in config.model.freeze { model.setTrainable(false, prefix: tower == "visual" ? "visual." : "") }
        if config.model.freeze.contains("text") {
            // The text tower sits at the root of the state dict: unfreeze the image tower and scalars again.
            if !config.model.freeze.contains("visual") { model.setTrainable(true, prefix: "visual.") }
            model.logitScale.requiresGrad = true
            model.logitBias?.requiresGrad = true
        }

        let entries = model.namedParameters().filter { $0.parameter.requiresGrad }.map {
            ParameterGroupEntry(name: $0.name, parameter: $0.parameter,
                                weightDecay: decays($0.name, shape: $0.parameter.shape) ? config.optimizer.weightDecay : 0)
        }
        optimizer = config.optimizer.type == "sgd"
            ? SGD(entries, momentum: config.optimizer.momentum)
            : AdamW(entries, betas: (config.optimizer.betas[0], config.optimizer.betas[1]), eps: config.optimizer.eps)

        state = TrainingState(step: 0, loader: LoaderState(), seed: config.run.seed, modelHash: modelHash,
                              configHash: configHash, consecutiveNonfinite: 0, skippedNonfinite: 0,
                              optimizer: config.optimizer.type, imagesSeen: 0)
        if let resumeFrom {
            state = try checkpoints.load(resumeFrom, model: model, optimizer: optimizer, expectedModelHash: modelHash)
            state.configHash = configHash
            log("resuming \(resumeFrom.lastPathComponent) at step \(state.step)")
        }

        tokenizer = try config.data.tokenizer.vocab.map { try CLIPTokenizer(mergesFile: URL(fileURLWithPath: $0)) } ?? CLIPTokenizer.bundled()
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
    public func run() throws -> Summary {
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
        communicator.broadcast(parameters: model.parameters)   // every rank starts from rank 0's weights
        while state.step < total {
            if communicator.any(StopSignal.isRequested) { stoppedEarly = true; break }   // every rank stops at the same step
            guard let batch = try loader.next() else { throw ConfigError("the training loader ended unexpectedly") }
            windowWait += loader.lastWaitSeconds
            waitTotal += loader.lastWaitSeconds
            let inputs = try towerInputs(batch)
            let loss = step.run(inputs)
            if config.model.stretchPositionalEmbedding, var g = model.text.positionalEmbedding.grad {
                LongCLIP.zeroFrozenRows(of: &g)   // Long-CLIP keeps CLIP's first 20 positions
                model.text.positionalEmbedding.grad = g
            }
            let finite = loss.isFinite && gradientsAreFinite()
            if finite {
                if let clip = config.train.gradClipNorm { clipGradientNorm(model.parameters, maxNorm: clip) }
                optimizer.update(lr: config.learningRateSchedule.lr(at: state.step))
                objective.constrain(step.scalars)
                state.consecutiveNonfinite = 0
                lastLoss = loss
            } else {
                state.skippedNonfinite += 1
                state.consecutiveNonfinite += 1
                log("step \(state.step + 1): non-finite loss or gradient, step skipped (\(state.consecutiveNonfinite) in a row)")
                if state.consecutiveNonfinite >= config.train.maxNonfiniteSteps {
                    _ = try? saveCheckpoint()
                    throw ConfigError("stopping: \(state.consecutiveNonfinite) consecutive non-finite steps (train.max_nonfinite_steps); lower optimizer.lr or set train.grad_clip_norm")
                }
            }
            model.zeroGradients()
            state.step += 1
            state.imagesSeen += batch.size * ranks
            state.loader = loader.state
            windowImages += batch.size * ranks
            if state.step % config.run.logEvery == 0 || state.step == total {
                let seconds = Date().timeIntervalSince(windowStart)
                let record = StepRecord(step: state.step, loss: Double(loss), lr: Double(config.learningRateSchedule.lr(at: state.step - 1)),
                                        logitScale: Double(Foundation.exp(model.logitScale.value.scalar)),
                                        imagesPerSecond: Double(windowImages) / max(seconds, 1e-9),
                                        dataWaitShare: windowWait / max(seconds, 1e-9),
                                        elapsedSeconds: Date().timeIntervalSince(startTime),
                                        trainingSeconds: Date().timeIntervalSince(startTime) - pausedSeconds)
                metrics.append(record)
                if communicator.rank == 0 { progress.report(record) }
                (windowStart, windowImages, windowWait) = (Date(), 0, 0)
            }
            let pauseStart = Date()
            if communicator.rank == 0, let z = config.eval.zeroshot, state.step % z.everySteps == 0, state.step < total {
                zeroShotTop1 = try evaluateZeroShot(limit: z.limit)
            }
            if state.step % config.checkpoint.everySteps == 0 || state.step == total {
                lastCheckpoint = try saveCheckpoint()
            }
            let paused = Date().timeIntervalSince(pauseStart)
            pausedSeconds += paused
            windowStart += paused   // throughput counts training time only
        }
        progress.finish()
        if stoppedEarly {
            lastCheckpoint = try saveCheckpoint()
            log("stopped at step \(state.step); checkpoint \(lastCheckpoint!.path). Continue with --resume latest")
        } else if config.eval.zeroshot != nil && communicator.rank == 0 {
            zeroShotTop1 = try evaluateZeroShot(limit: nil)
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
        if config.data.captionSource == "long_caption" && sets.main == nil {
            guard let long = batch.longCaptions else { throw ConfigError("data.caption_source: the training data has no /long_captions") }
            sets.main = long
        }
        let ctx = contextLength
        func tokens(_ captions: [String]) -> [Int32] { captions.flatMap { tokenizer.tokenize($0, contextLength: ctx) } }
        return TowerInputs(images: images, tokens: sets.main.map(tokens) ?? batch.tokens, extraTokens: sets.extra.map(tokens))
    }

    func gradientsAreFinite() -> Bool {
        for p in model.parameters {
            guard let g = p.grad else { continue }
            if !sumVectorized(g.pointer, g.count).isFinite { return false }
        }
        return true
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

    /// Zero-shot top-1 on the configured dataset; logged and appended to metrics.
    func evaluateZeroShot(limit: Int?) throws -> Double {
        guard let z = config.eval.zeroshot, let dataset = zeroShotDataset else { return 0 }
        guard let classnames = dataset.classnames else { throw ConfigError("eval.zeroshot.dataset: \(z.dataset) has no classnames attribute") }
        let templates = try z.templates.map { try ZeroShotClassifier.loadTemplates($0) } ?? ZeroShotClassifier.defaultTemplates
        let encoder = ModelEncoder(model: model, workers: config.train.workers, scoring: Scoring(objective: config.objective))
        let classifier = ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: classnames, templates: templates)
        let result = try classifier.evaluate(encoder: encoder, dataset: dataset, limit: limit)
        metrics.append(EvalRecord(step: state.step, zeroshotTop1: result.top1, zeroshotTop5: result.top5, images: result.count))
        log(String(format: "step %d: zero-shot top-1 %.2f%%, top-5 %.2f%% on %d images", state.step, 100 * result.top1, 100 * result.top5, result.count))
        return result.top1
    }
}
