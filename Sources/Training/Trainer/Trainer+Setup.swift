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

/// Run setup, one step each, in the order `Trainer.init` takes them: model config and objective,
/// tokenizer, memory check, model, weights, freezing, optimizer, resume, loader, step, run files.
extension Trainer {
    /// The model config (with the objective's `logit_bias` when it has a learnable bias, as SigLIP) and the objective.
    static func modelAndObjective(_ config: TrainingConfig) throws -> (ModelConfig, any Objective) {
        var modelConfig = try ModelConfig.resolve(config.model.config)
        let objective = try config.objective.makeObjective()
        if let bias = objective.initialScalars.logitBias, modelConfig.initLogitBias == nil { modelConfig.initLogitBias = bias }
        return (modelConfig, objective)
    }

    /// The tokenizer's context length, which must be the text tower's.
    static func contextLength(_ config: TrainingConfig, _ modelConfig: ModelConfig) throws -> Int {
        let contextLength = config.data.tokenizer.contextLength ?? modelConfig.textCfg.contextLength
        guard contextLength == modelConfig.textCfg.contextLength else {
            throw ConfigError("data.tokenizer.context_length \(contextLength) differs from the model's text context_length \(modelConfig.textCfg.contextLength)")
        }
        return contextLength
    }

    /// `data.tokenizer.vocab` (or the built-in CLIP vocabulary), whose ids must fit the model's vocabulary.
    static func tokenizer(_ config: TrainingConfig, _ modelConfig: ModelConfig) throws -> CLIPTokenizer {
        let tokenizer = try config.data.tokenizer.vocab.map { try CLIPTokenizer(mergesFile: URL(fileURLWithPath: $0)) } ?? CLIPTokenizer.bundled()
        guard tokenizer.vocabularySize <= modelConfig.textCfg.vocabSize else {
            throw ConfigError("model.config: \(config.model.config): text_cfg.vocab_size \(modelConfig.textCfg.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabularySize) token ids (\(config.data.tokenizer.vocab ?? "the built-in CLIP vocabulary"))")
        }
        return tokenizer
    }

    /// Refuses a run that would not fit this machine's memory, and logs the estimate.
    static func checkMemory(_ modelConfig: ModelConfig, _ config: TrainingConfig, log: (String) -> Void) throws {
        let memory = MemoryEstimate(model: modelConfig, config: config)
        let physical = MemoryEstimate.physicalMemory()
        try memory.check(available: physical, config: config)
        log("memory: about \(MemoryEstimate.gigabytes(memory.totalBytes)) estimated of this machine's \(MemoryEstimate.gigabytes(physical))")
    }

    /// The model with freshly drawn weights (seeded by `run.seed`), patch dropout checked, recomputation set.
    static func makeModel(_ modelConfig: ModelConfig, _ config: TrainingConfig) throws -> CLIPModel {
        let model = CLIPModel(modelConfig, seed: config.run.seed)
        if config.model.patchDropout > 0 && model.visual.patchTokenCount == nil {
            throw ConfigError("model.patch_dropout: the \(modelConfig.visionCfg.type) image tower has no patch tokens to drop")
        }
        model.setActivationRecomputation(config.train.recomputeActivations)
        return model
    }

    /// A new run's weights: `model.init` (OpenCLIP weights, Long-CLIP's stretched positional
    /// embedding, the image positional embedding resized when the weights were trained at another
    /// `image_size`, the scalars when the objectives agree), else the drawn weights with the objective's initial scalars.
    static func initializeWeights(of model: CLIPModel, _ modelConfig: ModelConfig, _ config: TrainingConfig,
                                  objective: any Objective, log: (String) -> Void) throws {
        guard let initPath = config.model.initWeights else {
            let initial = objective.initialScalars
            model.logitScale.value = Tensor(initial.logitScale)
            if let b = initial.logitBias, let bias = model.logitBias { bias.value = Tensor(b) }
            return
        }
        let weights = try RunCheckpoints.readInitWeights(initPath, log: log)
        if let hub = weights.hub { try requireSameNetwork(hub.model, declaredIn: hub.config, as: modelConfig, config) }
        var tensors = weights.tensors
        if config.model.stretchPositionalEmbedding {
            try LongCLIP.stretchOnLoad(&tensors, contextLength: modelConfig.textCfg.contextLength)
        }
        if let vit = model.visual as? VisionTransformer,
           let grids = try vit.resizePositionalEmbedding(in: &tensors, source: initPath) {
            log("model.init: resized visual.positional_embedding from \(grids.from) to \(grids.to) grid (bicubic, as OpenCLIP's resize_pos_embed)")
        }
        try takeOverScalars(&tensors, from: initPath, trainedWith: weights.metadata["objective"],
                            objective: objective, config: config.objective, log: log)
        try model.load(tensors, source: initPath)
    }

    /// Refuses `model.init` from a hub folder whose `model_cfg` differs from `model.config` in a value
    /// that changes what the network computes (`quick_gelu`, a head width: the weights may even load,
    /// into another network), naming each key with both values. With Long-CLIP's stretched positional
    /// embedding the text context lengths differ by design, and a ViT's `image_size` may differ: its
    /// positional embedding is resized (`VisionTransformer.resizePositionalEmbedding`).
    static func requireSameNetwork(_ hubModel: ModelConfig, declaredIn file: URL, as modelConfig: ModelConfig,
                                   _ config: TrainingConfig) throws {
        var differences = hubModel.differences(from: modelConfig)
        if config.model.stretchPositionalEmbedding { differences.removeAll { $0.key == "text_cfg.context_length" } }
        if hubModel.visionCfg.type == .vit && modelConfig.visionCfg.type == .vit {
            differences.removeAll { $0.key == "vision_cfg.image_size" }
        }
        guard !differences.isEmpty else { return }
        func list(_ items: [String]) -> String {
            items.count < 2 ? items.joined() : items.dropLast().joined(separator: ", ") + " and " + items.last!
        }
        throw ConfigError("model.init: \(file.path): " + differences.map { "model_cfg.\($0.key) \($0.value)" }.joined(separator: ", ")
            + ", but model.config (\(config.model.config)) has \(list(differences.map(\.otherValue))); the weights belong to "
            + "another network: make model.config the folder's model_cfg")
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

    /// `model.freeze`: the image tower trains unless `visual` is listed, the text tower unless
    /// `text` is; `logit_scale` and `logit_bias` always train.
    static func setTrainable(_ model: CLIPModel, freeze: [FrozenTower]) {
        model.visual.setTrainable(!freeze.contains(.visual))
        model.text.setTrainable(!freeze.contains(.text))
        model.logitScale.requiresGrad = true
        model.logitBias?.requiresGrad = true
    }

    /// The configured optimizer over the trainable parameters (weight decay on the parameters `decays` names).
    static func makeOptimizer(for model: CLIPModel, _ config: OptimizerSection) -> any Optimizer {
        let entries = model.namedParameters().filter { $0.parameter.requiresGrad }.map {
            ParameterGroupEntry(name: $0.name, parameter: $0.parameter,
                                weightDecay: decays($0.name, shape: $0.parameter.shape) ? config.weightDecay : 0)
        }
        switch config.type {
        case .sgd: return SGD(entries, momentum: config.momentum)
        case .adamw: return AdamW(entries, betas: (config.betas[0], config.betas[1]), eps: config.eps)
        }
    }

    /// Restores model, optimizer and state from `resume` (`"latest"` or a checkpoint path); a changed
    /// config is refused unless only keys that may change did (or `allowConfigChange`), and logged.
    /// Returns the state, carrying the current config, and the checkpoint folder.
    static func resume(_ resume: String, checkpoints: RunCheckpoints, model: CLIPModel, optimizer: any Optimizer,
                       modelHash: String, configText: String, allowConfigChange: Bool,
                       log: (String) -> Void) throws -> (TrainingState, URL) {
        let (saved, folder) = try checkpoints.resume(resume, model: model, optimizer: optimizer, expectedModelHash: modelHash, log: log)
        var state = saved
        state.layout = savedLayout(of: saved)   // before the config it may be read from is replaced
        let configHash = fingerprint(configText)
        if state.configHash != configHash {
            let changes = try ConfigChanges.check(checkpointConfig: state.config, current: configText,
                                                  checkpoint: folder.path, allowed: allowConfigChange)
            log("resuming with a changed config: \(changes)")
        }
        (state.configHash, state.config) = (configHash, configText)
        log("resuming \(folder.lastPathComponent) at step \(state.step)")
        return (state, folder)
    }

    /// The training loader over `data.train`: this rank's share of each batch, from the saved position when
    /// resuming (or, on another layout, from the positions the checkpoint's ranks left unconsumed).
    /// Tars are indexed into the run's `tar-index/` folder on first read (`TrainingSourceResolver`).
    static func makeLoader(_ config: TrainingConfig, imageSize: Int, tokenizer: CLIPTokenizer, contextLength: Int,
                           communicator: any Communicator, state: TrainingState, resumedFrom: URL?,
                           runDirectory: URL, log: @escaping (String) -> Void) throws -> DataLoader {
        let lines = Locked<[String]>([])   // indexing runs on worker threads; the lines are passed on here
        let resolver = TrainingSourceResolver(tarIndexes: TarIndexCache(folder: runDirectory.appendingPathComponent("tar-index").path),
                                              log: { line in lines.withLock { $0.append(line) } })
        let dataset = try openTrainingData(config, resolver: resolver)
        if communicator.rank == 0 { for line in lines.withLock({ $0 }) { log(line) } }
        let start = try loaderStart(in: state, datasetCount: dataset.count, layout: layout(config, communicator),
                                    rank: communicator.rank, resumed: resumedFrom, log: log)
        let augmentation = Augmentation(
            randomResizedCrop: config.data.augment.randomResizedCrop.map { RandomResizedCrop(scale: $0[0]...$0[1]) },
            horizontalFlip: config.data.augment.horizontalFlip)
        return try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: config.data.batchSize, imageSize: imageSize,
                                                   contextLength: contextLength, augmentation: augmentation, mode: .train,
                                                   shuffle: config.data.shuffle, seed: config.run.seed,
                                                   threads: config.data.loaderThreads,
                                                   share: try rankShare(config, communicator)),
            tokenizer: { tokenizer.tokenize($0, contextLength: contextLength) },
            resumeFrom: start.resumeFrom, dealtFrom: start.dealtFrom)
    }

    /// The data-parallel step (`train.workers`, `train.accumulation`, all ranks) in `train.precision`.
    static func makeStep(_ model: CLIPModel, _ objective: any Objective, _ config: TrainingConfig,
                         communicator: any Communicator) -> DataParallelStep {
        let step = DataParallelStep(model: model, objective: objective, workers: config.train.workers,
                                    accumulation: config.train.accumulation, communicator: communicator)
        step.precision = config.train.precision.resolved(nativeBF16: BF16Engine.detected.isNative)   // ranks agree in `runSteps`
        step.gradientSync = config.train.gradientSync.resolved(for: communicator, workers: config.train.workers)
        return step
    }

    /// Rank 0's run files: `config.yaml`, `metrics.jsonl` and the TensorBoard event files (cut after the
    /// resumed step); other ranks write nothing.
    static func openRunFiles(_ config: TrainingConfig, runDirectory: URL, communicator: any Communicator,
                             resumedAt step: Int?) throws -> MetricsLog {
        guard communicator.rank == 0 else { return MetricsLog() }
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        try (try config.yaml()).write(to: runDirectory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let metrics = try MetricsLog(url: runDirectory.appendingPathComponent("metrics.jsonl"), truncateAfterStep: step)
        if config.run.tensorboard { metrics.tensorBoard = try TensorBoardLog(directory: runDirectory, truncateAfterStep: step) }
        else { try TensorBoardLog.cutFiles(in: runDirectory, afterStep: step) }
        return metrics
    }
}
