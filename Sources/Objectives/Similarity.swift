import Foundation

/// How evaluation compares an image with a text for a model trained with an objective: the
/// objective says it (`Objective.similarity`), `train` records it in each checkpoint's model
/// metadata, and `evaluate`, `embed` and `filter` read it back — no command matches objective names.
public enum Similarity: Equatable, Sendable, CustomStringConvertible {
    /// Cosine similarity of the pooled, L2-normalized embeddings.
    case embedding
    /// Token-wise late interaction (FILIP, `FILIPKernel`), with or without the SOT/EOT tokens:
    /// s^I ranks the texts of an image, s^T the images of a text; zero-shot averages s^I over a
    /// class's prompts.
    case tokenwise(includeSpecialTokens: Bool)

    /// The metadata key of a checkpoint's `model.safetensors` that records the similarity.
    public static let metadataKey = "similarity"

    /// The similarity's name: `embedding`, `tokenwise` (special tokens included) or
    /// `tokenwise-content` (without SOT/EOT). Also its value in checkpoint metadata.
    public var description: String {
        switch self {
        case .embedding: "embedding"
        case .tokenwise(let special): special ? "tokenwise" : "tokenwise-content"
        }
    }

    /// The similarity a name (`description`) or a registered alias names.
    public init?(name: String) {
        switch name {
        case "embedding": self = .embedding
        case "tokenwise": self = .tokenwise(includeSpecialTokens: true)
        case "tokenwise-content": self = .tokenwise(includeSpecialTokens: false)
        default:
            guard let alias = Self.aliases[name] else { return nil }
            self = alias
        }
    }

    /// Other names accepted for a similarity (`--scoring`): those the registered objectives give
    /// theirs (`ObjectiveOptions.similarityAliases`).
    public static var aliases: [String: Similarity] {
        ObjectiveRegistry.kinds.reduce(into: [:]) { all, kind in all.merge(kind.similarityAliases) { first, _ in first } }
    }

    /// The names `init(name:)` accepts, for usage messages.
    public static var names: [String] { ["embedding", "tokenwise", "tokenwise-content"] + aliases.keys.sorted() }

    /// The similarity a checkpoint's model metadata records (`train` writes `metadataKey`).
    /// Checkpoints written before it was recorded are read through their objective
    /// (`ObjectiveOptions.legacySimilarity`); files without either (OpenCLIP's) use `.embedding`.
    public init(checkpointMetadata metadata: [String: String], source: String) throws {
        if let name = metadata[Self.metadataKey] {
            guard let similarity = Similarity(name: name) else {
                throw ObjectiveConfigError("\(source): metadata \(Self.metadataKey) is '\(name)', expected one of \(Self.names.joined(separator: ", "))")
            }
            self = similarity
        } else if let type = metadata["objective"], let kind = ObjectiveRegistry.kind(named: type) {
            self = try kind.legacySimilarity(metadata: metadata, source: source) ?? .embedding
        } else {
            self = .embedding
        }
    }

    /// What `train` writes into a checkpoint's model metadata: the objective's type and its similarity.
    public static func checkpointMetadata(for objective: ObjectiveConfig) throws -> [String: String] {
        ["objective": objective.type, metadataKey: try objective.makeObjective().similarity.description]
    }
}
