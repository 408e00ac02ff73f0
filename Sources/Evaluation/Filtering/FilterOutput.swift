import Foundation
import Checkpointing
import DataPipeline
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Tokenization
import ModelStore

/// What `filter` writes: the scores (CSV or safetensors) and the kept items as new shards.
public enum FilterOutput {
    public enum ScoresFormat { case csv, safetensors }

    /// The format a scores path asks for by its extension; throws for any other.
    public static func scoresFormat(_ path: String) throws -> ScoresFormat {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "csv": return .csv
        case "safetensors": return .safetensors
        default: throw ConfigError("\(path): the scores file must end in .csv or .safetensors")
        }
    }

    /// Writes the scores atomically: a CSV `shard,index,key,score` (one row per item; score empty
    /// for unscored items; key empty where the shard has no `/keys`) or a safetensors file with
    /// `scores` [N] F32 (NaN for unscored items).
    public static func writeScores(_ scores: [Float?], dataset: ShardDataset, scoring: Similarity, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        switch try scoresFormat(path) {
        case .csv:
            try AtomicFile.write(to: url) { sink in     // streamed, one shard's rows at a time
                try sink.write("shard,index,key,score\n")
                for (s, shard) in dataset.shards.enumerated() {
                    let field = csvField(shard.path)
                    let keys = shard.hasKeys ? try shard.keys() : nil
                    var text = ""
                    for i in 0..<shard.count {
                        let score = scores[dataset.globalIndex(shard: s, index: i)].map { "\($0)" } ?? ""
                        text += "\(field),\(i),\(keys.map { csvField($0[i]) } ?? ""),\(score)\n"
                    }
                    try sink.write(text)
                }
            }
        case .safetensors:
            try writeSafeTensors([(name: "scores", shape: [scores.count], data: scores.map { $0 ?? .nan })],
                                 metadata: ["producer": "swiftclip filter", "scoring": scoring.description], to: url)
        }
    }

    /// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
    static func csvField(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Copies the items `kept` (global indices, ascending) of `dataset` into `writer`, every
    /// dataset of an item as stored (no re-encoding), and finishes it. `ShardSetWriter` stages the
    /// shards and moves them into place only when all are written, so a failure leaves no partial
    /// output (the writer is abandoned).
    public static func copy(_ kept: [Int], of dataset: ShardDataset, into writer: ShardSetWriter) throws -> BuildSummary {
        do {
            for index in kept { try writer.append(try dataset.item(at: index)) }
            return try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Refuses, before any scoring, a shard set whose items cannot go into one output set (raw
    /// images of different sizes, raw mixed with encoded; `/labels`, `/long_captions` or `/keys`
    /// in some shards only), and an output folder holding the input.
    public static func requireWritable(_ dataset: ShardDataset, output: String) throws {
        let storages = Set(dataset.shards.compactMap { $0.storage.map(String.init(describing:)) })
        if storages.count > 1 {
            throw ConfigError("the shards mix image storages (\(storages.sorted().joined(separator: ", "))); filter writes one kind per output set")
        }
        let layout: [(String, (ShardReader) -> Bool)] = [
            (ShardFormat.labels, { $0.labels != nil }), (ShardFormat.longCaptions, { $0.hasLongCaptions }), (ShardFormat.keys, { $0.hasKeys }),
        ]
        for (name, has) in layout {
            if let with = dataset.shards.first(where: has), let without = dataset.shards.first(where: { !has($0) }) {
                throw ConfigError("\(with.path) has \(name) but \(without.path) has not; filter writes one layout per output set")
            }
        }
        let target = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
        for shard in dataset.shards {
            let folder = URL(fileURLWithPath: shard.path).deletingLastPathComponent().standardizedFileURL.resolvingSymlinksInPath().path
            if folder == target { throw ConfigError("\(output): is the folder of input shard \(shard.path); write the filtered set elsewhere") }
        }
    }
}
