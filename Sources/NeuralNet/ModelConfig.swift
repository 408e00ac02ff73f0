import Foundation

/// OpenCLIP's model-config JSON (`embed_dim`, `quick_gelu`, `vision_cfg`, `text_cfg`), with
/// OpenCLIP's defaults for omitted keys. OpenCLIP keys SwiftCLIP does not implement are refused
/// unless they hold OpenCLIP's default (`OpenCLIPKeys`); our extensions (`vision_cfg.type:
/// "convnet"`) are additive.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var embedDim: Int
    public var quickGelu: Bool
    public var visionCfg: VisionConfig
    public var textCfg: TextConfig
    /// SigLIP-style models have a learnable bias; OpenCLIP enables it with `init_logit_bias`.
    public var initLogitBias: Float?
    public var initLogitScale: Float?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case embedDim = "embed_dim", quickGelu = "quick_gelu", visionCfg = "vision_cfg", textCfg = "text_cfg"
        case initLogitBias = "init_logit_bias", initLogitScale = "init_logit_scale"
    }

    public init(embedDim: Int, quickGelu: Bool = false, visionCfg: VisionConfig, textCfg: TextConfig,
                initLogitBias: Float? = nil, initLogitScale: Float? = nil) {
        (self.embedDim, self.quickGelu, self.visionCfg, self.textCfg) = (embedDim, quickGelu, visionCfg, textCfg)
        (self.initLogitBias, self.initLogitScale) = (initLogitBias, initLogitScale)
    }

    public init(from decoder: Decoder) throws {
        try OpenCLIPKeys.check(decoder, implemented: Set(CodingKeys.allCases.map(\.rawValue)), policy: OpenCLIPKeys.topLevel)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        embedDim = try c.decode(Int.self, forKey: .embedDim)
        quickGelu = try c.decodeIfPresent(Bool.self, forKey: .quickGelu) ?? false
        visionCfg = try c.decode(VisionConfig.self, forKey: .visionCfg)
        textCfg = try c.decode(TextConfig.self, forKey: .textCfg)
        initLogitBias = try c.decodeIfPresent(Float.self, forKey: .initLogitBias)
        initLogitScale = try c.decodeIfPresent(Float.self, forKey: .initLogitScale)
    }

    /// Reads a model-config JSON file; errors name the file and the problem.
    public static func load(_ url: URL) throws -> ModelConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError("\(url.path): cannot read model config (\(error.localizedDescription))")
        }
        return try decode(ModelConfig.self, from: data, source: url.path) { try $0.validate() }
    }

    /// Decodes JSON holding a model config (the config itself, or a file around one such as an
    /// OpenCLIP hub folder's `open_clip_config.json`) and runs `check` on it; every failure is one
    /// line starting with `source` and naming the key.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, source: String,
                                            check: (T) throws -> Void = { _ in }) throws -> T {
        do {
            let value = try JSONDecoder().decode(T.self, from: data)
            try check(value)
            return value
        } catch let e as ModelError {
            throw ModelError("\(source): \(e.message)")
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ModelError("\(source): missing key \((ctx.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ModelError("\(source): wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw ModelError("\(source): null at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch let e as DecodingError {
            throw ModelError("\(source): not valid JSON (\(e.localizedDescription))")
        } catch {
            throw ModelError("\(source): \(error)")
        }
    }

    public func validate() throws {
        guard embedDim > 0 else { throw ModelError("embed_dim: must be positive, got \(embedDim)") }
        try visionCfg.validate()
        try textCfg.validate()
    }

    public var activation: Activation { quickGelu ? .quickGelu : .gelu }

    /// The keys whose values differ from `other`'s — dotted as in the JSON (`vision_cfg.head_width`),
    /// sorted, with this config's value and `other`'s as JSON text — leaving out `init_logit_scale` and
    /// `init_logit_bias`, which only start parameters that loaded weights replace. Every other key
    /// changes what the network computes.
    public func differences(from other: ModelConfig) -> [(key: String, value: String, otherValue: String)] {
        func leaves(_ config: ModelConfig) -> [String: String] {
            var found: [String: String] = [:]
            func walk(_ value: Any, _ path: String) {
                if let object = value as? [String: Any] {
                    for (key, child) in object { walk(child, path.isEmpty ? key : path + "." + key) }
                } else {
                    let json = try! JSONSerialization.data(withJSONObject: [value])   // "[value]"
                    found[path] = String(decoding: json.dropFirst().dropLast(), as: UTF8.self)
                }
            }
            walk(try! JSONSerialization.jsonObject(with: config.jsonData()), "")
            return found
        }
        let (mine, theirs) = (leaves(self), leaves(other))
        return Set(mine.keys).union(theirs.keys).subtracting(["init_logit_scale", "init_logit_bias"]).sorted()
            .compactMap { key in mine[key] == theirs[key] ? nil : (key, mine[key] ?? "absent", theirs[key] ?? "absent") }
    }

    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try! encoder.encode(self)
    }
}

/// The name of a registered tower (`vision_cfg.type`, `text_cfg.type`; `TowerFactory`), spelled in
/// JSON as a string.
public struct TowerType: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(rawValue) }

    /// The built-in towers: OpenCLIP's ViT and text transformer, SwiftCLIP's conv tower.
    public static let vit: TowerType = "vit", convnet: TowerType = "convnet", transformer: TowerType = "transformer"
}

public struct VisionConfig: Codable, Equatable, Sendable {
    /// The image tower (`TowerFactory`): `vit` (OpenCLIP's VisionTransformer), `convnet`
    /// (SwiftCLIP's small conv tower), or a tower a program registered.
    public typealias Kind = TowerType
    /// `tok` (class token) or `avg` (mean of patch tokens), as OpenCLIP's `pool_type`.
    public enum Pool: String, ModelConfigChoice { case tok, avg }

    public var type: Kind
    public var imageSize: Int
    public var patchSize: Int
    public var width: Int
    public var layers: Int
    public var headWidth: Int
    public var mlpRatio: Double
    public var poolType: Pool
    /// Channel widths of the conv tower's stages (convnet only).
    public var convnetWidths: [Int]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, imageSize = "image_size", patchSize = "patch_size", width, layers
        case headWidth = "head_width", mlpRatio = "mlp_ratio", poolType = "pool_type", convnetWidths = "convnet_widths"
    }

    /// The defaults are OpenCLIP's (what an omitted key means).
    public init(type: Kind = .vit, imageSize: Int, patchSize: Int = 16, width: Int = 768, layers: Int = 12, headWidth: Int = 64,
                mlpRatio: Double = 4, poolType: Pool = .tok, convnetWidths: [Int] = []) {
        (self.type, self.imageSize, self.patchSize, self.width, self.layers) = (type, imageSize, patchSize, width, layers)
        (self.headWidth, self.mlpRatio, self.poolType, self.convnetWidths) = (headWidth, mlpRatio, poolType, convnetWidths)
    }

    public init(from decoder: Decoder) throws {
        try OpenCLIPKeys.check(decoder, implemented: Set(CodingKeys.allCases.map(\.rawValue)), policy: OpenCLIPKeys.vision)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = VisionConfig(imageSize: 0)
        type = try c.decodeIfPresent(Kind.self, forKey: .type) ?? d.type
        if let size = try? c.decode(Int.self, forKey: .imageSize) { imageSize = size } else {
            let pair = try c.decode([Int].self, forKey: .imageSize)
            guard pair.count == 2, pair[0] == pair[1] else { throw ModelError("vision_cfg.image_size must be square, got \(pair)") }
            imageSize = pair[0]
        }
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        width = try c.decodeIfPresent(Int.self, forKey: .width) ?? d.width
        if let l = try? c.decode(Int.self, forKey: .layers) { layers = l } else if c.contains(.layers) {
            throw ModelError("vision_cfg.layers as a list means OpenCLIP's ModifiedResNet, which SwiftCLIP does not implement")
        } else { layers = d.layers }
        headWidth = try c.decodeIfPresent(Int.self, forKey: .headWidth) ?? d.headWidth
        mlpRatio = try c.decodeIfPresent(Double.self, forKey: .mlpRatio) ?? d.mlpRatio
        poolType = try c.decodeChoice(Pool.self, forKey: .poolType, name: "vision_cfg.pool_type") ?? d.poolType
        convnetWidths = try c.decodeIfPresent([Int].self, forKey: .convnetWidths) ?? d.convnetWidths
    }

    func validate() throws { try TowerFactory.validate(self) }
}

public struct TextConfig: Codable, Equatable, Sendable {
    public var contextLength: Int
    public var vocabSize: Int
    public var width: Int
    public var heads: Int
    public var layers: Int
    public var mlpRatio: Double
    /// `argmax` (EOT position, OpenCLIP's default) or `first` ([CLS]-style, for bidirectional encoders).
    public enum Pool: String, ModelConfigChoice { case argmax, first }
    /// The text tower (`TowerFactory`): `transformer` (OpenCLIP's TextTransformer, the default), or
    /// a tower a program registered. Written to JSON only when it is not the default.
    public typealias Kind = TowerType

    public var type: Kind

    public var poolType: Pool
    /// True for a bidirectional encoder (OpenCLIP's `no_causal_mask`).
    public var noCausalMask: Bool

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, contextLength = "context_length", vocabSize = "vocab_size", width, heads, layers
        case mlpRatio = "mlp_ratio", poolType = "pool_type", noCausalMask = "no_causal_mask"
    }

    /// The defaults are OpenCLIP's (what an omitted key means).
    public init(type: Kind = .transformer, contextLength: Int = 77, vocabSize: Int = 49408, width: Int = 512, heads: Int = 8,
                layers: Int = 12, mlpRatio: Double = 4, poolType: Pool = .argmax, noCausalMask: Bool = false) {
        (self.type, self.contextLength, self.vocabSize, self.width, self.heads, self.layers) = (type, contextLength, vocabSize, width, heads, layers)
        (self.mlpRatio, self.poolType, self.noCausalMask) = (mlpRatio, poolType, noCausalMask)
    }

    /// Every key but `type`, which is written only for a tower other than the default (configs,
    /// checkpoints and hub folders of the transformer stay as OpenCLIP writes them).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if type != .transformer { try c.encode(type, forKey: .type) }
        try c.encode(contextLength, forKey: .contextLength)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(width, forKey: .width)
        try c.encode(heads, forKey: .heads)
        try c.encode(layers, forKey: .layers)
        try c.encode(mlpRatio, forKey: .mlpRatio)
        try c.encode(poolType, forKey: .poolType)
        try c.encode(noCausalMask, forKey: .noCausalMask)
    }

    public init(from decoder: Decoder) throws {
        try OpenCLIPKeys.check(decoder, implemented: Set(CodingKeys.allCases.map(\.rawValue)), policy: OpenCLIPKeys.text)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TextConfig()
        type = try c.decodeIfPresent(Kind.self, forKey: .type) ?? d.type
        contextLength = try c.decodeIfPresent(Int.self, forKey: .contextLength) ?? d.contextLength
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        width = try c.decodeIfPresent(Int.self, forKey: .width) ?? d.width
        heads = try c.decodeIfPresent(Int.self, forKey: .heads) ?? d.heads
        layers = try c.decodeIfPresent(Int.self, forKey: .layers) ?? d.layers
        mlpRatio = try c.decodeIfPresent(Double.self, forKey: .mlpRatio) ?? d.mlpRatio
        poolType = try c.decodeChoice(Pool.self, forKey: .poolType, name: "text_cfg.pool_type") ?? d.poolType
        noCausalMask = try c.decodeIfPresent(Bool.self, forKey: .noCausalMask) ?? d.noCausalMask
    }

    func validate() throws { try TowerFactory.validate(self) }
}

/// A config value spelled as one of a fixed set of strings (OpenCLIP's spellings, or ours); it
/// encodes as its spelling.
public protocol ModelConfigChoice: RawRepresentable<String>, CaseIterable, Codable, Sendable {}

extension ModelConfigChoice {
    /// The spellings for an error: "a or b", "a, b or c".
    public static var spellings: String {
        let all = allCases.map(\.rawValue)
        return all.count < 2 ? all.joined() : all.dropLast().joined(separator: ", ") + " or " + all.last!
    }
}

extension KeyedDecodingContainer {
    /// The choice spelled at `key` (nil when absent), or `name must be …, got X`.
    func decodeChoice<T: ModelConfigChoice>(_ type: T.Type, forKey key: Key, name: String) throws -> T? {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let value = T(rawValue: text) else { throw ModelError("\(name) must be \(T.spellings), got \(text)") }
        return value
    }
}

/// A model-building or loading failure with a one-line message.
public struct ModelError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}
