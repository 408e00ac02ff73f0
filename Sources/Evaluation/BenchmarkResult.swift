import Foundation
import ModelStore

/// One task's result in clip_benchmark's layout (`clip_benchmark eval` writes one such JSON file per
/// task, `clip_benchmark build` reads a folder of them into a CSV):
///
///     {"dataset": …, "model": …, "pretrained": …, "task": "zeroshot_classification" | "zeroshot_retrieval" | "linear_probe",
///      "metrics": {…}, "language": "en"}
///
/// with clip_benchmark's metric names (`clip_benchmark/metrics/*.py`): zero-shot `acc1`, `acc5`,
/// `mean_per_class_recall`; retrieval `image_retrieval_recall@k` (a text finds its image: our
/// text→image R@k) and `text_retrieval_recall@k` (an image finds a text: image→text R@k), k = 1, 5,
/// 10; linear probe `lp_acc1`, `lp_acc5`, `lp_mean_per_class_recall` plus how it ran. `acc5` is null
/// with fewer than 5 classes (clip_benchmark writes NaN, which is not JSON).
public struct BenchmarkResult: Encodable, Equatable, Sendable {
    public var dataset: String, model: String, pretrained: String, task: String
    public var metrics: [Metric]
    public var language = "en"

    public struct Metric: Equatable, Sendable {
        public var name: String
        public var value: Value
        public init(_ name: String, _ value: Value) { (self.name, self.value) = (name, value) }
    }

    public enum Value: Equatable, Sendable {
        case number(Double), integer(Int), flag(Bool), missing
        public var number: Double? { if case .number(let v) = self { v } else { nil } }
    }

    public init(dataset: String, model: String, pretrained: String, task: String, metrics: [Metric]) {
        (self.dataset, self.model, self.pretrained, self.task, self.metrics) = (dataset, model, pretrained, task, metrics)
    }

    public subscript(metric: String) -> Value? { metrics.first { $0.name == metric }?.value }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// clip_benchmark's key order; metrics in the order given.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(dataset, forKey: Key("dataset"))
        try c.encode(model, forKey: Key("model"))
        try c.encode(pretrained, forKey: Key("pretrained"))
        try c.encode(task, forKey: Key("task"))
        var m = c.nestedContainer(keyedBy: Key.self, forKey: Key("metrics"))
        for metric in metrics {
            let key = Key(metric.name)
            switch metric.value {
            case .number(let v): if v.isFinite { try m.encode(v, forKey: key) } else { try m.encodeNil(forKey: key) }
            case .integer(let v): try m.encode(v, forKey: key)
            case .flag(let v): try m.encode(v, forKey: key)
            case .missing: try m.encodeNil(forKey: key)
            }
        }
        try c.encode(language, forKey: Key("language"))
    }

    /// The JSON text, keys in clip_benchmark's order and metrics in the order given (written here:
    /// Foundation's encoder does not keep key order everywhere).
    public func json() throws -> Data {
        func quoted(_ s: String) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed, .withoutEscapingSlashes]), as: UTF8.self)
        }
        func literal(_ v: Value) -> String {
            switch v {
            case .number(let x): x.isFinite ? "\(x)" : "null"
            case .integer(let i): "\(i)"
            case .flag(let b): b ? "true" : "false"
            case .missing: "null"
            }
        }
        let fields = try [("dataset", dataset), ("model", model), ("pretrained", pretrained), ("task", task)]
            .map { "  \(try quoted($0.0)): \(try quoted($0.1))" }
        let metricLines = try metrics.map { "    \(try quoted($0.name)): \(literal($0.value))" }
        let text = "{\n" + (fields + ["  \"metrics\": {\n" + metricLines.joined(separator: ",\n") + "\n  }",
                                      "  \"language\": \(try quoted(language))"]).joined(separator: ",\n") + "\n}\n"
        return Data(text.utf8)
    }

    /// clip_benchmark's default file name, `{dataset}_{pretrained}_{model}_{language}_{task}.json`,
    /// with "/" in each part replaced by "_" (`pretrained` is the checkpoint path's last component).
    public var fileName: String {
        let pretrainedSlug = pretrained.split(separator: "/").last.map(String.init) ?? pretrained
        return [dataset, pretrainedSlug, model, language, task].map { $0.replacingOccurrences(of: "/", with: "_") }
            .joined(separator: "_") + ".json"
    }

    // MARK: - From SwiftCLIP's results

    public static func metrics(_ r: ZeroShotResult) -> [Metric] {
        [Metric("acc1", .number(r.top1)), Metric("acc5", r.classnames.count >= 5 ? .number(r.top5) : .missing),
         Metric("mean_per_class_recall", .number(r.meanPerClassRecall))]
    }

    public static func metrics(_ r: RetrievalResult) -> [Metric] {
        [(1, \RankingMetrics.Summary.recallAt1), (5, \.recallAt5), (10, \.recallAt10)].flatMap { k, path in
            [Metric("image_retrieval_recall@\(k)", .number(r.textToImage[keyPath: path])),
             Metric("text_retrieval_recall@\(k)", .number(r.imageToText[keyPath: path]))]
        }
    }

    public static func metrics(_ r: LinearProbeResult, settings: LinearProbe.Settings) -> [Metric] {
        [Metric("lp_acc1", .number(r.top1)), Metric("lp_acc5", r.classnames.count >= 5 ? .number(r.top5) : .missing),
         Metric("lp_mean_per_class_recall", .number(r.meanPerClassRecall)),
         Metric("lambda", .number(r.lambda)), Metric("seed", .integer(Int(settings.seed))),
         Metric("fewshot_k", .integer(-1)), Metric("normalized", .flag(true))]
    }
}
