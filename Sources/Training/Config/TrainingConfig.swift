import Foundation
import Yams
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// The training configuration (YAML or JSON), as documented in docs/DESIGN.md and the README.
/// Every section rejects unknown keys; `validate` checks values and files.
public struct TrainingConfig: Codable, Equatable {
    public var run: RunSection
    public var model: ModelSection
    public var objective: ObjectiveConfig
    public var data: DataSection
    public var optimizer: OptimizerSection
    public var schedule: ScheduleSection
    public var train: TrainSection
    public var checkpoint: CheckpointSection
    public var eval: EvalSection

    enum CodingKeys: String, CodingKey, CaseIterable { case run, model, objective, data, optimizer, schedule, train, checkpoint, eval }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        run = try c.decodeUnlessNull(RunSection.self, forKey: .run) ?? RunSection()
        model = try c.decode(ModelSection.self, forKey: .model)
        objective = try c.decodeUnlessNull(ObjectiveConfig.self, forKey: .objective) ?? .default
        data = try c.decode(DataSection.self, forKey: .data)
        optimizer = try c.decodeUnlessNull(OptimizerSection.self, forKey: .optimizer) ?? OptimizerSection()
        schedule = try c.decodeUnlessNull(ScheduleSection.self, forKey: .schedule) ?? ScheduleSection()
        train = try c.decodeUnlessNull(TrainSection.self, forKey: .train) ?? TrainSection()
        checkpoint = try c.decodeUnlessNull(CheckpointSection.self, forKey: .checkpoint) ?? CheckpointSection()
        eval = try c.decodeUnlessNull(EvalSection.self, forKey: .eval) ?? EvalSection()
    }
}

public struct RunSection: Codable, Equatable {
    public var name = "run"
    public var outputDir = "runs"
    public var seed: UInt64 = 0
    /// Steps between progress lines and `metrics.jsonl` records.
    public var logEvery = 10
    /// Write TensorBoard event files into the run folder (OpenCLIP's tags; `TensorBoardLog`).
    public var tensorboard = true
    enum CodingKeys: String, CodingKey, CaseIterable { case name, outputDir = "output_dir", seed, logEvery = "log_every", tensorboard }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeUnlessNull(String.self, forKey: .name) ?? name
        outputDir = try c.decodeUnlessNull(String.self, forKey: .outputDir) ?? outputDir
        seed = try c.decodeUnlessNull(UInt64.self, forKey: .seed) ?? seed
        logEvery = try c.decodeUnlessNull(Int.self, forKey: .logEvery) ?? logEvery
        tensorboard = try c.decodeUnlessNull(Bool.self, forKey: .tensorboard) ?? tensorboard
    }
}

public struct ModelSection: Codable, Equatable {
    /// OpenCLIP model-config JSON.
    public var config: String
    /// OpenCLIP-format safetensors to fine-tune from (strict load).
    public var initWeights: String?
    /// Towers to freeze: `visual` (LiT-style) and/or `text`.
    public var freeze: [FrozenTower] = []
    /// Long-CLIP: stretch a 77-position text positional embedding to 248 on load.
    public var stretchPositionalEmbedding = false
    /// FLIP patch dropout: the fraction of patch tokens each training image drops (0 = off).
    public var patchDropout = 0.0
    /// FLIP's unmasked tuning: the last N of `train.steps` see every patch (0 = patch dropout to the end).
    public var unmaskedTuningSteps = 0
    enum CodingKeys: String, CodingKey, CaseIterable {
        case config, initWeights = "init", freeze, stretchPositionalEmbedding = "stretch_positional_embedding"
        case patchDropout = "patch_dropout", unmaskedTuningSteps = "unmasked_tuning_steps"
    }
    public init(config: String) { self.config = config }
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.rejectNull(forKey: .config)
        config = try c.decode(String.self, forKey: .config)
        initWeights = try c.decodeIfPresent(String.self, forKey: .initWeights)
        freeze = try c.decodeChoices(FrozenTower.self, forKey: .freeze) ?? freeze
        stretchPositionalEmbedding = try c.decodeUnlessNull(Bool.self, forKey: .stretchPositionalEmbedding) ?? stretchPositionalEmbedding
        patchDropout = try c.decodeUnlessNull(Double.self, forKey: .patchDropout) ?? patchDropout
        unmaskedTuningSteps = try c.decodeUnlessNull(Int.self, forKey: .unmaskedTuningSteps) ?? unmaskedTuningSteps
    }
}

public struct TokenizerSection: Codable, Equatable {
    /// A BPE merges file (`.txt.gz`); null = the built-in CLIP vocabulary.
    public var vocab: String?
    public var contextLength: Int?
    enum CodingKeys: String, CodingKey, CaseIterable { case vocab, contextLength = "context_length" }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocab = try c.decodeIfPresent(String.self, forKey: .vocab)
        contextLength = try c.decodeIfPresent(Int.self, forKey: .contextLength)
    }
}

public struct AugmentSection: Codable, Equatable, Sendable {
    /// Scale range of random resized crop; nil = no crop (resize + center crop).
    public var randomResizedCrop: [Double]? = [0.9, 1.0]
    public var horizontalFlip = false
    enum CodingKeys: String, CodingKey, CaseIterable { case randomResizedCrop = "random_resized_crop", horizontalFlip = "horizontal_flip" }
    public init() {}
    public static let none: AugmentSection = { var a = AugmentSection(); a.randomResizedCrop = nil; return a }()
    public init(from decoder: Decoder) throws {
        if (try? decoder.container(keyedBy: AnyKey.self)) == nil {
            let s = (try? decoder.singleValueContainer().decode(String.self)) ?? "a list"
            guard s == "none" else { throw ConfigError("data.augment: expected a mapping or none, got \(s)") }
            self = .none
            return
        }
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        randomResizedCrop = try c.decodeIfPresent([Double].self, forKey: .randomResizedCrop)
        horizontalFlip = try c.decodeUnlessNull(Bool.self, forKey: .horizontalFlip) ?? horizontalFlip
    }
}

public struct DataSection: Codable, Equatable {
    /// A folder of shards, one `.h5`, WebDataset tars (a `.tar`/`.tar.gz`/`.tgz`, a folder of them or a
    /// brace pattern such as `shards/{00000..00099}.tar`), or a list of one kind (one dataset,
    /// `TrainingSourceResolver`); or a weighted mixture of such sources, `[{source, weight}]` (`MixtureDataset`).
    public var train: TrainData
    /// Sample `data.train` with replacement (OpenCLIP's `--dataset-resampled`): each sample draws a
    /// source by weight and an item of it uniformly. For sources much larger than a run.
    public var resampled = false
    public var tokenizer = TokenizerSection()
    public var batchSize = 128
    public var shuffle = true
    public var augment = AugmentSection()
    public var loaderThreads = 2
    /// Which text is the main caption: `caption` (/captions) or `long_caption` (/long_captions).
    public var captionSource = CaptionSource.caption
    enum CodingKeys: String, CodingKey, CaseIterable {
        case train, tokenizer, batchSize = "batch_size", shuffle, augment, loaderThreads = "loader_threads"
        case captionSource = "caption_source", resampled
    }
    public init(train: [String]) { self.train = .paths(train) }
    public init(train: TrainData) { self.train = train }
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.rejectNull(forKey: .train)
        train = try c.decode(TrainData.self, forKey: .train)
        resampled = try c.decodeUnlessNull(Bool.self, forKey: .resampled) ?? resampled
        tokenizer = try c.decodeUnlessNull(TokenizerSection.self, forKey: .tokenizer) ?? tokenizer
        batchSize = try c.decodeUnlessNull(Int.self, forKey: .batchSize) ?? batchSize
        shuffle = try c.decodeUnlessNull(Bool.self, forKey: .shuffle) ?? shuffle
        augment = try c.decodeUnlessNull(AugmentSection.self, forKey: .augment) ?? augment
        loaderThreads = try c.decodeUnlessNull(Int.self, forKey: .loaderThreads) ?? loaderThreads
        captionSource = try c.decodeChoice(CaptionSource.self, forKey: .captionSource) ?? captionSource
    }
    /// The keys in their old order, `resampled` only when set: a config without it saves (and hashes) as before.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(train, forKey: .train)
        try c.encode(tokenizer, forKey: .tokenizer)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(shuffle, forKey: .shuffle)
        try c.encode(augment, forKey: .augment)
        try c.encode(loaderThreads, forKey: .loaderThreads)
        try c.encode(captionSource, forKey: .captionSource)
        if resampled { try c.encode(resampled, forKey: .resampled) }
    }
}

public struct OptimizerSection: Codable, Equatable {
    public var type = OptimizerKind.adamw
    public var lr: Float = 5e-4
    public var betas: [Float] = [0.9, 0.98]
    public var eps: Float = 1e-6
    public var weightDecay: Float = 0.2
    public var momentum: Float = 0.9
    enum CodingKeys: String, CodingKey, CaseIterable { case type, lr, betas, eps, weightDecay = "weight_decay", momentum }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeChoice(OptimizerKind.self, forKey: .type) ?? type
        lr = try c.decodeUnlessNull(Float.self, forKey: .lr) ?? lr
        betas = try c.decodeUnlessNull([Float].self, forKey: .betas) ?? betas
        eps = try c.decodeUnlessNull(Float.self, forKey: .eps) ?? eps
        weightDecay = try c.decodeUnlessNull(Float.self, forKey: .weightDecay) ?? weightDecay
        momentum = try c.decodeUnlessNull(Float.self, forKey: .momentum) ?? momentum
    }
}

public struct ScheduleSection: Codable, Equatable {
    public var type = ScheduleKind.cosine
    public var warmupSteps = 100
    public var cooldownSteps: Int?
    public var power: Float = 1
    public var endLR: Float = 0
    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, warmupSteps = "warmup_steps", cooldownSteps = "cooldown_steps", power, endLR = "end_lr"
    }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeChoice(ScheduleKind.self, forKey: .type) ?? type
        warmupSteps = try c.decodeUnlessNull(Int.self, forKey: .warmupSteps) ?? warmupSteps
        cooldownSteps = try c.decodeIfPresent(Int.self, forKey: .cooldownSteps)
        power = try c.decodeUnlessNull(Float.self, forKey: .power) ?? power
        endLR = try c.decodeUnlessNull(Float.self, forKey: .endLR) ?? endLR
    }
}

public struct TrainSection: Codable, Equatable {
    public var steps = 1000
    public var workers = 2
    public var accumulation = 1
    public var gradClipNorm: Float?
    /// Stop after this many consecutive steps with a non-finite loss or gradient.
    public var maxNonfiniteSteps = 5
    /// Recompute each transformer block in the backward pass instead of keeping its activations.
    public var recomputeActivations = false
    /// GEMM precision of the towers: `fp32`, `bf16` (inputs rounded to bf16, fp32 accumulation;
    /// `MatmulPrecision`) or `auto` (bf16 where the CPU runs it natively).
    public var precision = PrecisionChoice.fp32
    /// When gradients are summed over ranks (MPI): `auto`, `overlap` (during the backward pass) or `after_backward`.
    public var gradientSync = GradientSyncChoice.auto
    enum CodingKeys: String, CodingKey, CaseIterable {
        case steps, workers, accumulation, gradClipNorm = "grad_clip_norm", maxNonfiniteSteps = "max_nonfinite_steps"
        case recomputeActivations = "recompute_activations", precision, gradientSync = "gradient_sync"
    }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        steps = try c.decodeUnlessNull(Int.self, forKey: .steps) ?? steps
        workers = try c.decodeUnlessNull(Int.self, forKey: .workers) ?? workers
        accumulation = try c.decodeUnlessNull(Int.self, forKey: .accumulation) ?? accumulation
        gradClipNorm = try c.decodeIfPresent(Float.self, forKey: .gradClipNorm)
        maxNonfiniteSteps = try c.decodeUnlessNull(Int.self, forKey: .maxNonfiniteSteps) ?? maxNonfiniteSteps
        recomputeActivations = try c.decodeUnlessNull(Bool.self, forKey: .recomputeActivations) ?? recomputeActivations
        precision = try c.decodeChoice(PrecisionChoice.self, forKey: .precision) ?? precision
        gradientSync = try c.decodeChoice(GradientSyncChoice.self, forKey: .gradientSync) ?? gradientSync
    }
}

public struct CheckpointSection: Codable, Equatable {
    public var everySteps = 500
    public var keepLast = 3
    enum CodingKeys: String, CodingKey, CaseIterable { case everySteps = "every_steps", keepLast = "keep_last" }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        everySteps = try c.decodeUnlessNull(Int.self, forKey: .everySteps) ?? everySteps
        keepLast = try c.decodeUnlessNull(Int.self, forKey: .keepLast) ?? keepLast
    }
}

public struct ZeroShotSection: Codable, Equatable {
    public var dataset: String
    public var templates: String?
    public var everySteps = 500
    /// Evaluate on at most this many images during training (all at the end).
    public var limit: Int?
    enum CodingKeys: String, CodingKey, CaseIterable { case dataset, templates, everySteps = "every_steps", limit }
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.rejectNull(forKey: .dataset)
        dataset = try c.decode(String.self, forKey: .dataset)
        templates = try c.decodeIfPresent(String.self, forKey: .templates)
        everySteps = try c.decodeUnlessNull(Int.self, forKey: .everySteps) ?? everySteps
        limit = try c.decodeIfPresent(Int.self, forKey: .limit)
    }
}

/// `eval.retrieval`: image↔text retrieval on a captioned dataset during training, as
/// `evaluate --task retrieval` scores it (`RetrievalResult.evaluate`, the objective's similarity).
public struct RetrievalEvalSection: Codable, Equatable {
    public var dataset: String
    public var everySteps = 500
    /// Evaluate on the first this many items during training (all at the end).
    public var limit: Int?
    enum CodingKeys: String, CodingKey, CaseIterable { case dataset, everySteps = "every_steps", limit }
    public init(dataset: String) { self.dataset = dataset }
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.rejectNull(forKey: .dataset)
        dataset = try c.decode(String.self, forKey: .dataset)
        everySteps = try c.decodeUnlessNull(Int.self, forKey: .everySteps) ?? everySteps
        limit = try c.decodeIfPresent(Int.self, forKey: .limit)
    }
}

public struct EvalSection: Codable, Equatable {
    public var zeroshot: ZeroShotSection?
    public var retrieval: RetrievalEvalSection?
    enum CodingKeys: String, CodingKey, CaseIterable { case zeroshot, retrieval }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        zeroshot = try c.decodeIfPresent(ZeroShotSection.self, forKey: .zeroshot)
        retrieval = try c.decodeIfPresent(RetrievalEvalSection.self, forKey: .retrieval)
    }
}
