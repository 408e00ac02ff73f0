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

/// Forward + backward time of each registered objective with its default options on random
/// features: pooled ones at B = 256, D = 256; token-level ones (`needs.tokens`) at B = 512,
/// n1 = 50, n2 = 77, d = 256 with their peak extra memory.
public enum ObjectiveBenchmark {
    public struct Row: Codable {
        public var objective: String
        public var milliseconds: Double
        public var peakExtraBytes: Int?
        enum CodingKeys: String, CodingKey { case objective, milliseconds, peakExtraBytes = "peak_extra_bytes" }
    }

    static func random(_ shape: [Int], _ seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.randomNormal(shape, using: &rng)
    }

    /// Every registered objective with its defaults, with its `objective.type`.
    static func registered() throws -> [(type: String, objective: any Objective)] {
        try ObjectiveRegistry.kinds.map { ($0.type, try $0.defaults().makeObjective()) }
    }

    static func scalars(_ objective: any Objective) -> ObjectiveScalars {
        ObjectiveScalars(logitScale: Variable(Tensor(objective.initialScalars.logitScale), requiresGrad: true),
                         logitBias: objective.initialScalars.logitBias.map { Variable(Tensor($0), requiresGrad: true) })
    }

    public static func pooled(batch b: Int = 256, dim d: Int = 256) throws -> [Row] {
        try registered().filter { !$0.objective.needs.tokens }.map { type, objective in
            let extra = objective.needs.extraCaptionSets
            let image = random([b, d], 1), texts = (0...extra).map { random([b, d], UInt64(2 + $0)) }
            let seconds = Benchmarks.time(repeats: 3) {
                let x = Variable(image, requiresGrad: true), y = Variable(texts[0], requiresGrad: true)
                let extras = texts.dropFirst().map { Variable($0, requiresGrad: true) }
                objective.loss(Features(image: x, text: y, extraTexts: extras), scalars(objective)).backward()
            }
            let sets = extra > 0 ? " +\(extra) caption set\(extra > 1 ? "s" : "")" : ""
            return Row(objective: "\(type)\(sets) B=\(b) D=\(d)", milliseconds: seconds * 1e3, peakExtraBytes: nil)
        }
    }

    public static func tokenLevel(batch b: Int = 512, imageTokens n1: Int = 50, textTokens n2: Int = 77, dim e: Int = 256) throws -> [Row] {
        let x = random([b, n1, e], 1), y = random([b, n2, e], 2)
        let lengths = (0..<b).map { 2 + ($0 * 29) % (n2 - 1) }
        let mask = Tensor(shape: [b, n2], scalars: lengths.flatMap { len in (0..<n2).map { $0 < len ? 1 : 0 } })
        return try registered().filter { $0.objective.needs.tokens }.map { type, objective in
            var extra = 0
            let seconds = Benchmarks.time(repeats: 1) {
                let xv = Variable(x, requiresGrad: true), yv = Variable(y, requiresGrad: true)
                let features = Features(image: Variable(random([b, e], 3), requiresGrad: true),
                                        text: Variable(random([b, e], 4), requiresGrad: true),
                                        imageTokens: xv, textTokens: yv, textMask: mask)
                let before = BufferPool.shared.liveBytes
                BufferPool.shared.resetPeak()
                objective.loss(features, scalars(objective)).backward()
                // Tensors from the pool, plus a token-wise argmax's indices (UInt16 per image token and text token pair of rows).
                extra = BufferPool.shared.peakLiveBytes - before + b * b * (n1 + n2) * 2
            }
            return Row(objective: "\(type) B=\(b) n1=\(n1) n2=\(n2) d=\(e)", milliseconds: seconds * 1e3, peakExtraBytes: extra)
        }
    }
}
