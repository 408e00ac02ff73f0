/// A config value spelled as one of a fixed set of strings (the YAML/JSON spellings are the user
/// contract, DESIGN.md). Decoding another string is a one-line error naming the key and the
/// allowed values; encoding writes the spelling.
protocol ConfigChoice: RawRepresentable<String>, CaseIterable, Codable, Sendable {}

extension ConfigChoice {
    /// "a or b", "a, b or c".
    static var spellings: String {
        let all = allCases.map(\.rawValue)
        return all.count < 2 ? all.joined() : all.dropLast().joined(separator: ", ") + " or " + all.last!
    }

    /// The choice spelled by the string at `decoder`, or `key.path: expected …, got X`.
    static func decode(_ decoder: any Decoder) throws -> Self {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: text) else {
            let key = decoder.codingPath.filter { $0.intValue == nil }.map(\.stringValue).joined(separator: ".")
            throw ConfigError("\(key): expected \(spellings), got \(text)")
        }
        return value
    }
}

/// `optimizer.type`.
public enum OptimizerKind: String, ConfigChoice {
    case adamw, sgd
    public init(from decoder: any Decoder) throws { self = try Self.decode(decoder) }
}

/// `schedule.type`.
public enum ScheduleKind: String, ConfigChoice {
    case cosine, constant, constCooldown = "const-cooldown"
    public init(from decoder: any Decoder) throws { self = try Self.decode(decoder) }
}

/// `data.caption_source`: which text is the main caption.
public enum CaptionSource: String, ConfigChoice {
    /// `/captions`.
    case caption
    /// `/long_captions`.
    case longCaption = "long_caption"
    public init(from decoder: any Decoder) throws { self = try Self.decode(decoder) }
}

/// An entry of `model.freeze`.
public enum FrozenTower: String, ConfigChoice {
    case visual, text
    public init(from decoder: any Decoder) throws { self = try Self.decode(decoder) }
}
