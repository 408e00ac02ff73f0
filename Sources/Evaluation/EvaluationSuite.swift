import Foundation
import Yams
import ModelStore

/// A list of evaluations of one model (`evaluate --suite FILE.yaml`): zero-shot classification,
/// retrieval and linear probes over datasets, read strictly — an unknown key or task, a missing
/// dataset or file, a wrong type or an empty list is a one-line `ConfigError` naming the file and
/// the key (`FILE: tasks[2].train_dataset: …`), before the model is loaded.
///
/// ```yaml
/// tasks:
///   - {task: zeroshot, name: fashion-mnist, dataset: Datasets/fashion-mnist/test, templates: Configs/templates/fashion.txt}
///   - {task: retrieval, name: fashion-mnist, dataset: Datasets/fashion-mnist/test, limit: 2000}
///   - {task: linear-probe, name: fashion-mnist, train_dataset: Datasets/fashion-mnist/train, dataset: Datasets/fashion-mnist/test}
/// ```
/// Paths are relative to the working directory, as in training configs.
public struct EvaluationSuite: Sendable, Equatable {
    public var tasks: [Task]

    public enum Kind: String, Sendable, CaseIterable {
        case zeroshot, retrieval, linearProbe = "linear-probe"

        /// clip_benchmark's name of the task (its results' `task`).
        public var benchmarkName: String {
            switch self {
            case .zeroshot: "zeroshot_classification"
            case .retrieval: "zeroshot_retrieval"
            case .linearProbe: "linear_probe"
            }
        }
    }

    public struct Task: Sendable, Equatable {
        public var kind: Kind
        /// The dataset's name in results (`dataset`) and file names; default: the path's last two components.
        public var name: String
        /// The evaluated (test) dataset: shard folders, files or tars.
        public var dataset: [String]
        /// Items of `dataset` evaluated at most.
        public var limit: Int?
        /// Zero-shot: a templates file and a class-names file (default: built-in templates, the dataset's names).
        public var templates: String?, classnames: String?
        /// Retrieval: score `/long_captions`.
        public var longCaptions = false
        /// Linear probe: the training dataset A and the protocol's settings (`limit` is `probe.limit`).
        public var trainDataset: [String] = []
        public var probe = LinearProbe.Settings()

        public init(kind: Kind, name: String, dataset: [String]) { (self.kind, self.name, self.dataset) = (kind, name, dataset) }
    }

    public init(tasks: [Task]) { self.tasks = tasks }

    // MARK: - Reading

    /// Keys every task takes, and those of each kind.
    static let commonKeys = ["task", "name", "dataset", "limit"]
    static let kindKeys: [Kind: [String]] = [
        .zeroshot: ["templates", "classnames"],
        .retrieval: ["long_captions"],
        .linearProbe: ["train_dataset", "train_limit", "validation_proportion", "seed", "lambda", "max_iterations"],
    ]

    /// Reads and checks a suite file (see the type's documentation).
    public static func load(_ path: String) throws -> EvaluationSuite {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunError("\(path): cannot read the suite file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// Parses suite YAML; `file` names it in errors. Files and datasets it names must exist
    /// (unless `checkFiles` is false: keys and types only).
    public static func parse(_ text: String, file: String, checkFiles: Bool = true) throws -> EvaluationSuite {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError("\(file): not valid YAML (\(String(describing: error).split(separator: "\n").first ?? ""))")
        }
        guard let root, let top = root.mapping else {
            throw ConfigError("\(file): a suite is a mapping with a `tasks` list, got \(root == nil ? "an empty file" : describe(root!))")
        }
        let reader = Reader(file: file, checkFiles: checkFiles)
        try reader.rejectUnknown(top, allowed: ["tasks"], at: "")
        guard let list = top["tasks"] else { throw ConfigError("\(file): tasks: missing required key") }
        guard let entries = list.sequence else { throw ConfigError("\(file): tasks: expected a list, got \(describe(list))") }
        guard !entries.isEmpty else { throw ConfigError("\(file): tasks: empty; a suite needs at least one task") }
        var tasks: [Task] = []
        var seen: [String: Int] = [:]
        for (i, entry) in entries.enumerated() {
            let task = try reader.task(entry, at: "tasks[\(i)]")
            let key = "\(task.name)/\(task.kind.rawValue)"
            if let j = seen[key] {
                throw ConfigError("\(file): tasks[\(i)]: repeats tasks[\(j)] (\(task.kind.rawValue) named \(task.name.debugDescription)); "
                    + "give one of them another `name` (it names the result file)")
            }
            seen[key] = i
            tasks.append(task)
        }
        return EvaluationSuite(tasks: tasks)
    }

    /// Whether `node` is YAML's null (`null`, `~` or nothing, unquoted).
    static func isNull(_ node: Node) -> Bool { node.tag == Tag(.null) }

    /// "a mapping", "a list", `"abc"`, "null" for messages.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let s): isNull(node) ? "null" : "\"\(s.string)\""
        }
    }

    /// Reads one file's nodes, naming `file` and the key path in every error.
    struct Reader {
        let file: String
        var checkFiles = true

        func fail(_ path: String, _ reason: String) -> ConfigError { ConfigError("\(file): \(path): \(reason)") }

        func rejectUnknown(_ mapping: Node.Mapping, allowed: [String], at path: String, what: String = "") throws {
            var seen = Set<String>()
            for (k, _) in mapping {
                let key = k.string ?? "\(k)"
                let at = path.isEmpty ? key : "\(path).\(key)"
                guard allowed.contains(key) else {
                    throw fail(at, "unknown key\(what) (expected one of: \(allowed.sorted().joined(separator: ", ")))")
                }
                guard seen.insert(key).inserted else { throw fail(at, "duplicate key (each key may appear once)") }
            }
        }

        func string(_ node: Node, at path: String) throws -> String {
            guard case .scalar(let s) = node, !isNull(node) else { throw fail(path, "expected a string, got \(describe(node))") }
            guard !s.string.isEmpty else { throw fail(path, "expected a non-empty string") }
            return s.string
        }

        func integer(_ node: Node, at path: String, atLeast minimum: Int) throws -> Int {
            guard !isNull(node), let v = node.int else { throw fail(path, "expected an integer, got \(describe(node))") }
            guard v >= minimum else { throw fail(path, "must be at least \(minimum), got \(v)") }
            return v
        }

        func number(_ node: Node, at path: String) throws -> Double {
            guard !isNull(node), let v = node.float, v.isFinite else { throw fail(path, "expected a number, got \(describe(node))") }
            return v
        }

        func bool(_ node: Node, at path: String) throws -> Bool {
            guard !isNull(node), let v = node.bool else { throw fail(path, "expected true or false, got \(describe(node))") }
            return v
        }

        /// A dataset: one path, a comma-separated list, or a YAML list of paths; each must exist
        /// (a `{a..b}` tar pattern is checked when the dataset is opened).
        func dataset(_ node: Node, at path: String) throws -> [String] {
            let paths: [String]
            if let items = node.sequence {
                paths = try items.enumerated().map { try string($1, at: "\(path)[\($0)]") }
            } else {
                paths = try string(node, at: path).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
            guard !paths.isEmpty, paths.allSatisfy({ !$0.isEmpty }) else { throw fail(path, "expected one or more dataset paths") }
            for p in paths where checkFiles && !p.contains("{") && !FileManager.default.fileExists(atPath: p) {
                throw fail(path, "no such file or folder: \(p)")
            }
            return paths
        }

        func file(_ node: Node, at path: String) throws -> String {
            let p = try string(node, at: path)
            guard checkFiles else { return p }
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isFolder) else { throw fail(path, "no such file: \(p)") }
            guard !isFolder.boolValue else { throw fail(path, "\(p) is a folder, expected a file") }
            return p
        }

        func task(_ node: Node, at path: String) throws -> Task {
            guard let m = node.mapping else { throw fail(path, "expected a mapping with `task` and `dataset`, got \(describe(node))") }
            guard let kindNode = m["task"] else { throw fail("\(path).task", "missing required key") }
            let kindName = try string(kindNode, at: "\(path).task")
            guard let kind = Kind(rawValue: kindName) else {
                throw fail("\(path).task", "unknown task \(kindName.debugDescription) (expected one of: "
                    + "\(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            try rejectUnknown(m, allowed: EvaluationSuite.commonKeys + EvaluationSuite.kindKeys[kind]!, at: path,
                              what: " for task \(kind.rawValue)")
            guard let datasetNode = m["dataset"] else { throw fail("\(path).dataset", "missing required key") }
            let dataset = try self.dataset(datasetNode, at: "\(path).dataset")
            let name = try m["name"].map { try string($0, at: "\(path).name") } ?? EvaluationSuite.defaultName(dataset)
            guard !name.contains("\n") else { throw fail("\(path).name", "must be one line") }
            var task = Task(kind: kind, name: name, dataset: dataset)
            task.limit = try m["limit"].map { try integer($0, at: "\(path).limit", atLeast: 1) }
            switch kind {
            case .zeroshot:
                task.templates = try m["templates"].map { try file($0, at: "\(path).templates") }
                task.classnames = try m["classnames"].map { try file($0, at: "\(path).classnames") }
            case .retrieval:
                task.longCaptions = try m["long_captions"].map { try bool($0, at: "\(path).long_captions") } ?? false
            case .linearProbe:
                guard let train = m["train_dataset"] else { throw fail("\(path).train_dataset", "missing required key") }
                task.trainDataset = try self.dataset(train, at: "\(path).train_dataset")
                task.probe.limit = task.limit
                task.probe.trainLimit = try m["train_limit"].map { try integer($0, at: "\(path).train_limit", atLeast: 1) }
                if let v = m["validation_proportion"] {
                    let p = try number(v, at: "\(path).validation_proportion")
                    guard p > 0 && p < 1 else { throw fail("\(path).validation_proportion", "must lie strictly between 0 and 1, got \(p)") }
                    task.probe.validationProportion = p
                }
                task.probe.seed = try m["seed"].map { UInt64(try integer($0, at: "\(path).seed", atLeast: 0)) } ?? 0
                if let v = m["lambda"] {
                    let l = try number(v, at: "\(path).lambda")
                    guard l > 0 else { throw fail("\(path).lambda", "must be positive, got \(l)") }
                    task.probe.lambda = l
                }
                task.probe.maxIterations = try m["max_iterations"].map { try integer($0, at: "\(path).max_iterations", atLeast: 1) } ?? 1000
            }
            return task
        }
    }

    /// "fashion-mnist/test" for `Datasets/fashion-mnist/test` (several paths: the first one's, joined by "+").
    static func defaultName(_ paths: [String]) -> String {
        paths.map { p in
            let parts = p.split(separator: "/").map(String.init).filter { $0 != "." }
            return parts.suffix(2).joined(separator: "/")
        }.joined(separator: "+")
    }
}
