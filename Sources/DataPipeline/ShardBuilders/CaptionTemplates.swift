import Foundation
import TensorCore
import Tokenization

/// Caption templates such as `a photo of a {}.`: one per line in a text file, `{}` standing for the class
/// name; blank lines and lines starting with `#` are ignored.
public struct CaptionTemplates: Sendable, Equatable {
    public let templates: [String]

    public init(_ templates: [String]) {
        ensure(!templates.isEmpty && templates.allSatisfy { $0.contains("{}") },
                "caption templates must be non-empty and contain {}, got \(templates)")
        self.templates = templates
    }

    /// Reads a template file; throws naming the file (and line) when it is missing or malformed.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ShardBuildError(description: "\(path): cannot read template file")
        }
        var templates: [String] = []
        let lines: [String]
        do { lines = try TextProblem.lines(of: data, source: path) } catch { throw ShardBuildError(description: "\(error)") }
        for (n, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.contains("{}") else {
                throw ShardBuildError(description: "\(path): line \(n + 1): template \"\(line)\" has no {} placeholder")
            }
            templates.append(line)
        }
        guard !templates.isEmpty else { throw ShardBuildError(description: "\(path): no templates in file") }
        self.templates = templates
    }

    /// `template` with `{}` replaced by `name`.
    public static func fill(_ template: String, with name: String) -> String {
        template.replacingOccurrences(of: "{}", with: name)
    }

    /// A caption for item `index` of class `name`: the template is drawn from a generator seeded by
    /// `(seed, index)`, so captions do not depend on the order items are processed in.
    public func caption(for name: String, index: Int, seed: UInt64) -> String {
        var rng = RandomGenerator(seed: RandomGenerator.derivedSeed(seed, domain: 3, UInt64(index)))
        return Self.fill(templates[Int.random(in: 0..<templates.count, using: &rng)], with: name)
    }
}
