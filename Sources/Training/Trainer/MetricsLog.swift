import Foundation

/// One logged training step (a line of `metrics.jsonl`).
public struct StepRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var loss: Double
    public var lr: Double
    public var logitScale: Double
    public var imagesPerSecond: Double
    public var dataWaitShare: Double
    public var elapsedSeconds: Double
    /// Wall time of this run's training steps (data included), without evaluations and checkpoints.
    public var trainingSeconds: Double?
    enum CodingKeys: String, CodingKey {
        case step, loss, lr, logitScale = "logit_scale", imagesPerSecond = "images_per_second"
        case dataWaitShare = "data_wait_share", elapsedSeconds = "elapsed_seconds", trainingSeconds = "training_seconds"
    }
}

/// One evaluation result (a line of `metrics.jsonl` with `"kind": "eval"`).
public struct EvalRecord: Codable, Equatable, Sendable {
    public var kind = "eval"
    public var step: Int
    public var zeroshotTop1: Double
    public var zeroshotTop5: Double
    public var images: Int
    enum CodingKeys: String, CodingKey { case kind, step, zeroshotTop1 = "zeroshot_top1", zeroshotTop5 = "zeroshot_top5", images }
}

/// Appends records to `metrics.jsonl` and keeps them for the HTML report.
public final class MetricsLog {
    /// Nil: records are kept in memory only (ranks other than 0 of an MPI job).
    public let url: URL?
    public private(set) var steps: [StepRecord] = []
    public private(set) var evals: [EvalRecord] = []
    private let encoder: JSONEncoder

    public init(url: URL, truncateAfterStep: Int?) throws {
        self.url = url
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // On resume, keep history up to the checkpoint's step (later lines belong to the lost run).
        if let limit = truncateAfterStep, let text = try? String(contentsOf: url, encoding: .utf8) {
            let decoder = JSONDecoder()
            var kept: [String] = []
            for line in text.split(separator: "\n") {
                let data = Data(line.utf8)
                if let e = try? decoder.decode(EvalRecord.self, from: data), e.kind == "eval" {
                    if e.step <= limit { evals.append(e); kept.append(String(line)) }
                } else if let s = try? decoder.decode(StepRecord.self, from: data), s.step <= limit {
                    steps.append(s); kept.append(String(line))
                }
            }
            try (kept.map { $0 + "\n" }.joined()).write(to: url, atomically: true, encoding: .utf8)
        } else {
            try Data().write(to: url)
        }
    }

    public func append(_ record: StepRecord) { steps.append(record); write(record) }
    public func append(_ record: EvalRecord) { evals.append(record); write(record) }

    /// A log kept in memory only.
    public init() {
        url = nil
        encoder = JSONEncoder()
    }

    private func write<T: Encodable>(_ value: T) {
        guard let url, let data = try? encoder.encode(value), let handle = try? FileHandle(forWritingTo: url) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: data + Data("\n".utf8))
    }
}
