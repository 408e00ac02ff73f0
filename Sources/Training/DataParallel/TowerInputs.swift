import NeuralNet

/// The inputs of one global batch for both towers.
public struct TowerInputs: @unchecked Sendable {
    /// [B, H, W, 3], normalized, channels last.
    public var images: Tensor
    /// [B, ctx] token ids of the main caption, row-major.
    public var tokens: [Int32]
    /// Further caption sets (Long-CLIP short captions, multi-positive sub-captions), each [B, ctx].
    public var extraTokens: [[Int32]]

    public init(images: Tensor, tokens: [Int32], extraTokens: [[Int32]] = []) {
        (self.images, self.tokens, self.extraTokens) = (images, tokens, extraTokens)
    }

    public var batchSize: Int { images.shape[0] }

    /// Rows `range` of every input.
    public func slice(_ range: Range<Int>) -> TowerInputs {
        let ctx = tokens.count / max(batchSize, 1)
        func rows(_ t: [Int32]) -> [Int32] { Array(t[(range.lowerBound * ctx)..<(range.upperBound * ctx)]) }
        return TowerInputs(images: images.slice(axis: 0, range), tokens: rows(tokens), extraTokens: extraTokens.map(rows))
    }
}
