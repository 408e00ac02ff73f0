import Foundation

/// The `objective:` section of a training config: `type` — any objective in `ObjectiveRegistry`,
/// the built-in ones and those a program registered — and that objective's options (snake_case
/// keys). Each objective's options, their defaults (the objective's own) and their checks live in
/// the objective's file (`XObjective.Options`). Unknown keys, options of another type and
/// out-of-range values are errors that name the key.
public struct ObjectiveConfig: Codable, Equatable, Sendable {
    /// The configured objective's options (an `XObjective.Options`).
    public let options: any ObjectiveOptions

    public init(_ options: any ObjectiveOptions) { self.options = options }

    public static func == (a: ObjectiveConfig, b: ObjectiveConfig) -> Bool { a.options.isEqual(to: b.options) }

    /// The `type` key: `clip`, `align`, ….
    public var type: String { Swift.type(of: options).type }

    /// CLIP with its defaults (a config without an `objective:` section).
    public static var `default`: ObjectiveConfig { ObjectiveConfig(CLIPObjective.Options()) }

    /// Builds the objective, or throws a one-line error naming the offending key.
    public func makeObjective() throws -> any Objective { try options.makeObjective() }

    /// Decodes, rejecting unknown keys, unknown types and options of another type.
    public init(from decoder: any Decoder) throws {
        let any = try decoder.container(keyedBy: OptionKey.self)
        let kinds = ObjectiveRegistry.kinds
        let known = Set(["type"] + kinds.flatMap { $0.keys })
        if let unknown = any.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw ObjectiveConfigError("objective: unknown key '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        let type = try any.decode(String.self, forKey: OptionKey("type"))
        guard let kind = ObjectiveRegistry.kind(named: type) else {
            throw ObjectiveConfigError("objective.type: unknown objective '\(type)' (one of: \(kinds.map { $0.type }.joined(separator: ", ")))")
        }
        if let wrong = any.allKeys.map(\.stringValue).sorted().first(where: { $0 != "type" && !kind.keys.contains($0) }) {
            throw ObjectiveConfigError("objective.\(wrong): not an option of objective '\(type)' (its options: \(kind.keys.joined(separator: ", ")))")
        }
        self = ObjectiveConfig(try kind.init(from: decoder))
    }

    /// `type` first, then the options that are set.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: OptionKey.self)
        try c.encode(type, forKey: OptionKey("type"))
        try options.encode(to: encoder)
    }

    /// Whether a checkpoint trained with objective `source` (nil: none recorded, i.e. an OpenCLIP
    /// CLIP checkpoint) holds a `logit_scale` (and `logit_bias`) that this objective reads the same
    /// way: the same type, or both reading it as CLIP does (scale exp(t), no bias: clip, filip,
    /// longclip, multipos). Otherwise fine-tuning starts the scalars from this objective's
    /// defaults — e.g. ALIGN's σ is not a CLIP logit_scale, SigLIP needs a bias a CLIP checkpoint lacks.
    public func sharesScalars(withCheckpointOf source: String?) -> Bool {
        let source = source ?? CLIPObjective.Options.type
        let kind = Swift.type(of: options)
        return source == kind.type || (kind.readsCLIPScalars && ObjectiveRegistry.kind(named: source)?.readsCLIPScalars == true)
    }
}

/// One objective's config options: an `XObjective.Options` struct whose optional fields are the
/// options as written (nil: the objective's default), encoded under snake_case `CodingKeys`.
/// A saved `config.yaml` writes the options in `CodingKeys` order; keep it the order of
/// `label_smoothing, temperature_init, lambda, tau, block_size, include_special_tokens,
/// short_weight, components, k` so configs saved by earlier versions hash the same on resume.
public protocol ObjectiveOptions: Codable, Equatable, Sendable {
    associatedtype CodingKeys: CodingKey & CaseIterable
    /// The `objective.type` that selects this objective.
    static var type: String { get }
    /// True when the objective reads `logit_scale` as CLIP does (scale exp(t), no bias).
    static var readsCLIPScalars: Bool { get }
    /// The similarity of a checkpoint written before checkpoints recorded it (`Similarity.metadata`),
    /// read from the rest of its metadata; nil: `.embedding`.
    static func legacySimilarity(metadata: [String: String], source: String) throws -> Similarity?
    /// Names of its own for similarities, accepted by `--scoring` (FILIP: `filip`, `filip-content`).
    static var similarityAliases: [String: Similarity] { get }
    /// Checks the options (errors name the key) and builds the objective.
    func makeObjective() throws -> any Objective
}

extension ObjectiveOptions {
    public static var readsCLIPScalars: Bool { false }
    public static func legacySimilarity(metadata: [String: String], source: String) throws -> Similarity? { nil }
    public static var similarityAliases: [String: Similarity] { [:] }

    /// The options as a config.
    public var config: ObjectiveConfig { ObjectiveConfig(self) }

    /// The objective's defaults: `objective: {type: NAME}` and nothing else.
    public static func defaults() throws -> Self { try JSONDecoder().decode(Self.self, from: Data("{}".utf8)) }

    /// Whether `other` is the same objective with the same options.
    public func isEqual(to other: any ObjectiveOptions) -> Bool { (other as? Self) == self }

    /// The option keys, in `CodingKeys` order.
    public static var keys: [String] { CodingKeys.allCases.map(\.stringValue) }

    /// `value` unless it breaks `rule` (then an error naming `objective.key`).
    public func checked<T: Comparable>(_ key: CodingKeys, _ value: T?, _ rule: String, _ valid: (T) -> Bool) throws -> T? {
        if let value, !valid(value) { throw ObjectiveConfigError("objective.\(key.stringValue): \(value) is out of range (\(rule))") }
        return value
    }

    public func checkedLabelSmoothing(_ key: CodingKeys, _ value: Float?) throws -> Float? {
        try checked(key, value, "must be in [0, 1)") { $0 >= 0 && $0 < 1 }
    }

    public func checkedPositive(_ key: CodingKeys, _ value: Float?) throws -> Float? {
        try checked(key, value, "must be positive") { $0 > 0 && $0.isFinite }
    }

    public func checkedAtLeastOne(_ key: CodingKeys, _ value: Int?) throws -> Int? {
        try checked(key, value, "must be at least 1") { $0 >= 1 }
    }

    /// logit_scale t = ln(1/τ) for an initial temperature τ (objectives with scale exp(t)).
    public func logitScale(temperature key: CodingKeys, _ value: Float?) throws -> Float? {
        try checkedPositive(key, value).map { Foundation.log(1 / $0) }
    }
}

/// A bad objective configuration; `description` is one line naming the key.
public struct ObjectiveConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

private struct OptionKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ stringValue: String) { self.stringValue = stringValue }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
