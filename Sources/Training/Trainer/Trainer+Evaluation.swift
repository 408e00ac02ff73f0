import Foundation
import DataPipeline
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// Zero-shot and retrieval evaluation during training (rank 0 only): periodic and final, a
/// failure never ends the run.
extension Trainer {
    /// `evaluateZeroShot`, with a failure logged and recorded in `metrics.jsonl` (kind
    /// `eval_failed`) instead of ending the run; nil then.
    func evaluateZeroShotLoggingFailure(limit: Int?) -> Double? {
        loggingFailure("zero-shot") { try evaluateZeroShot(limit: limit) }
    }

    /// `evaluateRetrieval`, with a failure logged and recorded as for zero-shot.
    func evaluateRetrievalLoggingFailure(limit: Int?) {
        loggingFailure("retrieval") { try evaluateRetrieval(limit: limit) }
    }

    @discardableResult
    private func loggingFailure<T>(_ what: String, _ body: () throws -> T) -> T? {
        do { return try body() } catch {
            let message = String(describing: error).replacingOccurrences(of: "\n", with: " ")
            log("step \(state.step): \(what) evaluation failed, training goes on: \(message)")
            try? metrics.append(EventRecord(kind: "eval_failed", step: state.step, message: "\(what): \(message)"))
            return nil
        }
    }

    /// The encoder evaluations use: the training model, scored by the objective's similarity.
    var evaluationEncoder: ModelEncoder {
        ModelEncoder(model: model, workers: config.train.workers, scoring: objective.similarity, precision: step.precision)
    }

    /// Zero-shot top-1 on the configured dataset; logged and appended to metrics. An evaluation
    /// of no images is an error, never a top-1 of 0.
    func evaluateZeroShot(limit: Int?) throws -> Double {
        guard let z = config.eval.zeroshot, let dataset = zeroShotDataset else { throw ConfigError("eval.zeroshot: not configured") }
        guard let classnames = dataset.classnames else { throw ConfigError("eval.zeroshot.dataset: \(z.dataset) has no classnames attribute") }
        let templates = try z.templates.map { try ZeroShotClassifier.loadTemplates($0) } ?? ZeroShotClassifier.defaultTemplates
        let encoder = evaluationEncoder
        let classifier = ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: classnames, templates: templates)
        let result = try classifier.evaluate(encoder: encoder, dataset: dataset, limit: limit)
        guard result.count > 0 else { throw RunError("eval.zeroshot.dataset: \(z.dataset): no image could be evaluated") }
        let record = EvalRecord(step: state.step, zeroshotTop1: result.top1, zeroshotTop5: result.top5, images: result.count)
        try metrics.append(record)
        lastZeroShot = .init(step: state.step, dataset: z.dataset, result: result)
        onEvaluation?(record)
        log(String(format: "step %d: zero-shot top-1 %.2f%%, top-5 %.2f%% on %d images", state.step, 100 * result.top1, 100 * result.top5, result.count))
        return result.top1
    }

    /// Image↔text retrieval on the configured dataset (its `/captions`, every caption of a
    /// multi-caption item), through the entry point of `evaluate --task retrieval`, so the numbers
    /// are the ones that command gives on this step's checkpoint; logged and appended to metrics.
    func evaluateRetrieval(limit: Int?) throws {
        guard let r = config.eval.retrieval, let dataset = retrievalDataset else { throw ConfigError("eval.retrieval: not configured") }
        let result: RetrievalResult
        do {
            result = try RetrievalResult.evaluate(encoder: evaluationEncoder, tokenizer: tokenizer, dataset: dataset, longCaptions: false,
                                                  limit: limit, loaderThreads: config.data.loaderThreads)
        } catch { throw RunError("eval.retrieval.dataset: \(r.dataset): \(error)") }
        let record = RetrievalRecord(step: state.step, result: result, subset: limit.map { $0 < dataset.count } ?? false)
        try metrics.append(record)
        onRetrieval?(record)
        log(String(format: "step %d: retrieval R@1/5/10 image→text %.2f/%.2f/%.2f%%, text→image %.2f/%.2f/%.2f%% on %d images, %d captions",
                   state.step, 100 * result.imageToText.recallAt1, 100 * result.imageToText.recallAt5, 100 * result.imageToText.recallAt10,
                   100 * result.textToImage.recallAt1, 100 * result.textToImage.recallAt5, 100 * result.textToImage.recallAt10,
                   result.count, result.captions))
    }
}
