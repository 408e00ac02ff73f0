import Foundation
import Yams
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// Any string key, for listing every key present in a keyed container.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// Throws when the mapping at this level has a key outside `Keys` (config typos are errors).
    func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        let container = try container(keyedBy: AnyKey.self)
        let known = Set(Keys.allCases.map(\.stringValue))
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath + [key],
                debugDescription: "unknown key (expected one of: \(known.sorted().joined(separator: ", ")))"))
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, nil when the key is absent; a null value is an error, so that `key: null`
    /// (or `--set key=null`) never silently means the default.
    func decodeUnlessNull<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "null"))
        }
        return try decode(type, forKey: key)
    }

    /// Throws "KEY: needs a value, got null" when `key` holds null: Yams decodes a null as the string
    /// "null" for a `String`, which a required path would then look for as a file.
    func rejectNull(forKey key: Key) throws {
        guard contains(key), try decodeNil(forKey: key) else { return }
        throw ConfigError("\((codingPath + [key]).map(\.stringValue).joined(separator: ".")): needs a value, got null")
    }
}

extension ConfigError {
    /// Turns a decoding error into `FILE: key.path: reason`; `root` (the parsed document) lets the
    /// message quote the offending value.
    static func from(_ error: Error, file: String, root: Node? = nil) -> ConfigError {
        func path(_ p: [CodingKey]) -> String {
            p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        /// `, got "abc"` for the value at `p` in the document, when it can be found.
        func got(_ p: [CodingKey]) -> String {
            var node = root
            for key in p {
                if let i = key.intValue { node = node?.sequence.flatMap { i < $0.count ? $0[i] : nil } } else { node = node?.mapping?[key.stringValue] }
            }
            switch node {
            case .scalar(let s)?: return ["null", "~", ""].contains(s.string) ? ", got null" : ", got \"\(s.string)\""
            case .mapping?: return ", got a mapping"
            case .sequence?: return ", got a list"
            default: return ""
            }
        }
        switch error {
        case let e as ConfigError: return ConfigError("\(file): \(e.message)")
        case DecodingError.keyNotFound(let key, let ctx):
            return ConfigError("\(file): \(path(ctx.codingPath + [key])): missing required key")
        case DecodingError.typeMismatch(let type, let ctx):
            return ConfigError("\(file): \(path(ctx.codingPath)): expected \(describe(type))\(got(ctx.codingPath))")
        case DecodingError.valueNotFound(let type, let ctx):
            // Yams also reports a scalar that does not convert (`abc` for an integer) as "not found".
            let value = got(ctx.codingPath)
            return ConfigError("\(file): \(path(ctx.codingPath)): expected \(describe(type))\(value.isEmpty ? ", got null" : value)")
        case DecodingError.dataCorrupted(let ctx) where ctx.debugDescription.hasPrefix("The given data"):
            // Yams wraps an error thrown by a section's decoder (a ConfigError naming its key) in
            // "The given data was not valid YAML."; report the error itself.
            if let underlying = ctx.underlyingError { return from(underlying, file: file, root: root) }
            return ConfigError("\(file): \(path(ctx.codingPath)): not a valid value\(got(ctx.codingPath))")
        case DecodingError.dataCorrupted(let ctx):
            let where_ = ctx.codingPath.isEmpty ? "" : "\(path(ctx.codingPath)): "
            let detail = ctx.underlyingError.map { ": \($0)" } ?? ""
            return ConfigError("\(file): \(where_)\(ctx.debugDescription)\(detail)".replacingOccurrences(of: "\n", with: " "))
        default:
            return ConfigError("\(file): \(String(describing: error))".replacingOccurrences(of: "\n", with: " "))
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is UInt64.Type, is UInt.Type: return "a non-negative integer"
        case is Float.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let name = String(describing: type)
            if name == "Scalar" { return "a single value" }   // Yams' node type for any scalar
            if name.hasPrefix("Array") || name.contains("Sequence") { return "a list" }
            if name.hasPrefix("Dictionary") || name.contains("Mapping") || name.hasSuffix("Config") || name.hasSuffix("Section") { return "a mapping" }
            return name
        }
    }
}
