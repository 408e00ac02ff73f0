/// The towers a model config builds. A new tower is one type conforming to `ImageTower` or
/// `TextTower` and one case here (and, for a new `vision_cfg.type`, in `VisionConfig.Kind` and `VisionConfig.validate`).
public enum TowerFactory {
    /// The image tower `config.type` names: `vit` → `VisionTransformer`, `convnet` → `ConvTower`.
    /// Draws its initial weights from `rng` (the draws come before the text tower's).
    public static func imageTower(_ config: VisionConfig, embedDim: Int, activation: Activation,
                                  using rng: inout RandomGenerator) -> any ImageTower {
        switch config.type {
        case .convnet: return ConvTower(config, embedDim: embedDim, using: &rng)
        case .vit: return VisionTransformer(config, embedDim: embedDim, activation: activation, using: &rng)
        }
    }

    /// The text tower: OpenCLIP's `TextTransformer` (the only one so far).
    public static func textTower(_ config: TextConfig, embedDim: Int, activation: Activation,
                                 using rng: inout RandomGenerator) -> any TextTower {
        TextTransformer(config, embedDim: embedDim, activation: activation, using: &rng)
    }
}
