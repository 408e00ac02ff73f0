import Foundation
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

/// One logged training step (a line of `metrics.jsonl`). A step skipped as non-finite is always
/// logged, with `nonfinite` naming the cause (`loss`, `gradient` or `parameter`) and `loss` null
/// when the loss itself was not finite.
public struct StepRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var loss: Double?
    public var lr: Double
    /// The objective's logit multiplier (exp(t) for CLIP, 1/σ for ALIGN), not the raw parameter.
    public var logitMultiplier: Double
    public var imagesPerSecond: Double
    public var dataWaitShare: Double
    public var elapsedSeconds: Double
    /// Wall time of this run's training steps (data included), without evaluations and checkpoints.
    public var trainingSeconds: Double?
    /// Why this step was skipped: `loss`, `gradient` or `parameter`; nil for a normal step.
    public var nonfinite: String?
    /// Seconds this step waited for its batch (OpenCLIP's `data_time`: the logged step's, not the window's).
    public var dataTime: Double?
    /// Seconds of this step from the end of the previous one, data included (OpenCLIP's `batch_time`).
    public var batchTime: Double?
    /// This step's images (all ranks) over `batchTime` (OpenCLIP's `samples_per_second`).
    public var samplesPerSecond: Double?
    /// For a mixture of training sources: the samples drawn from each source so far (all ranks), by
    /// source name; nil for a single dataset and on a skipped step between logged steps.
    public var sourceSamples: [String: Int]?
    enum CodingKeys: String, CodingKey {
        case step, loss, lr, logitMultiplier = "logit_scale", imagesPerSecond = "images_per_second"
        case dataWaitShare = "data_wait_share", elapsedSeconds = "elapsed_seconds", trainingSeconds = "training_seconds"
        case nonfinite, dataTime = "data_time", batchTime = "batch_time", samplesPerSecond = "samples_per_second"
        case sourceSamples = "source_samples"
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

/// One in-training retrieval evaluation (a line of `metrics.jsonl` with `"kind": "retrieval"`):
/// R@1/5/10 and the 1-based mean and median rank in both directions, as `evaluate --task retrieval`
/// reports them (`RetrievalResult`).
public struct RetrievalRecord: Codable, Equatable, Sendable {
    public var kind = "retrieval"
    public var step: Int
    /// Images evaluated (image→text queries).
    public var images: Int
    /// Captions evaluated (text→image queries); `images` when each has one.
    public var captions: Int
    /// Whether only the first `eval.retrieval.limit` items of a larger dataset were evaluated (a
    /// periodic evaluation); false when the whole dataset was.
    public var subset: Bool
    public var imageToText: RankingMetrics.Summary
    public var textToImage: RankingMetrics.Summary
    enum CodingKeys: String, CodingKey {
        case kind, step, images, captions, subset, imageToText = "image_to_text", textToImage = "text_to_image"
    }

    public init(step: Int, result: RetrievalResult, subset: Bool) {
        (self.step, images, captions, self.subset) = (step, result.count, result.captions, subset)
        (imageToText, textToImage) = (result.imageToText, result.textToImage)
    }
}

/// Something that happened to the run (a line of `metrics.jsonl` with `"kind"` `eval_failed` or
/// `stop`): a failed in-training evaluation, or why the run ended (`reason`: `completed`,
/// `signal`, `nonfinite` or `error`).
public struct EventRecord: Codable, Equatable, Sendable {
    public var kind: String
    public var step: Int
    public var reason: String?
    public var message: String
    public init(kind: String, step: Int, reason: String? = nil, message: String) {
        (self.kind, self.step, self.reason, self.message) = (kind, step, reason, message)
    }
}

/// Appends records to `metrics.jsonl` (and to the TensorBoard event file when there is one) and
/// keeps them for the HTML report.
public final class MetricsLog {
    /// Nil: records are kept in memory only (ranks other than 0 of an MPI job).
    public let url: URL?
    /// Where step and evaluation records also go (`run.tensorboard`); nil: nowhere.
    public var tensorBoard: TensorBoardLog?
    public private(set) var steps: [StepRecord] = []
    public private(set) var evals: [EvalRecord] = []
    public private(set) var retrievals: [RetrievalRecord] = []
    public private(set) var events: [EventRecord] = []
    private let encoder: JSONEncoder

    public init(url: URL, truncateAfterStep: Int?) throws {
        self.url = url
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A stray non-finite number is written as a string rather than losing the line.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // On resume, keep history up to the checkpoint's step (later lines belong to the lost run).
        if let limit = truncateAfterStep, let text = try? String(contentsOf: url, encoding: .utf8) {
            let decoder = JSONDecoder()
            var kept: [String] = []
            for line in text.split(whereSeparator: \.isNewline) {
                let data = Data(line.utf8)
                if let e = try? decoder.decode(EvalRecord.self, from: data), e.kind == "eval" {
                    if e.step <= limit { evals.append(e); kept.append(String(line)) }
                } else if let r = try? decoder.decode(RetrievalRecord.self, from: data), r.kind == "retrieval" {
                    if r.step <= limit { retrievals.append(r); kept.append(String(line)) }
                } else if let e = try? decoder.decode(EventRecord.self, from: data) {
                    if e.step <= limit { events.append(e); kept.append(String(line)) }
                } else if let s = try? decoder.decode(StepRecord.self, from: data), s.step <= limit {
                    steps.append(s); kept.append(String(line))
                }
            }
            try (kept.map { $0 + "\n" }.joined()).write(to: url, atomically: true, encoding: .utf8)
        } else {
            try Data().write(to: url)
        }
    }

    public func append(_ record: StepRecord) throws { steps.append(record); try write(record); try tensorBoard?.append(record) }
    public func append(_ record: EvalRecord) throws { evals.append(record); try write(record); try tensorBoard?.append(record) }
    public func append(_ record: RetrievalRecord) throws { retrievals.append(record); try write(record); try tensorBoard?.append(record) }
    public func append(_ record: EventRecord) throws { events.append(record); try write(record) }

    /// A log kept in memory only.
    public init() {
        url = nil
        encoder = JSONEncoder()
    }

    private func write<T: Encodable>(_ value: T) throws {
        guard let url else { return }
        let data = try encoder.encode(value)
        let handle: FileHandle
        do { handle = try FileHandle(forWritingTo: url) } catch {
            throw RunError("\(url.path): cannot append to the metrics log (\(error.localizedDescription))")
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: data + Data("\n".utf8))
        } catch {
            throw RunError("\(url.path): cannot append to the metrics log (\(error.localizedDescription))")
        }
    }
}
