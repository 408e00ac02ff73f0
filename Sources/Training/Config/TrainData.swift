import Foundation
import ModelStore

/// `data.train`: one dataset (a path or a list of paths, items concatenated in order) or a weighted
/// mixture of datasets (a list of `{source, weight}` mappings, sampled by `MixtureDataset`).
public enum TrainData: Codable, Equatable, Sendable {
    /// Shard files or folders (or whatever a registered dataset kind reads), opened as one dataset.
    case paths([String])
    /// Datasets mixed in proportion to their weights.
    case mixture([MixtureEntry])

    /// One source of a mixture: `source` (a path or a list of paths, opened as one dataset) and its `weight`.
    public struct MixtureEntry: Codable, Equatable, Sendable {
        /// The source's paths (a folder, a shard, …), opened together as one dataset.
        public var source: [String]
        /// Positive and finite; weights are normalized over the mixture.
        public var weight: Double
        enum CodingKeys: String, CodingKey, CaseIterable { case source, weight }

        /// A source of `source` paths sampled with `weight`.
        public init(source: [String], weight: Double) { (self.source, self.weight) = (source, weight) }

        /// How logs and metrics name the source: its path, or its paths joined by commas.
        public var name: String { source.joined(separator: ",") }

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let here = ConfigError.keyPath(decoder.codingPath)
            try c.rejectNull(forKey: .source)
            if let one = try? c.decode(String.self, forKey: .source) { source = [one] } else { source = try c.decode([String].self, forKey: .source) }
            guard !source.isEmpty else { throw ConfigError("\(here).source: needs at least one path") }
            try c.rejectNull(forKey: .weight)
            weight = try c.decode(Double.self, forKey: .weight)
            guard weight.isFinite && weight > 0 else { throw ConfigError("\(here).weight: must be a positive finite number, got \(weight)") }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if source.count == 1 { try c.encode(source[0], forKey: .source) } else { try c.encode(source, forKey: .source) }
            try c.encode(weight, forKey: .weight)
        }
    }

    /// Every path named, in order (the mixture's sources' paths one after another).
    public var allPaths: [String] {
        switch self {
        case let .paths(p): return p
        case let .mixture(entries): return entries.flatMap(\.source)
        }
    }

    /// A string, a list of strings, or a list of `{source, weight}` mappings (not a mix of both).
    /// - Parameter decoder: the decoder of the `data.train` value.
    public init(from decoder: Decoder) throws {
        if let one = try? decoder.singleValueContainer().decode(String.self) { self = .paths([one]); return }
        if let list = try? decoder.singleValueContainer().decode([String].self) { self = .paths(list); return }
        var list = try decoder.unkeyedContainer()
        var entries: [MixtureEntry] = []
        while !list.isAtEnd {
            if (try? list.decode(String.self)) != nil {
                throw ConfigError("\(ConfigError.keyPath(decoder.codingPath)): either a list of paths or a list of {source, weight} mappings, not both")
            }
            entries.append(try list.decode(MixtureEntry.self))
        }
        self = .mixture(entries)
    }

    /// Paths encode as the plain list they always were (so old configs save and hash as before).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .paths(p): try c.encode(p)
        case let .mixture(entries): try c.encode(entries)
        }
    }
}

extension ConfigError {
    /// `data.train[1]` for a decoder's coding path.
    static func keyPath(_ path: [CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
}
