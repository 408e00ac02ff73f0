import ArgumentParser
import CommandLineTool
import DataPipeline
import Foundation
import SwiftCLIP

/// `filter --checkpoint CKPT --data SHARDS --output DIR (--keep FRACTION | --threshold T) …`
struct Filter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Score every image-caption pair with a model (CLIP score) and write the best pairs as new shards.",
        discussion: """
        The score is the cosine of the L2-normalized image and caption embeddings (DataComp's CLIP score), \
        or FILIP's token-level s^I for FILIP checkpoints. --keep F keeps the ceil(F·M) highest-scoring of the \
        M scored items (ties: lower index first); --threshold T keeps those with score ≥ T. Kept items keep \
        their order and every dataset as stored. --dedup C drops an image whose cosine with a kept, \
        higher-scoring image is ≥ C.
        """)

    @Option(help: "A run folder, a checkpoint folder, or a model.safetensors (then --model-config).") var checkpoint: String
    @Option(help: "OpenCLIP model-config JSON (for bare safetensors files).") var modelConfig: String?
    @Option(help: "Shard folder, .h5 file, or comma-separated list.") var data: String
    @Option(help: "Folder for the kept shards (created; must not hold .h5 files unless --overwrite).") var output: String
    @Option(help: "Keep this fraction (0 < F ≤ 1) of the scored pairs, the highest-scoring.") var keep: Double?
    @Option(parsing: .unconditional, help: "Keep the pairs scoring at least this (may be negative: --threshold -0.1).") var threshold: Float?
    @Option(help: "Drop images whose cosine with a kept higher-scoring image is at least this (0 < C ≤ 1).") var dedup: Float?
    @Option(help: "Write every pair's score to this .csv (shard,index,key,score) or .safetensors (scores [N]).") var scores: String?
    @Option(help: "Pairs per batch.") var batchSize = 256
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Items per output shard.") var shardSize = 10_000
    @Flag(help: "Replace .h5 files already in the output folder.") var overwrite = false
    @Option(help: "BPE merges file (default: built-in CLIP vocabulary).") var vocab: String?
    @Option(help: ArgumentHelp("How to score pairs: auto, embedding, filip or filip-content.",
                               discussion: "auto follows the objective recorded in the checkpoint."))
    var scoring = "auto"
    @Option(help: "GEMM precision of the towers: fp32, or bf16 (bf16 inputs, fp32 accumulation).") var precision: MatmulPrecision = .fp32

    func validate() throws {
        switch (keep, threshold) {
        case (nil, nil), (.some, .some): throw ValidationError("give exactly one of --keep FRACTION and --threshold T")
        case (let f?, nil): guard f > 0 && f <= 1 else { throw ValidationError("--keep must be in (0, 1], got \(f)") }
        case (nil, let t?): guard t.isFinite else { throw ValidationError("--threshold must be a finite number, got \(t)") }
        }
        if let dedup, !(dedup > 0 && dedup <= 1) { throw ValidationError("--dedup must be in (0, 1], got \(dedup)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard shardSize >= 1 else { throw ValidationError("--shard-size must be at least 1, got \(shardSize)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if scoring != "auto" && Similarity(name: scoring) == nil {
            throw ValidationError("--scoring must be auto or one of \(Similarity.names.joined(separator: ", ")), got '\(scoring)'")
        }
    }

    func run() throws {
        let dataset = try ShardDataset(paths: data.split(separator: ",").map(String.init))
        var filter = ScoreFilter(dataset: dataset, output: output,
                                 rule: keep.map { .keepFraction($0) } ?? .threshold(threshold!),
                                 dedup: dedup, scoresFile: scores)
        (filter.batchSize, filter.shardSize, filter.overwrite) = (batchSize, shardSize, overwrite)
        try filter.checkOutputs()   // before the model loads and any progress line
        let (_, tokenizer, encoder) = try CommandSupport.loadForInference(
            checkpoint: checkpoint, modelConfig: modelConfig, vocab: vocab, threads: threads,
            scoring: Similarity(name: scoring), precision: precision)
        filter.loaderThreads = max(1, encoder.workers)
        print("scoring: \(encoder.scoring)")
        let bar = ProgressBar(label: "filter")
        let summary = try filter.run(encoder: encoder, tokenizer: tokenizer, progress: bar.update,
                                     shardProgress: BuildProgress(total: nil, style: .automatic))
        bar.finish()
        print(summary)
    }
}

Filter.mainWithOneLineErrors()
