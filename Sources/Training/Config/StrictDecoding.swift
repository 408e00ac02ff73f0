import Foundation

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

/// A configuration problem, reported on one line naming the file and the key.
public struct ConfigError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }

    /// Turns a decoding error into `FILE: key.path: reason`.
    static func from(_ error: Error, file: String) -> ConfigError {
        func path(_ p: [CodingKey]) -> String {
            p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case let e as ConfigError: return ConfigError("\(file): \(e.message)")
        case DecodingError.keyNotFound(let key, let ctx):
            return ConfigError("\(file): \(path(ctx.codingPath + [key])): missing required key")
        case DecodingError.typeMismatch(let type, let ctx):
            return ConfigError("\(file): \(path(ctx.codingPath)): expected \(describe(type))")
        case DecodingError.valueNotFound(let type, let ctx):
            return ConfigError("\(file): \(path(ctx.codingPath)): expected \(describe(type)), got null")
        case DecodingError.dataCorrupted(let ctx):
            let where_ = ctx.codingPath.isEmpty ? "" : "\(path(ctx.codingPath)): "
            let detail = ctx.underlyingError.map { ": \($0)" } ?? ""
            return ConfigError("\(file): \(where_)\(ctx.debugDescription)\(detail)".replacingOccurrences(of: "\n", with: " "))
        default:
            return ConfigError("\(file): \(error)".replacingOccurrences(of: "\n", with: " "))
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") || name.contains("Sequence") { return "a list" }
            if name.hasPrefix("Dictionary") || name.contains("Mapping") || name.hasSuffix("Config") || name.hasSuffix("Section") { return "a mapping" }
            return name
        }
    }
}
