import Foundation
import Objectives

/// How evaluation scores an image against a text: the similarity the model was trained with.
public enum Scoring: Equatable, Sendable, CustomStringConvertible {
    /// Cosine similarity of the pooled, L2-normalized embeddings (CLIP, ALIGN, SigLIP, …).
    case embedding
    /// FILIP's token-wise late interaction (`FILIPKernel`): s^I ranks the texts of an image,
    /// s^T the images of a text; zero-shot averages s^I over a class's prompts.
    case filip(includeSpecialTokens: Bool)

    /// The scoring a checkpoint's `model.safetensors` metadata names (written by `train`);
    /// `.embedding` for files without it (OpenCLIP exports, older checkpoints).
    public init(metadata: [String: String], source: String) throws {
        switch metadata["objective"] {
        case "filip":
            switch metadata["filip_include_special_tokens"] ?? "true" {
            case "true": self = .filip(includeSpecialTokens: true)
            case "false": self = .filip(includeSpecialTokens: false)
            case let other: throw ConfigError("\(source): metadata filip_include_special_tokens is '\(other)', expected true or false")
            }
        default: self = .embedding
        }
    }

    /// The scoring that fits a training objective (its `similarity`).
    public init(objective: ObjectiveConfig) {
        switch (try? objective.makeObjective())?.similarity ?? .embedding {
        case .embedding: self = .embedding
        case .tokenwise(let special): self = .filip(includeSpecialTokens: special)
        }
    }

    /// What `train` writes into a checkpoint's model metadata so that `init(metadata:source:)`
    /// finds the scoring again.
    public static func metadata(for objective: ObjectiveConfig) -> [String: String] {
        var m = ["objective": objective.type]
        if case .filip(let special) = Scoring(objective: objective) { m["filip_include_special_tokens"] = String(special) }
        return m
    }

    /// A command-line choice: `embedding`, `filip` (special tokens included) or `filip-content`
    /// (without SOT/EOT, FILIP's `include_special_tokens: false`).
    public init?(argument: String) {
        switch argument {
        case "embedding": self = .embedding
        case "filip": self = .filip(includeSpecialTokens: true)
        case "filip-content": self = .filip(includeSpecialTokens: false)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .embedding: "embedding"
        case .filip(let special): special ? "filip" : "filip-content"
        }
    }
}
