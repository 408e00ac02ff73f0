import NeuralNet
import Foundation
import TensorCore
import Autograd
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

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
