import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Distributed
import ModelStore
import Evaluation
import Training

/// Full training steps (forward, loss, backward, optimizer) on random inputs.
public struct StepBenchmark {
    public struct Result: Codable {
        public var config: String
        public var batch: Int
        public var workers: Int
        public var steps: Int
        public var imagesPerSecond: Double
        public var secondsPerStep: Double
        public var gflopsPerImage: Double
        public var gflops: Double
        public var sgemmGflops: Double
        public var shareOfSgemmPeak: Double
        public var peakMemoryBytes: Int
        public var activationBytesPerImage: Int
        public var parameters: Int
        /// Buffer-pool misses per steady-state step (0 = no allocation in the steady state).
        public var freshAllocationsPerStep: Int
        public var recompute: Bool
        /// Ranks of the job (MPI processes); `batch` is global, split over ranks × workers.
        public var ranks: Int
        /// Share of the step time rank 0 spent waiting for collectives (feature all-gather, gradient
        /// all-reduce; overlapped, only the part the backward pass did not hide).
        public var communicationShare: Double
        /// Whether the gradient all-reduce overlapped the backward pass.
        public var overlapped: Bool
        public var patchDropout: Double
        /// The towers' GEMM precision, the GEMM peak in it (= `sgemmGflops` for fp32) and the share of it.
        public var precision: String
        public var gemmPeakGflops: Double
        public var shareOfGemmPeak: Double
        public var engines: GEMMEngines

        enum CodingKeys: String, CodingKey {
            case config, batch, workers, steps, parameters, recompute, ranks, patchDropout = "patch_dropout", precision, engines, overlapped
            case communicationShare = "communication_share"
            case gemmPeakGflops = "gemm_peak_gflops", shareOfGemmPeak = "share_of_gemm_peak"
            case freshAllocationsPerStep = "fresh_allocations_per_step"
            case imagesPerSecond = "images_per_second", secondsPerStep = "seconds_per_step"
            case gflopsPerImage = "gflop_per_image", gflops, sgemmGflops = "sgemm_gflops"
            case shareOfSgemmPeak = "share_of_sgemm_peak", peakMemoryBytes = "peak_memory_bytes"
            case activationBytesPerImage = "activation_bytes_per_image"
        }
    }

    public let name: String
    public let config: ModelConfig
    public let batch: Int
    public let workers: Int
    public let recompute: Bool
    public let communicator: any Communicator
    /// FLIP patch dropout rate (0 = every patch).
    public let patchDropout: Double
    public let precision: MatmulPrecision
    public let gradientSync: DataParallelStep.GradientSync

    public init(name: String, config: ModelConfig, batch: Int, workers: Int, recompute: Bool = false, patchDropout: Double = 0,
                precision: MatmulPrecision = .fp32, communicator: any Communicator = InProcessCommunicator(),
                gradientSync: DataParallelStep.GradientSync = .afterBackward) {
        self.gradientSync = gradientSync
        (self.name, self.config, self.batch, self.workers, self.recompute) = (name, config, batch, workers, recompute)
        (self.patchDropout, self.precision, self.communicator) = (patchDropout, precision, communicator)
    }

    /// Forward FLOPs per image (GEMMs and attention) of both towers; a step is ≈ 3× this.
    /// With patch dropout the vision transformer runs on the kept patches only.
    public static func forwardFlopsPerSample(_ c: ModelConfig, patchDropout: Double = 0) -> Double {
        func transformer(tokens t: Double, width w: Double, layers l: Double, mlp: Double) -> Double {
            let perLayer = 2 * t * w * 3 * w + 2 * t * t * w * 2 + 2 * t * w * w + 2 * 2 * t * w * w * mlp
            return perLayer * l
        }
        var total = 0.0
        let v = c.visionCfg
        if v.type == .vit {
            let g = Double(v.imageSize / v.patchSize), w = Double(v.width)
            let t = Double(PatchDropout(rate: patchDropout).keptCount(of: Int(g * g))) + 1
            total += 2 * g * g * Double(3 * v.patchSize * v.patchSize) * w
            total += transformer(tokens: t, width: w, layers: Double(v.layers), mlp: v.mlpRatio)
            total += 2 * w * Double(c.embedDim)
        }
        let tc = c.textCfg
        let w = Double(tc.width)
        total += transformer(tokens: Double(tc.contextLength), width: w, layers: Double(tc.layers), mlp: tc.mlpRatio)
        total += 2 * w * Double(c.embedDim)
        return total
    }

    /// Runs `steps` timed steps after `warmup` steps and reports throughput and memory; shares are
    /// of the machine's fp32 GEMM peak `sgemmGflops` and of its GEMM peak in `precision`.
    public func run(steps: Int = 5, warmup: Int = 1, sgemmGflops: Double, gemmPeakGflops: Double? = nil,
                    profile: Bool = false) -> (result: Result, profile: [OpProfile.Row]) {
        let model = CLIPModel(config, seed: 0)
        model.setActivationRecomputation(recompute)
        let entries = model.namedParameters().map {
            ParameterGroupEntry(name: $0.name, parameter: $0.parameter, weightDecay: decays($0.name, shape: $0.parameter.shape) ? 0.2 : 0)
        }
        let optimizer = AdamW(entries)
        let objective = CLIPObjective()
        let step = DataParallelStep(model: model, objective: objective, workers: workers, communicator: communicator)
        step.precision = precision
        step.gradientSync = gradientSync
        var rng = RandomGenerator(seed: 7)
        let s = config.visionCfg.imageSize, ctx = config.textCfg.contextLength
        let images = Tensor.randomNormal([batch, s, s, 3], using: &rng)
        let tokens: [Int32] = (0..<batch).flatMap { _ -> [Int32] in
            let len = 2 + Int(rng.next() % UInt64(ctx - 2))
            return (0..<ctx).map { t in t == 0 ? 49406 : t < len - 1 ? Int32(1 + rng.next() % 49000) : t == len - 1 ? 49407 : 0 }
        }
        let kept = model.visual.patchTokenCount.flatMap { n -> [Int]? in
            guard patchDropout > 0 else { return nil }
            return (0..<UInt64(batch)).flatMap { PatchDropout(rate: patchDropout).keptPatches(of: n, seed: $0) }
        }
        let ranks = communicator.worldSize, local = batch / ranks
        let inputs = TowerInputs(images: images, tokens: tokens, keptPatches: kept)
            .slice((communicator.rank * local)..<((communicator.rank + 1) * local))
        var communicationSeconds = 0.0
        func oneStep() {
            step.run(inputs)
            communicationSeconds += step.lastCommunicationSeconds
            optimizer.update(lr: 1e-4)
            objective.constrain(step.scalars)
        }
        for _ in 0..<warmup { oneStep() }
        BufferPool.shared.resetPeak()
        let baseline = BufferPool.shared.liveBytes
        let allocationsBefore = BufferPool.shared.allocations
        let start = DispatchTime.now().uptimeNanoseconds
        communicationSeconds = 0
        for _ in 0..<steps { oneStep() }
        let communicationShare = communicationSeconds / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        let freshAllocations = (BufferPool.shared.allocations - allocationsBefore) / max(steps, 1)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(steps)
        let activation = (BufferPool.shared.peakLiveBytes - baseline) / local
        var rows: [OpProfile.Row] = []
        if profile { rows = OpProfile.measure { oneStep() } }
        let flopsPerImage = 3 * Self.forwardFlopsPerSample(config, patchDropout: kept == nil ? 0 : patchDropout)
        let gflops = flopsPerImage * Double(batch) / seconds / 1e9
        return (Result(config: name, batch: batch, workers: workers, steps: steps,
                       imagesPerSecond: Double(batch) / seconds, secondsPerStep: seconds,
                       gflopsPerImage: flopsPerImage / 1e9, gflops: gflops, sgemmGflops: sgemmGflops,
                       shareOfSgemmPeak: gflops / sgemmGflops, peakMemoryBytes: Benchmarks.peakResidentBytes(),
                       activationBytesPerImage: activation, parameters: model.parameterCount,
                       freshAllocationsPerStep: freshAllocations, recompute: recompute, ranks: ranks,
                       communicationShare: communicationShare, overlapped: step.lastOverlap != nil,
                       patchDropout: kept == nil ? 0 : patchDropout, precision: precision.rawValue,
                       gemmPeakGflops: gemmPeakGflops ?? sgemmGflops, shareOfGemmPeak: gflops / (gemmPeakGflops ?? sgemmGflops),
                       engines: GEMMEngines.current), rows)
    }
}
