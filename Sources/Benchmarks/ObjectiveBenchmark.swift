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

/// Forward + backward time of each objective on random features (B = 256, D = 256), and FILIP
/// at B = 512, n1 = 50, n2 = 77, d = 256 with its peak extra memory.
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

    public static func pooled(batch b: Int = 256, dim d: Int = 256) -> [Row] {
        let image = random([b, d], 1), texts = (2..<6).map { random([b, d], UInt64($0)) }
        let objectives: [(String, any Objective, Int)] = [
            ("clip", CLIPObjective(), 0), ("align", ALIGNObjective(), 0), ("convirt", ConVIRTObjective(), 0),
            ("siglip", SigLIPObjective(), 0), ("longclip", LongCLIPObjective(), 1), ("multipos (k 3)", MultiPositiveObjective(k: 3), 3),
        ]
        return objectives.map { name, objective, extra in
            let seconds = Benchmarks.time(repeats: 3) {
                let x = Variable(image, requiresGrad: true), y = Variable(texts[0], requiresGrad: true)
                let extras = texts[1...].prefix(extra).map { Variable($0, requiresGrad: true) }
                let scalars = ObjectiveScalars(logitScale: Variable(Tensor(objective.initialScalars.logitScale), requiresGrad: true),
                                               logitBias: objective.initialScalars.logitBias.map { Variable(Tensor($0), requiresGrad: true) })
                objective.loss(Features(image: x, text: y, extraTexts: extras), scalars).backward()
            }
            return Row(objective: "\(name) B=\(b) D=\(d)", milliseconds: seconds * 1e3, peakExtraBytes: nil)
        }
    }

    public static func filip(batch b: Int = 512, imageTokens n1: Int = 50, textTokens n2: Int = 77, dim e: Int = 256) -> Row {
        let x = random([b, n1, e], 1), y = random([b, n2, e], 2)
        let lengths = (0..<b).map { 2 + ($0 * 29) % (n2 - 1) }
        let mask = Tensor(shape: [b, n2], scalars: lengths.flatMap { len in (0..<n2).map { $0 < len ? 1 : 0 } })
        var extra = 0
        let seconds = Benchmarks.time(repeats: 1) {
            let xv = Variable(x, requiresGrad: true), yv = Variable(y, requiresGrad: true)
            let features = Features(image: Variable(Tensor.zeros([b, 1])), text: Variable(Tensor.zeros([b, 1])),
                                    imageTokens: xv, textTokens: yv, textMask: mask)
            let before = BufferPool.shared.liveBytes
            BufferPool.shared.resetPeak()
            FILIPObjective().loss(features, ObjectiveScalars(logitScale: Variable(Tensor(2.659), requiresGrad: true))).backward()
            // Tensors from the pool, plus the argmax indices (UInt16 per image token and text token pair of rows).
            extra = BufferPool.shared.peakLiveBytes - before + b * b * (n1 + n2) * 2
        }
        return Row(objective: "filip B=\(b) n1=\(n1) n2=\(n2) d=\(e)", milliseconds: seconds * 1e3, peakExtraBytes: extra)
    }
}
