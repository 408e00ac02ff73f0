import Foundation
import DataPipeline
import Tokenization
import TensorCore
import ModelStore

extension EvaluationSuite {
    /// One task's outcome: its clip_benchmark result, how many items it scored, and the file written.
    public struct Outcome: Sendable {
        public var task: Task
        public var result: BenchmarkResult
        public var count: Int
        public var file: URL
    }

    /// What the tasks read, opened and checked before any is run.
    struct Prepared {
        var sources: [[String]: any DatasetSource] = [:]
        var zeroShot: [Int: (names: [String], templates: [String])] = [:]
        var probeClasses: [Int: [String]] = [:]
    }

    /// Opens every dataset and reads every file the tasks name, and checks what can be checked
    /// without the model (labels, class names), naming `file` and the task's key on failure.
    func prepare(file: String, tokenizer: CLIPTokenizer) throws -> Prepared {
        var p = Prepared()
        func open(_ paths: [String], _ key: String) throws -> any DatasetSource {
            if let s = p.sources[paths] { return s }
            do {
                let s = try DatasetSourceRegistry.open(paths)
                p.sources[paths] = s
                return s
            } catch { throw ConfigError("\(file): \(key): \(error)") }
        }
        for (i, task) in tasks.enumerated() {
            let at = "tasks[\(i)]"
            let data = try open(task.dataset, "\(at).dataset")
            do {
                switch task.kind {
                case .zeroshot:
                    guard data.hasLabels else { throw ConfigError("no /labels; zero-shot classification needs labelled images") }
                    let names: [String]
                    if let path = task.classnames {
                        names = try ZeroShotClassifier.loadClassnames(path)
                    } else if let own = data.classnames {
                        names = own
                    } else {
                        throw ConfigError("no classnames attribute; give the task a `classnames` file")
                    }
                    try ZeroShotClassifier.requireDistinct(names, tokenizer: tokenizer, source: task.classnames ?? "classnames attribute")
                    try data.requireLabels(within: names.count)
                    let templates = try task.templates.map { try ZeroShotClassifier.loadTemplates($0) } ?? ZeroShotClassifier.defaultTemplates
                    p.zeroShot[i] = (names, templates)
                case .retrieval:
                    if task.longCaptions && !data.hasLongCaptions { throw ConfigError("no /long_captions (long_captions: true)") }
                case .linearProbe:
                    let train = try open(task.trainDataset, "\(at).train_dataset")
                    p.probeClasses[i] = try LinearProbe.classes(train: train, test: data, trainName: task.trainDataset.joined(separator: ","),
                                                                testName: task.dataset.joined(separator: ","))
                }
            } catch let e as ConfigError {
                throw ConfigError("\(file): \(at) (\(task.kind.rawValue) on \(task.name)): \(e.message)")
            }
        }
        return p
    }

    /// Runs every task with one model, writing each task's clip_benchmark JSON file (atomically) into
    /// `outputDirectory` as soon as it is done. Everything the tasks read is opened and checked first.
    /// - Parameters:
    ///   - file: the suite file, for messages.
    ///   - model, pretrained: the results' `model` and `pretrained` (clip_benchmark: architecture and weights).
    ///   - progress: (task label, done, total) while encoding; log: one line per step worth telling.
    public func run(file: String, encoder: ModelEncoder, tokenizer: CLIPTokenizer, model: String, pretrained: String,
                    outputDirectory: URL, batchSize: Int = 256, loaderThreads: Int = 2,
                    progress: ((String, Int, Int) -> Void)? = nil, log: ((String) -> Void)? = nil) throws -> [Outcome] {
        let prepared = try prepare(file: file, tokenizer: tokenizer)
        do {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw RunError("\(outputDirectory.path): cannot create the results folder (\(error.localizedDescription))")
        }
        try OutputFile.requireWritable(outputDirectory.appendingPathComponent("result.json").path)
        var outcomes: [Outcome] = []
        for (i, task) in tasks.enumerated() {
            let data = prepared.sources[task.dataset]!
            let label = "\(task.kind.rawValue) \(task.name)"
            let count: Int, metrics: [BenchmarkResult.Metric]
            switch task.kind {
            case .zeroshot:
                let (names, templates) = prepared.zeroShot[i]!
                let classifier = ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: names, templates: templates)
                let r = try classifier.evaluate(encoder: encoder, dataset: data, batchSize: batchSize, limit: task.limit,
                                                loaderThreads: loaderThreads, progress: progress.map { p in { p(label, $0, $1) } })
                (count, metrics) = (r.count, BenchmarkResult.metrics(r))
            case .retrieval:
                let r = try RetrievalResult.evaluate(encoder: encoder, tokenizer: tokenizer, dataset: data, longCaptions: task.longCaptions,
                                                     batchSize: batchSize, limit: task.limit, loaderThreads: loaderThreads,
                                                     progress: progress.map { p in { p(label, $0, $1) } })
                (count, metrics) = (r.count, BenchmarkResult.metrics(r))
            case .linearProbe:
                let train = prepared.sources[task.trainDataset]!
                let trainName = task.trainDataset.joined(separator: ","), testName = task.dataset.joined(separator: ",")
                let names = prepared.probeClasses[i]!
                let a = try LinearProbe.encode(encoder: encoder, dataset: train, name: trainName, limit: task.probe.trainLimit,
                                               batchSize: batchSize, loaderThreads: loaderThreads,
                                               progress: progress.map { p in { p(label + " (train)", $0, $1) } })
                let b = try LinearProbe.encode(encoder: encoder, dataset: data, name: testName, limit: task.probe.limit,
                                               batchSize: batchSize, loaderThreads: loaderThreads,
                                               progress: progress.map { p in { p(label + " (test)", $0, $1) } })
                let r = try LinearProbe.fit(train: a, test: b, classnames: names, trainName: trainName, settings: task.probe, log: log)
                (count, metrics) = (r.count, BenchmarkResult.metrics(r, settings: task.probe))
            }
            let result = BenchmarkResult(dataset: task.name, model: model, pretrained: pretrained, task: task.kind.benchmarkName,
                                         metrics: metrics)
            let url = outputDirectory.appendingPathComponent(result.fileName)
            do { try result.json().write(to: url, options: .atomic) } catch {
                throw RunError("\(url.path): cannot write the result (\(error.localizedDescription))")
            }
            log?("\(label): wrote \(url.path)")
            outcomes.append(Outcome(task: task, result: result, count: count, file: url))
        }
        return outcomes
    }

    /// One table of every task's metrics (percentages; "—" where a metric does not apply).
    public static func table(_ outcomes: [Outcome]) -> String {
        let columns: [(title: String, metric: (BenchmarkResult) -> Double?)] = [
            ("acc1", { $0["acc1"]?.number ?? $0["lp_acc1"]?.number }),
            ("acc5", { $0["acc5"]?.number ?? $0["lp_acc5"]?.number }),
            ("mean/class", { $0["mean_per_class_recall"]?.number ?? $0["lp_mean_per_class_recall"]?.number }),
        ] + [1, 5, 10].map { k in ("img R@\(k)", { $0["image_retrieval_recall@\(k)"]?.number }) }
          + [1, 5, 10].map { k in ("txt R@\(k)", { $0["text_retrieval_recall@\(k)"]?.number }) }
        let taskWidth = max(23, outcomes.map(\.result.task.count).max() ?? 0)
        let nameWidth = max(7, outcomes.map(\.result.dataset.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        func right(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        var lines = [pad("task", taskWidth) + "  " + pad("dataset", nameWidth) + "  " + right("items", 6)
            + columns.map { "  " + right($0.title, 10) }.joined()]
        for o in outcomes {
            lines.append(pad(o.result.task, taskWidth) + "  " + pad(o.result.dataset, nameWidth) + "  " + right("\(o.count)", 6)
                + columns.map { c in "  " + right(c.metric(o.result).map { String(format: "%.2f%%", 100 * $0) } ?? "—", 10) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
