import Foundation
import Tokenization
import TensorCore
import Autograd
import NeuralNet
import Objectives
import DataPipeline
import Checkpointing
import ModelStore

/// What the inference commands (`evaluate`, `embed`, `filter`) share. (Their error convention, one line
/// and exit 1, is `mainWithOneLineErrors` in the CommandLineTool target, shared by every command.)
public enum CommandSupport {
    /// What `evaluate` and `embed` share: threads configured for data-parallel inference,
    /// the model from a checkpoint, and the tokenizer (built-in vocabulary unless `vocab`). The
    /// encoder scores as the checkpoint's objective did unless `scoring` says otherwise, and runs
    /// the towers' GEMMs in `precision` (saying in one line how bf16 runs here).
    public static func loadForInference(checkpoint: String, modelConfig: String?, vocab: String?, threads: Int?,
                                        scoring: Similarity? = nil, precision: MatmulPrecision = .fp32)
        throws -> (model: CLIPModel, tokenizer: CLIPTokenizer, encoder: ModelEncoder)
    {
        let t = threads ?? ProcessInfo.processInfo.activeProcessorCount
        Parallel.configure(threads: t)
        Parallel.configureBLAS(forWorkers: t)   // t workers on t threads: single-threaded BLAS side by side
        let (model, trained, preprocess) = try ModelLoading.load(checkpoint: checkpoint, modelConfig: modelConfig)
        let tokenizer = try vocab.map { try CLIPTokenizer(mergesFile: URL(fileURLWithPath: $0)) } ?? CLIPTokenizer.bundled()
        if precision == .bf16 { print(BF16Engine.detected.summary) }
        return (model, tokenizer, ModelEncoder(model: model, workers: t, scoring: scoring ?? trained, precision: precision,
                                               preprocess: preprocess))
    }
}
