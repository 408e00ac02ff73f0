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

extension TrainingConfig {
    /// Reads a YAML (or JSON) config, applies `--set a.b=value` overrides, decodes strictly and
    /// validates. Errors are one line naming the file and the key.
    public static func load(path: String, overrides: [String] = []) throws -> TrainingConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError("\(path): cannot read the config file")
        }
        return try parse(text, file: path, overrides: overrides)
    }

    public static func parse(_ text: String, file: String = "config", overrides: [String] = [],
                             validate: Bool = true) throws -> TrainingConfig {
        var root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ConfigError("the config is empty") }
            root = node
        } catch let e as ConfigError { throw ConfigError("\(file): \(e.message)") } catch {
            throw ConfigError("\(file): not valid YAML (\(String(describing: error).split(separator: "\n").first ?? ""))")
        }
        if let duplicate = firstDuplicateKey(in: root) { throw ConfigError("\(file): \(duplicate): duplicate key (each key may appear once)") }
        for o in overrides { try applyOverride(o, to: &root, file: file) }
        let config: TrainingConfig
        do {
            config = try YAMLDecoder().decode(TrainingConfig.self, from: try Yams.serialize(node: root))
        } catch {
            throw ConfigError.from(error, file: file, root: root)
        }
        if validate {
            do { try config.validate() } catch let e as ConfigError { throw ConfigError("\(file): \(e.message)") }
        } else {
            do { _ = try config.objective.makeObjective() } catch { throw ConfigError("\(file): \(error)") }
        }
        return config
    }

    /// The dotted path of the first key that appears twice in one mapping (YAML lets the last win silently).
    static func firstDuplicateKey(in node: Node, path: [String] = []) -> String? {
        if let mapping = node.mapping {
            var seen = Set<String>()
            for (k, v) in mapping {
                let key = k.string ?? "\(k)"
                if !seen.insert(key).inserted { return (path + [key]).joined(separator: ".") }
                if let d = firstDuplicateKey(in: v, path: path + [key]) { return d }
            }
        } else if let sequence = node.sequence {
            for (i, v) in sequence.enumerated() {
                if let d = firstDuplicateKey(in: v, path: path.dropLast() + ["\(path.last ?? "")[\(i)]"]) { return d }
            }
        }
        return nil
    }

    /// `a.b.c=value`: sets a nested key, the value parsed as YAML (numbers, booleans, lists, null).
    static func applyOverride(_ override: String, to root: inout Node, file: String) throws {
        guard let eq = override.firstIndex(of: "="), eq != override.startIndex else {
            throw ConfigError("--set \(override): expected key.path=value")
        }
        let path = override[..<eq].split(separator: ".").map(String.init)
        let valueText = String(override[override.index(after: eq)...])
        guard !valueText.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConfigError("--set \(override): no value (write null to unset an optional key)")
        }
        let value = (try? Yams.compose(yaml: valueText)).flatMap { $0 } ?? Node("null", Tag(.null))
        func set(_ node: Node, _ keys: ArraySlice<String>) throws -> Node {
            guard let key = keys.first else { return value }
            var mapping = node.mapping ?? Node.Mapping([])
            if node.mapping == nil && node.scalar?.string != "null" && node.scalar != nil {
                throw ConfigError("--set \(override): \(path.joined(separator: ".")) goes through a value that is not a mapping")
            }
            let child = mapping[key] ?? Node.mapping(Node.Mapping([]))
            mapping[key] = try set(child, keys.dropFirst())
            return Node.mapping(mapping)
        }
        root = try set(root, path[...])
    }

    /// Checks values that decoding alone cannot: ranges, divisibility, files.
    public func validate() throws {
        func fail(_ key: String, _ why: String) -> ConfigError { ConfigError("\(key): \(why)") }
        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
        // One folder inside run.output_dir: `..` would write into its parent, `.` into it among other runs.
        guard !["", ".", ".."].contains(run.name), !run.name.contains("/"), !run.name.contains("\0"), run.name.utf8.count <= 255 else {
            throw fail("run.name", "must name one folder inside run.output_dir (not empty, . or .., no / or NUL, at most 255 bytes), got \(run.name.debugDescription)")
        }
        guard run.logEvery > 0 else { throw fail("run.log_every", "must be positive") }
        guard exists(model.config) || ModelConfig.builtIn(model.config) != nil else {
            throw fail("model.config", "file not found: \(model.config) (nor a built-in architecture: \(ModelConfig.builtInNames.joined(separator: ", ")))")
        }
        if let w = model.initWeights, !exists(w) { throw fail("model.init", "file not found: \(w)") }
        guard model.patchDropout >= 0 && model.patchDropout < 1 else {
            throw fail("model.patch_dropout", "expected a fraction in [0, 1), got \(model.patchDropout)")
        }
        guard model.unmaskedTuningSteps >= 0 else { throw fail("model.unmasked_tuning_steps", "must not be negative") }
        if model.unmaskedTuningSteps > 0 && model.patchDropout == 0 {
            throw fail("model.unmasked_tuning_steps", "tunes without patch dropout after it, but model.patch_dropout is 0")
        }
        func check(_ p: String, _ key: String) throws {   // a pattern of tars: every tar it names must exist
            if TarPaths.isPattern(p) { do { _ = try TarPaths.tars(in: p) } catch { throw fail(key, "\(error)") } }
            else if !exists(p) { throw fail(key, "not found: \(p)") }
        }
        switch data.train {
        case let .paths(paths):
            guard !paths.isEmpty else { throw fail("data.train", "needs at least one shard or folder") }
            for p in paths { try check(p, "data.train") }
        case let .mixture(entries):
            guard !entries.isEmpty else { throw fail("data.train", "needs at least one source") }
            for (k, entry) in entries.enumerated() {
                for p in entry.source { try check(p, "data.train[\(k)].source") }
                if let first = entries.firstIndex(where: { $0.source == entry.source }), first < k {
                    throw fail("data.train[\(k)].source", "the same source as data.train[\(first)]: give it one entry with the summed weight")
                }
            }
        }
        if let v = data.tokenizer.vocab, !exists(v) { throw fail("data.tokenizer.vocab", "file not found: \(v)") }
        if let c = data.tokenizer.contextLength, c < 2 { throw fail("data.tokenizer.context_length", "must be at least 2") }
        guard data.batchSize > 0 else { throw fail("data.batch_size", "must be positive") }
        guard data.loaderThreads > 0 else { throw fail("data.loader_threads", "must be positive") }
        if let r = data.augment.randomResizedCrop {
            guard r.count == 2, r[0] > 0, r[0] <= r[1], r[1] <= 1 else {
                throw fail("data.augment.random_resized_crop", "expected [min, max] with 0 < min ≤ max ≤ 1, got \(r)")
            }
        }
        guard optimizer.lr > 0, optimizer.lr.isFinite else { throw fail("optimizer.lr", "must be positive") }
        guard optimizer.betas.count == 2, optimizer.betas.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
            throw fail("optimizer.betas", "expected two values in [0, 1), got \(optimizer.betas)")
        }
        guard optimizer.eps > 0, optimizer.eps.isFinite else { throw fail("optimizer.eps", "must be positive, got \(optimizer.eps)") }
        guard optimizer.weightDecay >= 0 else { throw fail("optimizer.weight_decay", "must be non-negative") }
        guard schedule.warmupSteps >= 0 else { throw fail("schedule.warmup_steps", "must be non-negative") }
        guard train.steps > 0 else { throw fail("train.steps", "must be positive") }
        guard train.workers > 0 else { throw fail("train.workers", "must be positive") }
        guard train.accumulation > 0 else { throw fail("train.accumulation", "must be positive") }
        guard data.batchSize % (train.workers * train.accumulation) == 0 else {
            throw fail("data.batch_size", "\(data.batchSize) is not divisible by train.workers × train.accumulation = \(train.workers * train.accumulation)")
        }
        if let c = train.gradClipNorm, !(c > 0) { throw fail("train.grad_clip_norm", "must be positive") }
        guard train.maxNonfiniteSteps > 0 else { throw fail("train.max_nonfinite_steps", "must be positive") }
        guard checkpoint.everySteps > 0 else { throw fail("checkpoint.every_steps", "must be positive") }
        guard checkpoint.keepLast > 0 else { throw fail("checkpoint.keep_last", "must be at least 1") }
        if let z = eval.zeroshot {
            guard exists(z.dataset) else { throw fail("eval.zeroshot.dataset", "not found: \(z.dataset)") }
            if let t = z.templates, !exists(t) { throw fail("eval.zeroshot.templates", "file not found: \(t)") }
            guard z.everySteps > 0 else { throw fail("eval.zeroshot.every_steps", "must be positive") }
            if let l = z.limit, l < 1 { throw fail("eval.zeroshot.limit", "must be at least 1 (or null for all images), got \(l)") }
        }
        if let r = eval.retrieval {
            guard exists(r.dataset) else { throw fail("eval.retrieval.dataset", "not found: \(r.dataset)") }
            guard r.everySteps > 0 else { throw fail("eval.retrieval.every_steps", "must be positive") }
            if let l = r.limit, l < 1 { throw fail("eval.retrieval.limit", "must be at least 1 (or null for all items), got \(l)") }
        }
        do { _ = try objective.makeObjective() } catch { throw ConfigError("\(error)") }
    }

    /// The resolved config as YAML (saved as `config.yaml` in the run folder).
    public func yaml() throws -> String { try YAMLEncoder().encode(self) }

    /// The learning-rate schedule this config describes.
    public var learningRateSchedule: LearningRateSchedule {
        switch schedule.type {
        case .constant: return .constant(baseLR: optimizer.lr, warmup: schedule.warmupSteps)
        case .constCooldown:
            return .constCooldown(baseLR: optimizer.lr, warmup: schedule.warmupSteps, totalSteps: train.steps,
                                  cooldown: schedule.cooldownSteps ?? train.steps / 10, power: schedule.power, endLR: schedule.endLR)
        case .cosine: return .cosine(baseLR: optimizer.lr, warmup: schedule.warmupSteps, totalSteps: train.steps)
        }
    }
}
