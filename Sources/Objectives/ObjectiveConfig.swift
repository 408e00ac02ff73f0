import Foundation

/// The `objective:` section of a training config: a `type` and that type's options
/// (snake_case keys). Unknown keys, options of another type and out-of-range values are
/// errors that name the key.
///
/// | type | options (default) |
/// |---|---|
/// | `clip` | `label_smoothing` (0), `temperature_init` (0.07: logit_scale = ln(1/τ)) |
/// | `align` | `label_smoothing` (0.1), `temperature_init` (1.0: σ itself, stored in logit_scale) |
/// | `convirt` | `lambda` (0.75), `tau` (0.1, fixed) |
/// | `siglip` | `block_size` (128), `temperature_init` (0.1: logit_scale = ln 10) |
/// | `filip` | `include_special_tokens` (true), `block_size` (16), `temperature_init` (0.07) |
/// | `longclip` | `label_smoothing` (0.1), `short_weight` (1.0), `components` (32), `temperature_init` (0.07) |
/// | `multipos` | `k` (3), `label_smoothing` (0), `temperature_init` (0.07) |
public struct ObjectiveConfig: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, CaseIterable, Sendable {
        case clip, align, filip, longclip, siglip, convirt, multipos
    }

    public var type: String
    public var labelSmoothing: Float?
    public var temperatureInit: Float?
    public var lambda: Float?
    public var tau: Float?
    public var blockSize: Int?
    public var includeSpecialTokens: Bool?
    public var shortWeight: Float?
    public var components: Int?
    public var k: Int?

    public init(type: String, labelSmoothing: Float? = nil, temperatureInit: Float? = nil, lambda: Float? = nil,
                tau: Float? = nil, blockSize: Int? = nil, includeSpecialTokens: Bool? = nil, shortWeight: Float? = nil,
                components: Int? = nil, k: Int? = nil) {
        self.type = type
        (self.labelSmoothing, self.temperatureInit, self.lambda, self.tau, self.blockSize) =
            (labelSmoothing, temperatureInit, lambda, tau, blockSize)
        (self.includeSpecialTokens, self.shortWeight, self.components, self.k) = (includeSpecialTokens, shortWeight, components, k)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type
        case labelSmoothing = "label_smoothing", temperatureInit = "temperature_init", lambda, tau
        case blockSize = "block_size", includeSpecialTokens = "include_special_tokens"
        case shortWeight = "short_weight", components, k
    }

    /// Decodes, rejecting keys that are not options of any objective.
    public init(from decoder: any Decoder) throws {
        let any = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(CodingKeys.allCases.map(\.stringValue))
        if let unknown = any.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw ObjectiveConfigError("objective: unknown key '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(type: try c.decode(String.self, forKey: .type),
                  labelSmoothing: try c.decodeIfPresent(Float.self, forKey: .labelSmoothing),
                  temperatureInit: try c.decodeIfPresent(Float.self, forKey: .temperatureInit),
                  lambda: try c.decodeIfPresent(Float.self, forKey: .lambda),
                  tau: try c.decodeIfPresent(Float.self, forKey: .tau),
                  blockSize: try c.decodeIfPresent(Int.self, forKey: .blockSize),
                  includeSpecialTokens: try c.decodeIfPresent(Bool.self, forKey: .includeSpecialTokens),
                  shortWeight: try c.decodeIfPresent(Float.self, forKey: .shortWeight),
                  components: try c.decodeIfPresent(Int.self, forKey: .components),
                  k: try c.decodeIfPresent(Int.self, forKey: .k))
    }

    /// The options that are set, by key.
    var setOptions: [CodingKeys] {
        let present: [(CodingKeys, Bool)] = [
            (.labelSmoothing, labelSmoothing != nil), (.temperatureInit, temperatureInit != nil), (.lambda, lambda != nil),
            (.tau, tau != nil), (.blockSize, blockSize != nil), (.includeSpecialTokens, includeSpecialTokens != nil),
            (.shortWeight, shortWeight != nil), (.components, components != nil), (.k, k != nil),
        ]
        return present.filter(\.1).map(\.0)
    }

    /// Options each type accepts.
    static func options(of kind: Kind) -> [CodingKeys] {
        switch kind {
        case .clip: [.labelSmoothing, .temperatureInit]
        case .align: [.labelSmoothing, .temperatureInit]
        case .convirt: [.lambda, .tau]
        case .siglip: [.blockSize, .temperatureInit]
        case .filip: [.includeSpecialTokens, .blockSize, .temperatureInit]
        case .longclip: [.labelSmoothing, .shortWeight, .components, .temperatureInit]
        case .multipos: [.k, .labelSmoothing, .temperatureInit]
        }
    }

    /// Whether a checkpoint trained with objective `source` (nil: none recorded, i.e. an OpenCLIP
    /// CLIP checkpoint) holds a `logit_scale` (and `logit_bias`) that this objective reads the same
    /// way: the same type, or both of the CLIP family (scale exp(t), no bias: clip, filip, longclip,
    /// multipos). Otherwise fine-tuning starts the scalars from this objective's defaults —
    /// e.g. ALIGN's σ is not a CLIP logit_scale, SigLIP needs a bias a CLIP checkpoint lacks.
    public func sharesScalars(withCheckpointOf source: String?) -> Bool {
        let clipFamily: Set<String> = ["clip", "filip", "longclip", "multipos"]
        let source = source ?? "clip"
        return source == type || (clipFamily.contains(source) && clipFamily.contains(type))
    }

    /// Builds the objective, or throws a one-line error naming the offending key.
    public func makeObjective() throws -> any Objective {
        guard let kind = Kind(rawValue: type) else {
            throw ObjectiveConfigError("objective.type: unknown objective '\(type)' (one of: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let allowed = ObjectiveConfig.options(of: kind)
        if let wrong = setOptions.first(where: { !allowed.contains($0) }) {
            throw ObjectiveConfigError("objective.\(wrong.stringValue): not an option of objective '\(type)' (its options: \(allowed.map(\.stringValue).joined(separator: ", ")))")
        }
        func check<T: Comparable>(_ key: CodingKeys, _ value: T?, _ valid: (T) -> Bool, _ rule: String) throws {
            if let value, !valid(value) { throw ObjectiveConfigError("objective.\(key.stringValue): \(value) is out of range (\(rule))") }
        }
        try check(.labelSmoothing, labelSmoothing, { $0 >= 0 && $0 < 1 }, "must be in [0, 1)")
        try check(.temperatureInit, temperatureInit, { $0 > 0 && $0.isFinite }, "must be positive")
        try check(.lambda, lambda, { $0 >= 0 && $0 <= 1 }, "must be in [0, 1]")
        try check(.tau, tau, { $0 > 0 && $0.isFinite }, "must be positive")
        try check(.blockSize, blockSize, { $0 >= 1 }, "must be at least 1")
        try check(.shortWeight, shortWeight, { $0 >= 0 && $0.isFinite }, "must be non-negative")
        try check(.components, components, { $0 >= 1 }, "must be at least 1")
        try check(.k, k, { $0 >= 1 }, "must be at least 1")
        /// logit_scale t = ln(1/τ) for objectives with scale exp(t).
        func logitScale(_ defaultTemperature: Float) -> Float { Foundation.log(1 / (temperatureInit ?? defaultTemperature)) }

        switch kind {
        case .clip:
            var o = CLIPObjective(labelSmoothing: labelSmoothing ?? 0)
            o.initialLogitScale = logitScale(0.07)
            return o
        case .align:
            let floor = ALIGNObjective().minTemperature
            try check(.temperatureInit, temperatureInit, { $0 >= floor }, "ALIGN's σ is kept at or above \(floor)")
            return ALIGNObjective(labelSmoothing: labelSmoothing ?? 0.1, initialTemperature: temperatureInit ?? 1)
        case .convirt:
            return ConVIRTObjective(lambda: lambda ?? 0.75, temperature: tau ?? 0.1)
        case .siglip:
            return SigLIPObjective(blockSize: blockSize ?? 128, initialLogitScale: logitScale(0.1))
        case .filip:
            var o = FILIPObjective(includeSpecialTokens: includeSpecialTokens ?? true, blockSize: blockSize ?? 16)
            o.initialLogitScale = logitScale(0.07)
            return o
        case .longclip:
            var o = LongCLIPObjective(shortWeight: shortWeight ?? 1, components: components ?? 32,
                                      labelSmoothing: labelSmoothing ?? 0.1)
            o.initialLogitScale = logitScale(0.07)
            return o
        case .multipos:
            var o = MultiPositiveObjective(k: k ?? 3, labelSmoothing: labelSmoothing ?? 0)
            o.initialLogitScale = logitScale(0.07)
            return o
        }
    }
}

/// A bad objective configuration; `description` is one line naming the key.
public struct ObjectiveConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
