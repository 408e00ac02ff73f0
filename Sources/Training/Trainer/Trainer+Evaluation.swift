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

/// Zero-shot evaluation during training (rank 0 only): periodic and final, a failure never ends the run.
extension Trainer {
    /// `evaluateZeroShot`, with a failure logged and recorded in `metrics.jsonl` (kind
    /// `eval_failed`) instead of ending the run; nil then.
    func evaluateZeroShotLoggingFailure(limit: Int?) -> Double? {
        do { return try evaluateZeroShot(limit: limit) } catch {
            let message = String(describing: error).replacingOccurrences(of: "\n", with: " ")
            log("step \(state.step): zero-shot evaluation failed, training goes on: \(message)")
            try? metrics.append(EventRecord(kind: "eval_failed", step: state.step, message: message))
            return nil
        }
    }

    /// Zero-shot top-1 on the configured dataset; logged and appended to metrics. An evaluation
    /// of no images is an error, never a top-1 of 0.
    func evaluateZeroShot(limit: Int?) throws -> Double {
        guard let z = config.eval.zeroshot, let dataset = zeroShotDataset else { throw ConfigError("eval.zeroshot: not configured") }
        guard let classnames = dataset.classnames else { throw ConfigError("eval.zeroshot.dataset: \(z.dataset) has no classnames attribute") }
        let templates = try z.templates.map { try ZeroShotClassifier.loadTemplates($0) } ?? ZeroShotClassifier.defaultTemplates
        let encoder = ModelEncoder(model: model, workers: config.train.workers, scoring: objective.similarity,
                                   precision: step.precision)
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
}
