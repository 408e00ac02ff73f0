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

/// What differs between the config a checkpoint was trained with and the one a resume uses.
///
/// Keys that may change on resume without `--allow-config-change` (they do not change what a step
/// computes, only how long the run is, how often it reports, or how fast it runs):
/// `train.steps` (extend a run; the schedule stretches to the new length), `train.max_nonfinite_steps`,
/// `train.workers`, `train.accumulation` and `train.recompute_activations` (same gradient up to
/// float rounding), `train.gradient_sync` (same gradient), `data.loader_threads`, `checkpoint.*`, `eval.*`, `run.log_every`, `run.tensorboard`,
/// `run.name` and `run.output_dir` (a moved or branched run folder). Anything else (data, batch
/// size, optimizer, schedule, seed, objective options, …) is refused unless allowed.
public enum ConfigChanges {
    public static let mayChangeOnResume = [
        "train.steps", "train.max_nonfinite_steps", "train.workers", "train.accumulation", "train.recompute_activations",
        "train.gradient_sync", "data.loader_threads", "checkpoint.", "eval.", "run.log_every", "run.tensorboard", "run.name", "run.output_dir",
        "model.unmasked_tuning_steps",
    ]

    /// Every leaf of a YAML document as `dotted.key → value` (list items as `key[i]`).
    static func leaves(_ yaml: String) -> [String: String] {
        var result: [String: String] = [:]
        func walk(_ node: Node, _ path: String) {
            if let mapping = node.mapping {
                for (k, v) in mapping { walk(v, path.isEmpty ? (k.string ?? "\(k)") : "\(path).\(k.string ?? "\(k)")") }
            } else if let sequence = node.sequence {
                for (i, v) in sequence.enumerated() { walk(v, "\(path)[\(i)]") }
                if sequence.isEmpty { result[path] = "[]" }
            } else {
                let text = node.string ?? "null"
                // Float keys are encoded through Double ("2.0000000949949e-3"): show them as Floats.
                let isReal = text.contains(".") || text.lowercased().contains("e")
                result[path] = isReal ? Double(text).map { "\(Float($0))" } ?? text : text
            }
        }
        if let root = (try? Yams.compose(yaml: yaml)) ?? nil { walk(root, "") }
        return result
    }

    /// `key: old → new` for every leaf that differs, sorted by key.
    static func differences(_ old: String, _ new: String) -> [(key: String, text: String)] {
        let (a, b) = (leaves(old), leaves(new))
        return Set(a.keys).union(b.keys).sorted().compactMap { key in
            a[key] == b[key] ? nil : (key, "\(key): \(a[key] ?? "(unset)") → \(b[key] ?? "(unset)")")
        }
    }

    /// Checks a resume's config against the checkpoint's; returns the differences as one line, or
    /// throws naming the keys that may not change (unless `allowed`).
    public static func check(checkpointConfig: String?, current: String, checkpoint: String, allowed: Bool) throws -> String {
        guard let old = checkpointConfig else {
            if allowed { return "the checkpoint does not record its config (differences unknown)" }
            throw ConfigError("\(checkpoint): the config differs from the one this checkpoint was trained with (config_hash), which it does not record; pass --allow-config-change to resume anyway")
        }
        let changes = differences(old, current)
        let refused = changes.filter { change in !mayChangeOnResume.contains { change.key == $0 || ($0.hasSuffix(".") && change.key.hasPrefix($0)) } }
        if !refused.isEmpty && !allowed {
            throw ConfigError("\(checkpoint): the config differs from the one this checkpoint was trained with: \(refused.map(\.text).joined(separator: ", ")); start a new run, or pass --allow-config-change to resume anyway")
        }
        return changes.map(\.text).joined(separator: ", ")
    }
}
