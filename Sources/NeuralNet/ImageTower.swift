/// An image encoder: images [B, H, W, 3] (normalized, channels last) → pooled features
/// [B, E] and, for token-level objectives (FILIP), per-patch features [B, N, E].
public protocol ImageTower: Layer {
    var imageSize: Int { get }
    /// The number of patch tokens per image for a tower made of them (patch dropout picks among
    /// them), nil for a tower without (then `keptPatches` must be nil).
    var patchTokenCount: Int? { get }
    /// - Parameter keptPatches: patch dropout: [B, K] row-major indices of the patches each image
    ///   keeps (`PatchDropout.keptPatches`), or nil for all of them.
    func callAsFunction(_ images: Variable, returnTokens: Bool, keptPatches: [Int]?) -> (pooled: Variable, tokens: Variable?)
    /// Turns per-block activation recomputation in backward on or off (see `Transformer`); a tower
    /// without transformer blocks ignores it.
    func setActivationRecomputation(_ on: Bool)
}

/// OpenCLIP's VisionTransformer: `conv1` patch embedding (no bias) → prepend `class_embedding`
/// → `+ positional_embedding` → `ln_pre` → transformer → `ln_post` → pool → `@ proj`.
public final class VisionTransformer: ImageTower {
    public let config: VisionConfig
    public let conv1: Variable                // [W, 3, p, p]
    public let classEmbedding: Variable       // [W]
    public let positionalEmbedding: Variable  // [g²+1, W]
    public let lnPre: LayerNorm, lnPost: LayerNorm
    public let transformer: Transformer
    public let proj: Variable                 // [W, E]

    public var imageSize: Int { config.imageSize }
    public var grid: Int { config.imageSize / config.patchSize }
    public var patchTokenCount: Int? { grid * grid }

    public func setActivationRecomputation(_ on: Bool) { transformer.recomputeActivations = on }

    public init(_ config: VisionConfig, embedDim: Int, activation: Activation, using rng: inout RandomGenerator) {
        self.config = config
        let (w, p) = (config.width, config.patchSize)
        let g = config.imageSize / p
        let scale = 1 / Float(w).squareRoot()
        conv1 = parameter(Initializer.pytorchDefault([w, 3, p, p], fanIn: 3 * p * p, using: &rng))
        classEmbedding = parameter(Initializer.normal([w], std: scale, using: &rng))
        positionalEmbedding = parameter(Initializer.normal([g * g + 1, w], std: scale, using: &rng))
        lnPre = LayerNorm(w)
        transformer = Transformer(width: w, layers: config.layers, heads: w / config.headWidth,
                                  mlpRatio: config.mlpRatio, activation: activation, using: &rng)
        lnPost = LayerNorm(w)
        proj = parameter(Initializer.normal([w, embedDim], std: scale, using: &rng))
    }

    /// - Parameters:
    ///   - images: [B, S, S, 3].
    ///   - keptPatches: [B, K] indices in 0 ..< g² (patch dropout), or nil for all g² patches.
    /// - Returns: pooled [B, E]; tokens [B, K or g², E] when asked.
    public func callAsFunction(_ images: Variable, returnTokens: Bool = false,
                               keptPatches: [Int]? = nil) -> (pooled: Variable, tokens: Variable?) {
        let (b, w) = (images.shape[0], config.width)
        ensure(images.shape == [b, imageSize, imageSize, 3],
                     "VisionTransformer expects images [B, \(imageSize), \(imageSize), 3], got \(images.shape)")
        let patches = images.conv2d(weight: conv1, stride: config.patchSize).reshaped([b, grid * grid, w])
        let cls = classEmbedding.reshaped([1, 1, w]).broadcast(to: [b, 1, w])
        var x = Variable.concat([cls, patches], axis: 1) + positionalEmbedding   // [B, g²+1, W]
        var t = grid * grid + 1
        if let kept = keptPatches {   // the class token and each image's kept patches: [B, K+1, W]
            let k = kept.count / max(b, 1)
            ensure(kept.count == b * k && k >= 1 && kept.allSatisfy { (0..<(t - 1)).contains($0) },
                   "keptPatches must hold K indices in 0..<\(t - 1) for each of the \(b) images")
            var rows = [Int]()
            rows.reserveCapacity(b * (k + 1))
            for i in 0..<b {
                rows.append(i * t)
                for j in 0..<k { rows.append(i * t + 1 + kept[i * k + j]) }
            }
            x = x.reshaped([b * t, w]).gatherRows(rows).reshaped([b, k + 1, w])
            t = k + 1
        }
        x = transformer(lnPre(x))
        x = lnPost(x)
        let pooledRaw: Variable
        if config.poolType == .avg {
            pooledRaw = x.slice(axis: 1, 1..<t).mean(axis: 1)
        } else {
            pooledRaw = x.reshaped([b * t, w]).gatherRows((0..<b).map { $0 * t })
        }
        let tokens = returnTokens ? x.slice(axis: 1, 1..<t).matmul(proj) : nil
        return (pooledRaw.matmul(proj), tokens)
    }

    public func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) {
        visit(prefix + "class_embedding", classEmbedding)
        visit(prefix + "positional_embedding", positionalEmbedding)
        visit(prefix + "proj", proj)
        visit(prefix + "conv1.weight", conv1)
        lnPre.visitParameters(prefix + "ln_pre.", visit)
        transformer.visitParameters(prefix + "transformer.", visit)
        lnPost.visitParameters(prefix + "ln_post.", visit)
    }
}

/// A small convolutional tower for ALIGN/ConVIRT-style configs: per stage a 3×3 stride-2
/// convolution + GELU followed by a residual 3×3 convolution + GELU; global average pooling,
/// layer norm and a linear projection. (BatchNorm-free so data-parallel results do not
/// depend on how the batch is split.)
public final class ConvTower: ImageTower {
    public let config: VisionConfig
    public let downs: [Variable], downBiases: [Variable]
    public let convs: [Variable], convBiases: [Variable]
    public let norm: LayerNorm
    public let proj: Linear

    public var imageSize: Int { config.imageSize }
    public var patchTokenCount: Int? { nil }

    /// No transformer blocks: nothing to recompute.
    public func setActivationRecomputation(_ on: Bool) {}

    public init(_ config: VisionConfig, embedDim: Int, using rng: inout RandomGenerator) {
        self.config = config
        var (downs, downBiases, convs, convBiases) = ([Variable](), [Variable](), [Variable](), [Variable]())
        var inC = 3
        for c in config.convnetWidths {
            downs.append(parameter(Initializer.pytorchDefault([c, inC, 3, 3], fanIn: inC * 9, using: &rng)))
            downBiases.append(parameter(.zeros([c])))
            convs.append(parameter(Initializer.pytorchDefault([c, c, 3, 3], fanIn: c * 9, using: &rng)))
            convBiases.append(parameter(.zeros([c])))
            inC = c
        }
        (self.downs, self.downBiases, self.convs, self.convBiases) = (downs, downBiases, convs, convBiases)
        norm = LayerNorm(inC)
        proj = Linear(inC, embedDim, bias: false, using: &rng)
    }

    public func callAsFunction(_ images: Variable, returnTokens: Bool = false,
                               keptPatches: [Int]? = nil) -> (pooled: Variable, tokens: Variable?) {
        ensure(keptPatches == nil, "the convolutional tower has no patch tokens to drop")
        var x = images
        for i in 0..<downs.count {
            x = x.conv2d(weight: downs[i], bias: downBiases[i], stride: 2, padding: 1).gelu()
            x = x + x.conv2d(weight: convs[i], bias: convBiases[i], stride: 1, padding: 1).gelu()
        }
        let (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let tokens = norm(x.reshaped([b, h * w, c]))
        let pooled = proj(norm(x.reshaped([b, h * w, c]).mean(axis: 1)))
        return (pooled, returnTokens ? proj(tokens) : nil)
    }

    public func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) {
        for i in 0..<downs.count {
            visit(prefix + "stages.\(i).down.weight", downs[i])
            visit(prefix + "stages.\(i).down.bias", downBiases[i])
            visit(prefix + "stages.\(i).conv.weight", convs[i])
            visit(prefix + "stages.\(i).conv.bias", convBiases[i])
        }
        norm.visitParameters(prefix + "norm.", visit)
        proj.visitParameters(prefix + "proj.", visit)
    }
}

extension VisionTransformer {
    /// The configs a ViT can be built from; errors name the key.
    @Sendable public static func validate(_ c: VisionConfig) throws {
        guard c.imageSize > 0, c.patchSize > 0, c.imageSize % c.patchSize == 0 else {
            throw ModelError("vision_cfg.image_size \(c.imageSize) must be a positive multiple of patch_size \(c.patchSize)")
        }
        guard c.layers >= 1 else { throw ModelError("vision_cfg.layers: must be at least 1, got \(c.layers)") }
        guard c.mlpRatio > 0, c.mlpRatio.isFinite, Int(Double(c.width) * c.mlpRatio) >= 1 else {
            throw ModelError("vision_cfg.mlp_ratio: must be positive, got \(c.mlpRatio)")
        }
        guard c.width > 0, c.headWidth > 0, c.width % c.headWidth == 0 else {
            throw ModelError("vision_cfg.width \(c.width) must be a positive multiple of head_width \(c.headWidth)")
        }
    }
}

extension ConvTower {
    /// The configs the conv tower can be built from; errors name the key.
    @Sendable public static func validate(_ c: VisionConfig) throws {
        guard !c.convnetWidths.isEmpty, c.convnetWidths.allSatisfy({ $0 > 0 }), c.imageSize >> c.convnetWidths.count > 0 else {
            throw ModelError("vision_cfg.convnet_widths must list positive stage widths that fit image_size \(c.imageSize)")
        }
    }
}
