/// The activation inside transformer MLPs.
public enum Activation: String, Codable, Sendable {
    /// Exact `x·Φ(x)`.
    case gelu
    /// OpenAI's `x·σ(1.702x)`.
    case quickGelu = "quick_gelu"

    func callAsFunction(_ x: Variable) -> Variable { self == .gelu ? x.gelu() : x.quickGelu() }
}

/// Multi-head self-attention with PyTorch's fused `in_proj` (q, k, v stacked) and `out_proj`.
public final class MultiheadAttention: Layer {
    public let heads: Int
    public let inProjWeight: Variable  // [3W, W]
    public let inProjBias: Variable    // [3W]
    public let outProj: Linear         // [W, W]

    public init(width: Int, heads: Int, using rng: inout RandomGenerator) {
        ensure(width % heads == 0, "attention width \(width) must be divisible by \(heads) heads")
        self.heads = heads
        inProjWeight = parameter(Initializer.xavierUniform([3 * width, width], using: &rng))
        inProjBias = parameter(.zeros([3 * width]))
        outProj = Linear(width, width, using: &rng)
        outProj.bias!.value = .zeros([width])
    }

    /// - Parameters: x [B, T, W]; mask additive [T, T] or [B, T, T]. - Returns: [B, T, W].
    public func callAsFunction(_ x: Variable, mask: Tensor?) -> Variable {
        outProj(x.linear(weight: inProjWeight, bias: inProjBias).attention(heads: heads, mask: mask))
    }

    public func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) {
        visit(prefix + "in_proj_weight", inProjWeight)
        visit(prefix + "in_proj_bias", inProjBias)
        outProj.visitParameters(prefix + "out_proj.", visit)
    }
}

/// Pre-LN residual block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))` with
/// MLP = `c_fc` → activation → `c_proj`.
public final class ResidualAttentionBlock: Layer {
    public let ln1: LayerNorm, ln2: LayerNorm
    public let attn: MultiheadAttention
    public let cFc: Linear, cProj: Linear
    public let activation: Activation

    public init(width: Int, heads: Int, mlpRatio: Double, activation: Activation, using rng: inout RandomGenerator) {
        let hidden = Int(Double(width) * mlpRatio)
        ln1 = LayerNorm(width)
        attn = MultiheadAttention(width: width, heads: heads, using: &rng)
        ln2 = LayerNorm(width)
        cFc = Linear(width, hidden, using: &rng)
        cProj = Linear(hidden, width, using: &rng)
        self.activation = activation
    }

    public func callAsFunction(_ x: Variable, mask: Tensor?) -> Variable {
        let h = x + attn(ln1(x), mask: mask)
        return h + cProj(activation(cFc(ln2(h))))
    }

    public func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) {
        ln1.visitParameters(prefix + "ln_1.", visit)
        attn.visitParameters(prefix + "attn.", visit)
        ln2.visitParameters(prefix + "ln_2.", visit)
        cFc.visitParameters(prefix + "mlp.c_fc.", visit)
        cProj.visitParameters(prefix + "mlp.c_proj.", visit)
    }
}

/// A stack of residual attention blocks (`resblocks.i`).
public final class Transformer: Layer {
    public let blocks: [ResidualAttentionBlock]
    public let width: Int
    /// Keep only each block's input during the forward pass and recompute the block in the
    /// backward pass: activation memory O(layers·B·T·W) instead of O(layers·B·T·(13W + H·T)),
    /// for about one extra forward pass of compute.
    public var recomputeActivations = false

    public init(width: Int, layers: Int, heads: Int, mlpRatio: Double, activation: Activation,
                using rng: inout RandomGenerator) {
        self.width = width
        blocks = (0..<layers).map { _ in
            ResidualAttentionBlock(width: width, heads: heads, mlpRatio: mlpRatio, activation: activation, using: &rng)
        }
    }

    /// - Parameter x: [B, T, W]. - Returns: [B, T, W].
    public func callAsFunction(_ x: Variable, mask: Tensor? = nil) -> Variable {
        blocks.reduce(x) { h, block in
            recomputeActivations && GradMode.isEnabled ? Transformer.recomputed(block, h, mask: mask) : block(h, mask: mask)
        }
    }

    /// One block as a single tape op that saves only its input and re-runs the block with a tape
    /// in its backward pass to get the input's and the parameters' gradients.
    static func recomputed(_ block: ResidualAttentionBlock, _ x: Variable, mask: Tensor?) -> Variable {
        let input = x.value
        let params = block.parameters
        let y = GradMode.noGrad { block(Variable(input), mask: mask) }.value
        return Variable.record(y, "block_recompute", [x] + params) { g in
            let xi = Variable(input, requiresGrad: x.requiresGrad)
            let store = GradientStore()
            Variable.backward([(block(xi, mask: mask), g)], into: store)
            return [store[xi]] + params.map { store[$0] }
        }
    }

    public func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) {
        for (i, block) in blocks.enumerated() { block.visitParameters(prefix + "resblocks.\(i).", visit) }
    }
}
