import Checkpointing
import DataPipeline
import Foundation
import Tokenization
import SwiftCLIP
@testable import Evaluation
import XCTest

/// `filter` end to end on a small synthetic shard set with a fixed random model: scores against
/// embeddings computed independently (the `embed` path and plain dot products in Double), the kept
/// items copied unchanged, reruns byte-identical, and nothing half-written on failure.
final class ScoreFilterTests: XCTestCase {
    var run: SyntheticRun!
    var encoder: ModelEncoder!
    var tokenizer: CLIPTokenizer!

    override func setUpWithError() throws {
        run = try SyntheticRun(items: 40)
        let config = try ModelConfig.load(run.root.appendingPathComponent("model.json"))
        encoder = ModelEncoder(model: CLIPModel(config, seed: 7), workers: 2)
        tokenizer = try CLIPTokenizer.bundled()
    }

    override func tearDown() { run.cleanup() }

    var data: String { run.root.appendingPathComponent("data").path }
    var shardPath: String { run.root.appendingPathComponent("data/shard-00000.h5").path }
    func path(_ name: String) -> String { run.root.appendingPathComponent(name).path }

    func assertOneLineError(_ body: @autoclosure () throws -> Any, naming parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = String(describing: error)
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for part in parts { XCTAssertTrue(text.contains(part), "'\(text)' should name \(part)", file: file, line: line) }
        }
    }

    /// Cosines in Double of the images' embeddings (as `embed` writes them) with the captions'.
    func oracleScores() throws -> (scores: [Double], images: Tensor) {
        let images = try EmbeddingExport.embedImages(encoder: encoder, dataset: try ShardDataset(path: shardPath), batchSize: 7)
        let captions = try ShardReader(path: shardPath).captions()
        let texts = encoder.texts(captions, tokenizer: tokenizer, batchSize: 5)
        let e = images.shape[1]
        let scores = (0..<captions.count).map { i in
            (0..<e).reduce(0.0) { $0 + Double(images[flat: i * e + $1]) * Double(texts[flat: i * e + $1]) }
        }
        return (scores, images)
    }

    /// The top ceil(0.3 · 40) = 12 by the oracle's scores are kept, in their original order, with
    /// every dataset as stored; the CSV and safetensors scores match the oracle.
    func testKeepsTheTopFractionByIndependentlyComputedScores() throws {
        let (expected, _) = try oracleScores()
        let order = expected.indices.sorted { expected[$0] != expected[$1] ? expected[$0] > expected[$1] : $0 < $1 }
        XCTAssertGreaterThan(expected[order[11]] - expected[order[12]], 1e-5, "precondition: no near-tie at the cut")
        let dataset = try ShardDataset(path: data)
        var filter = ScoreFilter(dataset: dataset, output: path("kept"), rule: .keepFraction(0.3), scoresFile: path("scores.csv"))
        filter.batchSize = 16
        let summary = try filter.run(encoder: encoder, tokenizer: tokenizer)
        let kept = Array(order.prefix(12)).sorted()
        XCTAssertEqual(summary.kept, kept)
        let output = try ShardDataset(path: path("kept"))
        XCTAssertEqual(output.count, 12)
        for (k, index) in kept.enumerated() { XCTAssertEqual(try output.item(at: k), try dataset.item(at: index)) }

        let csv = try String(contentsOfFile: path("scores.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "shard,index,key,score")
        XCTAssertEqual(csv.count, 41)
        for (i, row) in csv.dropFirst().enumerated() {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            XCTAssertEqual(fields.count, 4)
            XCTAssertEqual(String(fields[0]), shardPath)
            XCTAssertEqual(Int(fields[1]), i)
            XCTAssertEqual(fields[2], "")
            XCTAssertEqual(Double(fields[3])!, expected[i], accuracy: 1e-5)
        }

        filter.scoresFile = path("scores.safetensors")
        filter.output = path("kept2")
        _ = try filter.run(encoder: encoder, tokenizer: tokenizer)
        let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path("scores.safetensors")))
        let scores = try file.tensor(named: "scores")
        XCTAssertEqual(scores.shape, [40])
        for i in 0..<40 { XCTAssertEqual(Double(scores[flat: i]), expected[i], accuracy: 1e-5) }
    }

    /// A threshold keeps exactly the items whose oracle score reaches it; an unreachable one is a
    /// one-line error and leaves no output folder.
    func testThresholdKeepsScoresAtOrAboveIt() throws {
        let (expected, _) = try oracleScores()
        let sorted = expected.sorted()
        let t = (sorted[25] + sorted[26]) / 2
        XCTAssertGreaterThan(sorted[26] - sorted[25], 1e-5, "precondition: the threshold lies between two scores")
        let dataset = try ShardDataset(path: data)
        let summary = try ScoreFilter(dataset: dataset, output: path("kept"), rule: .threshold(Float(t)))
            .run(encoder: encoder, tokenizer: tokenizer)
        XCTAssertEqual(summary.kept, expected.indices.filter { expected[$0] >= t })
        XCTAssertEqual(summary.kept.count, 14)

        assertOneLineError(try ScoreFilter(dataset: dataset, output: path("none"), rule: .threshold(Float(sorted.last! + 0.01)))
                            .run(encoder: encoder, tokenizer: tokenizer), naming: ["nothing kept", "highest score"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("none")))
    }

    /// Two identical images with different captions: --dedup keeps the one whose caption scores
    /// higher, and the kept set equals the greedy definition over the oracle's embeddings.
    func testDedupKeepsTheHigherScoringDuplicate() throws {
        let source = try ShardReader(path: shardPath)
        let writer = ShardWriter(path: path("dups.h5"))
        for i in 0..<source.count { try writer.append(try source.item(at: i)) }
        var copy = try source.item(at: 3)
        copy.caption = try source.caption(at: 30)        // same image as item 3, another caption
        try writer.append(copy)
        try writer.finish()
        let dataset = try ShardDataset(path: path("dups.h5"))
        let threshold: Float = 0.9999
        let plain = try PairScores.compute(encoder: encoder, tokenizer: tokenizer, dataset: dataset, keepImageEmbeddings: true)
        let (s3, s40) = (plain.scores[3]!, plain.scores[40]!)
        XCTAssertNotEqual(s3, s40)
        let summary = try ScoreFilter(dataset: dataset, output: path("kept"), rule: .keepFraction(1), dedup: threshold)
            .run(encoder: encoder, tokenizer: tokenizer)
        let loser = s3 > s40 ? 40 : 3
        XCTAssertFalse(summary.kept.contains(loser))
        XCTAssertTrue(summary.kept.contains(s3 > s40 ? 3 : 40))
        // The greedy definition in Double on the same embeddings.
        let x = plain.imageEmbeddings!, e = x.shape[1]
        func cosine(_ a: Int, _ b: Int) -> Double { (0..<e).reduce(0.0) { $0 + Double(x[flat: a * e + $1]) * Double(x[flat: b * e + $1]) } }
        var greedy: [Int] = []
        for i in FilterSelection.visitingOrder(plain.scores) where !greedy.contains(where: { cosine($0, i) >= Double(threshold) }) {
            greedy.append(i)
        }
        XCTAssertEqual(summary.kept, greedy.sorted())
        XCTAssertEqual(summary.duplicates, 41 - greedy.count)
    }

    /// The same inputs give the same bytes — every output shard and the scores files — whatever
    /// the batch size and thread count.
    func testRerunsAreByteIdentical() throws {
        let dataset = try ShardDataset(path: data)
        for (name, batch, workers) in [("a", 256, 1), ("b", 5, 3)] {
            let encoder = ModelEncoder(model: encoder.model, workers: workers)
            var filter = ScoreFilter(dataset: dataset, output: path(name), rule: .keepFraction(0.5), dedup: 0.9999,
                                     scoresFile: path("\(name).csv"))
            (filter.shardSize, filter.batchSize) = (3, batch)
            _ = try filter.run(encoder: encoder, tokenizer: tokenizer)
            filter.scoresFile = path("\(name).safetensors")
            filter.output = path("\(name)-2")
            _ = try filter.run(encoder: encoder, tokenizer: tokenizer)
            if name == "a" { sleep(1) }    // HDF5 object timestamps have one-second resolution
        }
        let shards = try FileManager.default.contentsOfDirectory(atPath: path("a")).sorted()
        XCTAssertGreaterThan(shards.count, 2)
        XCTAssertEqual(shards, try FileManager.default.contentsOfDirectory(atPath: path("b")).sorted())
        for shard in shards {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("a/\(shard)"))),
                           try Data(contentsOf: URL(fileURLWithPath: path("b/\(shard)"))), shard)
        }
        for file in ["csv", "safetensors"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("a.\(file)"))),
                           try Data(contentsOf: URL(fileURLWithPath: path("b.\(file)"))), file)
        }
    }

    /// A failure while writing leaves no output folder (and an existing folder as it was); bad
    /// inputs are refused in one line before any scoring.
    func testFailuresLeaveNoPartialOutput() throws {
        // Raw 16×16 shard then a JPEG shard: the copy fails at the first JPEG item.
        let jpeg = ShardWriter(path: path("jpeg.h5"))
        let source = try ShardReader(path: shardPath)
        for i in 0..<3 {
            var item = try source.item(at: i)
            item.image = .jpeg(try JPEG.encode(try item.image.decoded(), quality: 90))
            try jpeg.append(item)
        }
        try jpeg.finish()
        let mixed = try ShardDataset(paths: [shardPath, path("jpeg.h5")])
        XCTAssertThrowsError(try FilterOutput.copy(Array(0..<43), of: mixed,
                                                   into: try ShardSetWriter(output: path("out"), shardSize: 100)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")))
        assertOneLineError(try ScoreFilter(dataset: mixed, output: path("out"), rule: .keepFraction(1)).run(encoder: encoder, tokenizer: tokenizer),
                           naming: ["mix image storages", "jpeg", "raw 16×16"])

        let unlabelled = ShardWriter(path: path("unlabelled.h5"))
        try unlabelled.append(ShardItem(image: try source.image(at: 0), caption: "x"))
        try unlabelled.finish()
        assertOneLineError(try ScoreFilter(dataset: try ShardDataset(paths: [shardPath, path("unlabelled.h5")]), output: path("out"),
                                           rule: .keepFraction(1)).run(encoder: encoder, tokenizer: tokenizer),
                           naming: ["shard-00000.h5 has /long_captions but", "unlabelled.h5 has not"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")))

        // An output folder that holds shards is refused and left as it was.
        try FileManager.default.createDirectory(atPath: path("full"), withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: path("full/shard-00000.h5")))
        let dataset = try ShardDataset(path: data)
        assertOneLineError(try ScoreFilter(dataset: dataset, output: path("full"), rule: .keepFraction(1)).run(encoder: encoder, tokenizer: tokenizer),
                           naming: ["full", "--overwrite"])
        XCTAssertEqual(try String(contentsOfFile: path("full/shard-00000.h5"), encoding: .utf8), "old")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("full")), ["shard-00000.h5"])

        // The input's own folder, a scores file of another kind, NaN weights.
        assertOneLineError(try ScoreFilter(dataset: dataset, output: data, rule: .keepFraction(1)).run(encoder: encoder, tokenizer: tokenizer),
                           naming: ["is the folder of input shard"])
        assertOneLineError(try ScoreFilter(dataset: dataset, output: path("x"), rule: .keepFraction(1), scoresFile: path("s.json"))
                            .run(encoder: encoder, tokenizer: tokenizer), naming: ["s.json", ".csv or .safetensors"])
        encoder.model.visual.parameters[0].value.pointer[0] = .nan
        assertOneLineError(try ScoreFilter(dataset: dataset, output: path("x"), rule: .keepFraction(1)).run(encoder: encoder, tokenizer: tokenizer),
                           naming: ["shard-00000.h5 item 0's image", "not finite"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x")))
        // The output folder is checked before the scoring (which would now fail).
        assertOneLineError(try ScoreFilter(dataset: dataset, output: path("full"), rule: .keepFraction(1)).run(encoder: encoder, tokenizer: tokenizer),
                           naming: ["full", "--overwrite"])
    }

    /// A shard with `/keys` (as `make-shards webdataset` writes it): the CSV names each item's key,
    /// quoted where it holds a comma or a quote, and the kept items keep theirs.
    func testScoresCSVCarriesTheShardKeys() throws {
        let source = try ShardReader(path: shardPath)
        let writer = ShardWriter(path: path("keyed.h5"))
        for (i, key) in ["000000001", "a,b", "say \"hi\"", "", "k5"].enumerated() {
            var item = try source.item(at: i)
            item.key = key
            try writer.append(item)
        }
        try writer.finish()
        let dataset = try ShardDataset(path: path("keyed.h5"))
        let summary = try ScoreFilter(dataset: dataset, output: path("kept"), rule: .keepFraction(0.6), scoresFile: path("s.csv"))
            .run(encoder: encoder, tokenizer: tokenizer)
        let kept = try ShardDataset(path: path("kept"))
        XCTAssertEqual(summary.kept.count, 3)
        for (k, index) in summary.kept.enumerated() {
            XCTAssertEqual(try kept.item(at: k), try dataset.item(at: index))     // the key travels with its item
            XCTAssertNotNil(try kept.item(at: k).key)
        }
        let rows = try String(contentsOfFile: path("s.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        let expected = ["000000001", "\"a,b\"", "\"say \"\"hi\"\"\"", "", "k5"]
        for (i, row) in rows.enumerated() {
            XCTAssertTrue(row.hasPrefix("\(path("keyed.h5")),\(i),\(expected[i]),"), String(row))
        }
    }

    /// FILIP checkpoints are scored by s^I of each pair, from the definition over the token features.
    func testFILIPScoringUsesTheImageToTextTokenScore() throws {
        let filip = ModelEncoder(model: encoder.model, workers: 2, scoring: .tokenwise(includeSpecialTokens: false))
        let dataset = try ShardDataset(path: data)
        let scores = try PairScores.compute(encoder: filip, tokenizer: tokenizer, dataset: dataset, batchSize: 9)
        let reader = try ShardReader(path: shardPath)
        let size = encoder.model.visual.imageSize
        for i in [0, 13, 39] {
            let item = try reader.item(at: i)
            let pixels = ImageTransforms.resizeShortestSideAndCenterCrop(try item.image.decoded(), size: size,
                                                                         affine: Normalization.openAI.affine)
            let x = filip.imageTokens(Tensor(shape: [1, size, size, 3], scalars: pixels))          // [1, n1, E]
            let y = filip.textTokens([item.caption], tokenizer: tokenizer, includeSpecialTokens: false)
            let (n1, n2, e) = (x.shape[1], y.features.shape[1], x.shape[2])     // y [1, n2, E]
            var total = 0.0
            for k in 0..<n1 {
                total += y.valid[0].map { r in
                    (0..<e).reduce(0.0) { $0 + Double(x[flat: k * e + $1]) * Double(y.features[flat: r * e + $1]) }
                }.max()!
            }
            XCTAssertLessThanOrEqual(y.valid[0].upperBound, n2)
            XCTAssertEqual(Double(scores.scores[i]!), total / Double(n1), accuracy: 1e-5, "item \(i)")
        }
    }
}
