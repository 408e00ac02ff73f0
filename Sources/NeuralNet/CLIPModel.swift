import Foundation

/// OpenCLIP's `CLIP`: an image tower, a text tower, and the learnable `logit_scale`
/// (init ln(1/0.07)) and, for SigLIP, `logit_bias`. State-dict names match OpenCLIP's.
public final class CLIPModel: Layer {
    public let config: ModelConfig
    public let visual: any ImageTower
    public let text: any TextTower
    public let logitScale: Variable   // [] (0-d)
    public let logitBias: Variable?   // [] (0-d)

    public init(_ config: ModelConfig, seed: UInt64 = 0) {
        var rng = RandomGenerator(seed: seed)
        self.config = config
        visual = TowerFactory.imageTower(config.visionCfg, embedDim: config.embedDim, activation: config.activation, using: &rng)
        text = TowerFactory.textTower(config.textCfg, embedDim: config.embedDim, activation: config.activation, using: &rng)
        logitScale = parameter(Tensor(config.initLogitScale ?? Foundation.log(1 / 0.07)))
        logitBias = config.initLogitBias.map { parameter(Tensor($0)) }
    }

    /// Turns per-block activation recomputation on or off in both towers (see `Transformer`).
    public func setActivationRecomputation(_ on: Bool) {
        visual.setActivationRecomputation(on)
        text.setActivationRecomputation(on)
    }

    public func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) {
        visual.visitParameters(prefix + "visual.", visit)
        text.visitParameters(prefix, visit)
        visit(prefix + "logit_scale", logitScale)
        if let logitBias { visit(prefix + "logit_bias", logitBias) }
    }

    /// Image features [B, E] (unnormalized), and patch-token features when asked.
    /// - Parameter keptPatches: patch dropout (training only): [B, K] indices of the kept patches.
    public func encodeImage(_ images: Tensor, returnTokens: Bool = false, keptPatches: [Int]? = nil) -> (pooled: Variable, tokens: Variable?) {
        visual(Variable(images), returnTokens: returnTokens, keptPatches: keptPatches)
    }

    /// Text features [B, E] (unnormalized), and token features when asked.
    public func encodeText(_ tokens: [Int32], batch: Int, returnTokens: Bool = false) -> (pooled: Variable, tokens: Variable?) {
        text(tokens, batch: batch, returnTokens: returnTokens)
    }

    /// Replaces parameter values from a name → tensor map. Strict: a missing, unexpected or
    /// wrongly shaped key is an error listing the keys.
    public func load(_ tensors: [String: Tensor], source: String) throws {
        let named = namedParameters()
        let expected = Set(named.map(\.name))
        let missing = expected.subtracting(tensors.keys).sorted()
        let unexpected = Set(tensors.keys).subtracting(expected).sorted()
        var wrong: [String] = []
        for (name, p) in named {
            if let t = tensors[name], t.shape != p.shape, !(t.count == 1 && p.value.count == 1) {
                wrong.append("\(name) \(t.shape) (expected \(p.shape))")
            }
        }
        guard missing.isEmpty && unexpected.isEmpty && wrong.isEmpty else {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
            if !unexpected.isEmpty { parts.append("unexpected \(unexpected.joined(separator: ", "))") }
            if !wrong.isEmpty { parts.append("wrong shape \(wrong.joined(separator: ", "))") }
            throw ModelError("\(source): weights do not match the model config: \(parts.joined(separator: "; "))")
        }
        for (name, p) in named { p.value = tensors[name]!.reshaped(p.shape) }
    }

    /// Name → value of every parameter (the state dict).
    public func stateDict() -> [(name: String, value: Tensor)] { namedParameters().map { ($0.name, $0.parameter.value) } }
}
