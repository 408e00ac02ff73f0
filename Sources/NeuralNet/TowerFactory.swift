/// The towers a model config can name: image towers by `vision_cfg.type`, text towers by
/// `text_cfg.type` (default `transformer`). The built-in ones are registered here through the same
/// calls a program uses for its own (docs/DESIGN.md, "Extending"):
///
/// ```swift
/// TowerFactory.registerImageTower("my-cnn", validate: { cfg in … }) { cfg, embedDim, activation, rng in
///     MyCNN(cfg, embedDim: embedDim, using: &rng)
/// }   // then "vision_cfg": {"type": "my-cnn", …} builds it
/// ```
///
/// A tower conforms to `ImageTower` or `TextTower` and names its parameters as OpenCLIP's state dict
/// would; `CLIPModel`, the trainer and the objectives use only the protocols.
public enum TowerFactory {
    public typealias ImageTowerMaker = @Sendable (VisionConfig, _ embedDim: Int, Activation, inout RandomGenerator) -> any ImageTower
    public typealias TextTowerMaker = @Sendable (TextConfig, _ embedDim: Int, Activation, inout RandomGenerator) -> any TextTower

    struct Entry<Config, Maker>: Sendable where Maker: Sendable {
        let name: String
        let validate: @Sendable (Config) throws -> Void
        let make: Maker
    }

    /// Registers an image tower for `vision_cfg.type: name`; `validate` throws a `ModelError`
    /// naming the key for a config the tower cannot build. A name already taken is refused.
    public static func registerImageTower(_ name: String, validate: @escaping @Sendable (VisionConfig) throws -> Void,
                                          make: @escaping ImageTowerMaker) throws {
        try imageTowers.withLock { try add(Entry(name: name, validate: validate, make: make), to: &$0, key: "vision_cfg.type") }
    }

    /// Registers a text tower for `text_cfg.type: name`.
    public static func registerTextTower(_ name: String, validate: @escaping @Sendable (TextConfig) throws -> Void,
                                         make: @escaping TextTowerMaker) throws {
        try textTowers.withLock { try add(Entry(name: name, validate: validate, make: make), to: &$0, key: "text_cfg.type") }
    }

    /// The registered image and text tower names, the built-in ones first.
    public static var imageTowerNames: [String] { imageTowers.withLock { $0.map(\.name) } }
    public static var textTowerNames: [String] { textTowers.withLock { $0.map(\.name) } }

    /// The image tower `config.type` names. Draws its initial weights from `rng` (before the text tower's).
    public static func imageTower(_ config: VisionConfig, embedDim: Int, activation: Activation,
                                  using rng: inout RandomGenerator) -> any ImageTower {
        guard let entry = imageTowers.withLock({ $0.first { $0.name == config.type.rawValue } }) else {
            fatalError("vision_cfg.type \(config.type.rawValue) is not registered (ModelConfig.validate refuses it)")
        }
        return entry.make(config, embedDim, activation, &rng)
    }

    /// The text tower `config.type` names.
    public static func textTower(_ config: TextConfig, embedDim: Int, activation: Activation,
                                 using rng: inout RandomGenerator) -> any TextTower {
        guard let entry = textTowers.withLock({ $0.first { $0.name == config.type.rawValue } }) else {
            fatalError("text_cfg.type \(config.type.rawValue) is not registered (ModelConfig.validate refuses it)")
        }
        return entry.make(config, embedDim, activation, &rng)
    }

    static func validate(_ config: VisionConfig) throws {
        guard let entry = imageTowers.withLock({ $0.first { $0.name == config.type.rawValue } }) else {
            throw ModelError("vision_cfg.type must be one of \(imageTowerNames.joined(separator: ", ")), got \(config.type.rawValue)")
        }
        try entry.validate(config)
    }

    static func validate(_ config: TextConfig) throws {
        guard let entry = textTowers.withLock({ $0.first { $0.name == config.type.rawValue } }) else {
            throw ModelError("text_cfg.type must be one of \(textTowerNames.joined(separator: ", ")), got \(config.type.rawValue)")
        }
        try entry.validate(config)
    }

    private static func add<C, M>(_ entry: Entry<C, M>, to entries: inout [Entry<C, M>], key: String) throws {
        guard !entries.contains(where: { $0.name == entry.name }) else { throw ModelError("\(key) '\(entry.name)' is already registered") }
        entries.append(entry)
    }

    private static let imageTowers: Locked<[Entry<VisionConfig, ImageTowerMaker>]> = {
        var entries: [Entry<VisionConfig, ImageTowerMaker>] = []
        try! add(Entry(name: VisionConfig.Kind.vit.rawValue, validate: VisionTransformer.validate) {
            VisionTransformer($0, embedDim: $1, activation: $2, using: &$3)
        }, to: &entries, key: "vision_cfg.type")
        try! add(Entry(name: VisionConfig.Kind.convnet.rawValue, validate: ConvTower.validate) { config, embedDim, _, rng in
            ConvTower(config, embedDim: embedDim, using: &rng)
        }, to: &entries, key: "vision_cfg.type")
        return Locked(entries)
    }()

    private static let textTowers: Locked<[Entry<TextConfig, TextTowerMaker>]> = {
        var entries: [Entry<TextConfig, TextTowerMaker>] = []
        try! add(Entry(name: TextConfig.Kind.transformer.rawValue, validate: TextTransformer.validate) {
            TextTransformer($0, embedDim: $1, activation: $2, using: &$3)
        }, to: &entries, key: "text_cfg.type")
        return Locked(entries)
    }()
}
