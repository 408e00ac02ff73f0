import Foundation
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

/// The memory a training run needs, estimated from the configs before anything is allocated
/// (so a model that cannot fit is refused with numbers instead of an allocation abort).
///
/// Per parameter: its value (4 B), the gradient stores (⌈workers/2⌉ × 4 B: pairs of workers share
/// one), and the optimizer's state (AdamW 8 B, SGD 4 B). Activations: every worker keeps the
/// taped activations of its micro-batch, B / (workers × accumulation) samples; per transformer
/// block and sample about 14·n·w + 2·n·h + 2·heads·n² floats (n tokens, width w, MLP width h),
/// or only its n·w input with `recompute_activations` (plus one block's worth in flight).
/// The loader's batches in flight and a fixed runtime overhead complete it.
public struct MemoryEstimate: Equatable, Sendable {
    public var parameterCount: Int
    public var parameterBytes: Double
    public var gradientBytes: Double
    public var optimizerBytes: Double
    public var activationBytes: Double
    public var otherBytes: Double
    public var totalBytes: Double { parameterBytes + gradientBytes + optimizerBytes + activationBytes + otherBytes }

    /// Runtime, BLAS buffers, tokenizer and loader overhead (measured ≈ 100–200 MB on small runs).
    static let runtimeOverhead = 200.0 * 1_048_576

    public init(model: ModelConfig, config: TrainingConfig) {
        let p = Self.parameterCount(model, withBias: model.initLogitBias != nil)
        parameterCount = p
        let workers = config.train.workers
        parameterBytes = 4 * Double(p)
        gradientBytes = 4 * Double(p) * Double(max(1, (workers + 1) / 2))
        optimizerBytes = (config.optimizer.type == .sgd ? 4 : 8) * Double(p)
        let micro = max(1, config.data.batchSize / (workers * config.train.accumulation))
        let recompute = config.train.recomputeActivations
        let v = model.visionCfg, t = model.textCfg
        var perSample: Double   // floats
        if v.type == .convnet {
            // Each stage keeps its conv outputs and activations: about 6 maps of (s/2^k)² × c.
            var side = v.imageSize
            perSample = 0
            for c in v.convnetWidths { side = (side + 1) / 2; perSample += 6 * Double(side * side * c) }
        } else {
            let n = (v.imageSize / v.patchSize) * (v.imageSize / v.patchSize) + 1
            perSample = Self.towerFloats(tokens: n, width: v.width, hidden: Int(Double(v.width) * v.mlpRatio),
                                         heads: max(1, v.width / v.headWidth), layers: v.layers, recompute: recompute)
        }
        let captionSets = 1 + ((try? config.objective.makeObjective())?.needs.extraCaptionSets ?? 0)
        perSample += Double(captionSets) * Self.towerFloats(tokens: t.contextLength, width: t.width, hidden: Int(Double(t.width) * t.mlpRatio),
                                                            heads: t.heads, layers: t.layers, recompute: recompute)
        activationBytes = 4 * perSample * Double(micro * workers)
        // Batches in flight in the loader (the current one, one prepared per loader thread) as floats.
        let batchBytes = 4 * Double(config.data.batchSize * v.imageSize * v.imageSize * 3)
        otherBytes = Self.runtimeOverhead + batchBytes * Double(1 + config.data.loaderThreads)
    }

    /// Floats one sample keeps through a transformer tower (input embedding included).
    static func towerFloats(tokens n: Int, width w: Int, hidden h: Int, heads: Int, layers: Int, recompute: Bool) -> Double {
        let (n, w, h, heads) = (Double(n), Double(w), Double(h), Double(heads))
        let block = 14 * n * w + 2 * n * h + 2 * heads * n * n
        return 2 * n * w + (recompute ? Double(layers) * n * w + block : Double(layers) * block)
    }

    /// The number of learnable parameters the model config describes (as `CLIPModel.parameterCount`).
    public static func parameterCount(_ m: ModelConfig, withBias: Bool) -> Int {
        func block(_ w: Int, _ h: Int) -> Int { 4 * w * w + 2 * w * h + 9 * w + h }
        let v = m.visionCfg, t = m.textCfg, e = m.embedDim
        var vision: Int
        if v.type == .convnet {
            vision = 0
            var inC = 3
            for c in v.convnetWidths { vision += c * inC * 9 + c + c * c * 9 + c; inC = c }
            vision += 2 * inC + inC * e
        } else {
            let (w, g) = (v.width, v.imageSize / v.patchSize)
            vision = w * 3 * v.patchSize * v.patchSize + w + (g * g + 1) * w + 4 * w + w * e
                + v.layers * block(w, Int(Double(w) * v.mlpRatio))
        }
        let tw = t.width
        let text = t.vocabSize * tw + t.contextLength * tw + t.layers * block(tw, Int(Double(tw) * t.mlpRatio)) + 2 * tw + tw * e
        return vision + text + 1 + (withBias ? 1 : 0)
    }

    /// Physical memory of this machine in bytes (`MemTotal` of /proc/meminfo, else sysconf).
    public static func physicalMemory() -> Double {
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) {
            return kb * 1024
        }
        return Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func gigabytes(_ bytes: Double) -> String { String(format: "%.1f GB", bytes / 1e9) }

    /// Throws a one-line refusal when the estimate exceeds `available` bytes.
    public func check(available: Double, config: TrainingConfig) throws {
        guard totalBytes > available else { return }
        let g = Self.gigabytes
        throw ConfigError("the run needs about \(g(totalBytes)) of memory (parameters \(g(parameterBytes)), gradients \(g(gradientBytes)), optimizer \(g(optimizerBytes)), activations \(g(activationBytes)) for batch \(config.data.batchSize) on \(config.train.workers) workers) but this machine has \(g(available)): use a smaller model (model.config), a smaller data.batch_size, more train.accumulation or train.recompute_activations")
    }
}
