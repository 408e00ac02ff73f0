/// OpenCLIP's text tower: `token_embedding` + `positional_embedding` → transformer (causal
/// mask, or bidirectional) → `ln_final` → pool (EOT = first position of the largest id, as
/// OpenCLIP's `argmax`; or the first token) → `@ text_projection`.
///
/// Its parameters live at the root of the CLIP state dict (no prefix), as in OpenCLIP.
public final class TextTransformer: TextTower {
    public let config: TextConfig
    public let tokenEmbedding: Variable       // [V, W]
    public let positionalEmbedding: Variable  // [ctx, W]
    public let transformer: Transformer
    public let lnFinal: LayerNorm
    public let textProjection: Variable       // [W, E]
    let causalMask: Tensor?

    public init(_ config: TextConfig, embedDim: Int, activation: Activation, using rng: inout RandomGenerator) {
        self.config = config
        let w = config.width
        tokenEmbedding = parameter(Initializer.normal([config.vocabSize, w], std: 0.02, using: &rng))
        positionalEmbedding = parameter(Initializer.normal([config.contextLength, w], std: 0.01, using: &rng))
        transformer = Transformer(width: w, layers: config.layers, heads: config.heads, mlpRatio: config.mlpRatio,
                                  activation: activation, using: &rng)
        lnFinal = LayerNorm(w)
        textProjection = parameter(Initializer.normal([w, embedDim], std: 1 / Float(w).squareRoot(), using: &rng))
        causalMask = config.noCausalMask ? nil : AttentionKernel.causalMask(config.contextLength)
        // OpenCLIP's text init: attention and MLP weights drawn from normals scaled by width and depth.
        let attnStd = 1 / Float(w).squareRoot()
        let projStd = attnStd / Float(2 * max(config.layers, 1)).squareRoot()
        let fcStd = 1 / Float(2 * w).squareRoot()
        for block in transformer.blocks {
            block.attn.inProjWeight.value = Initializer.normal([3 * w, w], std: attnStd, using: &rng)
            block.attn.outProj.weight.value = Initializer.normal([w, w], std: projStd, using: &rng)
            block.cFc.weight.value = Initializer.normal(block.cFc.weight.shape, std: fcStd, using: &rng)
            block.cProj.weight.value = Initializer.normal(block.cProj.weight.shape, std: projStd, using: &rng)
        }
    }

    public func setActivationRecomputation(_ on: Bool) { transformer.recomputeActivations = on }

    /// Position pooled for each row of `tokens` [B, ctx]: the end of text (`endPositions`) or 0.
    public func poolPositions(_ tokens: [Int32], batch: Int) -> [Int] {
        config.poolType == .first ? Array(repeating: 0, count: batch) : endPositions(tokens, batch: batch)
    }

    /// The first position of each row's largest id: EOT, the last token of the text.
    public func endPositions(_ tokens: [Int32], batch: Int) -> [Int] {
        let ctx = config.contextLength
        return (0..<batch).map { b in
            var best = 0
            for t in 1..<ctx where tokens[b * ctx + t] > tokens[b * ctx + best] { best = t }
            return best
        }
    }

    /// - Parameter tokens: [B, ctx] token ids, row-major. - Returns: pooled [B, E];
    ///   tokens [B, ctx, E] when asked.
    public func callAsFunction(_ tokens: [Int32], batch: Int, returnTokens: Bool = false) -> (pooled: Variable, tokens: Variable?) {
        let (ctx, w) = (config.contextLength, config.width)
        ensure(tokens.count == batch * ctx, "text tower expects \(batch) × \(ctx) token ids, got \(tokens.count)")
        let ids = tokens.map { id -> Int in
            ensure(id >= 0 && Int(id) < config.vocabSize, "token id \(id) outside the vocabulary of \(config.vocabSize)")
            return Int(id)
        }
        var x = tokenEmbedding.gatherRows(ids).reshaped([batch, ctx, w]) + positionalEmbedding
        x = lnFinal(transformer(x, mask: causalMask))
        let positions = poolPositions(tokens, batch: batch)
        let pooled = x.reshaped([batch * ctx, w]).gatherRows(positions.enumerated().map { $0.offset * ctx + $0.element })
        return (pooled.matmul(textProjection), returnTokens ? x.matmul(textProjection) : nil)
    }

    public func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) {
        visit(prefix + "token_embedding.weight", tokenEmbedding)
        visit(prefix + "positional_embedding", positionalEmbedding)
        transformer.visitParameters(prefix + "transformer.", visit)
        lnFinal.visitParameters(prefix + "ln_final.", visit)
        visit(prefix + "text_projection", textProjection)
    }
}

extension TextTransformer {
    /// The configs OpenCLIP's text transformer can be built from; errors name the key.
    @Sendable public static func validate(_ c: TextConfig) throws {
        guard c.contextLength >= 2 else { throw ModelError("text_cfg.context_length: must be at least 2 (start and end of text), got \(c.contextLength)") }
        guard c.vocabSize > 0 else { throw ModelError("text_cfg.vocab_size: must be positive, got \(c.vocabSize)") }
        guard c.heads > 0 else { throw ModelError("text_cfg.heads: must be positive, got \(c.heads)") }
        guard c.width > 0, c.width % c.heads == 0 else {
            throw ModelError("text_cfg.width: must be a positive multiple of text_cfg.heads \(c.heads), got \(c.width)")
        }
        guard c.layers >= 1 else { throw ModelError("text_cfg.layers: must be at least 1, got \(c.layers)") }
        guard c.mlpRatio > 0, c.mlpRatio.isFinite, Int(Double(c.width) * c.mlpRatio) >= 1 else {
            throw ModelError("text_cfg.mlp_ratio: must be positive, got \(c.mlpRatio)")
        }
    }
}
