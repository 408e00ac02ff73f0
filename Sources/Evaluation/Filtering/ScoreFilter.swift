import Foundation
import DataPipeline
import Tokenization
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Checkpointing
import ModelStore

/// The `filter` command's work: score every image–caption pair of a shard set with a model, write
/// the scores, and write the kept items as a new shard set (CLIP-score filtering as in DataComp).
public struct ScoreFilter {
    public var dataset: ShardDataset
    public var output: String
    public var rule: FilterRule
    /// Cosine at or above which an image counts as a near-duplicate of a kept one (nil: no dedup).
    public var dedup: Float?
    /// Where to write the scores (.csv or .safetensors), if anywhere.
    public var scoresFile: String?
    public var batchSize = 256
    public var shardSize = 10_000
    public var overwrite = false
    public var loaderThreads = 2

    public init(dataset: ShardDataset, output: String, rule: FilterRule, dedup: Float? = nil, scoresFile: String? = nil) {
        (self.dataset, self.output, self.rule, self.dedup, self.scoresFile) = (dataset, output, rule, dedup, scoresFile)
    }

    /// What a run kept.
    public struct Summary: CustomStringConvertible {
        public var items: Int
        public var scored: Int
        /// Candidates dropped as near-duplicates of a higher-scoring kept image.
        public var duplicates: Int
        public var kept: [Int]
        public var skipped: [SkippedItem]
        public var shards: BuildSummary

        public var description: String {
            var lines = ["scored \(scored) of \(items) pairs; kept \(kept.count)"
                + (duplicates > 0 ? " (\(duplicates) near-duplicate image(s) dropped)" : "")]
            if let first = skipped.first { lines.append("skipped \(skipped.count) unusable item(s) (first: \(first))") }
            lines.append(shards.description)
            return lines.joined(separator: "\n")
        }
    }

    /// Refuses what `run` would refuse before scoring, without writing anything: a scores path of
    /// another format or in a missing folder, shards that cannot go into one output set, an output
    /// folder holding the input or (without `overwrite`) shards.
    public func checkOutputs() throws {
        if let scoresFile {
            _ = try FilterOutput.scoresFormat(scoresFile)
            try OutputFile.requireWritable(scoresFile)
        }
        try FilterOutput.requireWritable(dataset, output: output)
        if !overwrite { try ShardSetWriter.requireNoShards(in: output) }
    }

    /// Checks the inputs and outputs, scores, writes the scores and the kept shards.
    /// - Parameter progress: called with (items scored, total) while scoring.
    public func run(encoder: ModelEncoder, tokenizer: CLIPTokenizer, progress: ((Int, Int) -> Void)? = nil,
                    shardProgress: BuildProgress = BuildProgress(total: nil, style: .silent)) throws -> Summary {
        try checkOutputs()
        // Made first, so that an output folder holding shards is refused before the scoring.
        let writer = try ShardSetWriter(output: output, shardSize: shardSize, classnames: dataset.classnames,
                                        overwrite: overwrite, progress: shardProgress)
        do {
            let scores = try PairScores.compute(encoder: encoder, tokenizer: tokenizer, dataset: dataset, batchSize: batchSize,
                                                loaderThreads: loaderThreads, keepImageEmbeddings: dedup != nil, progress: progress)
            if let scoresFile { try FilterOutput.writeScores(scores.scores, dataset: dataset, scoring: encoder.scoring, to: scoresFile) }
            let (kept, duplicates) = FilterSelection.select(scores: scores.scores, rule: rule,
                                                            dedup: dedup.map { (scores.imageEmbeddings!, $0) })
            guard !kept.isEmpty else {
                let best = scores.scores.compactMap { $0 }.max() ?? .nan
                throw ConfigError("nothing kept: no score reaches the threshold (highest score \(best))")
            }
            let shards = try FilterOutput.copy(kept, of: dataset, into: writer)
            return Summary(items: dataset.count, scored: scores.scoredCount, duplicates: duplicates, kept: kept,
                           skipped: scores.skipped, shards: shards)
        } catch {
            writer.abandon()
            throw error
        }
    }
}
