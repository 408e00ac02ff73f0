import DataPipeline
import Foundation
import Tokenization
import SwiftCLIP
import XCTest

/// `evaluate` and `embed` on awkward inputs: repeated captions and batch sizes, skipped items,
/// labels outside the classes, non-finite embeddings, undecodable images, CRLF text files and
/// output paths. Each refusal is a one-line error naming what is wrong.
final class EvaluationInputTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun(items: 16) }
    override func tearDown() { run.cleanup() }

    var shard: String { run.root.appendingPathComponent("data/shard-00000.h5").path }

    func model(seed: UInt64 = 5) throws -> CLIPModel {
        CLIPModel(try ModelConfig.load(run.root.appendingPathComponent("model.json")), seed: seed)
    }

    /// Writes a shard of 16×16 JPEGs (`corrupt` items replaced by bytes that do not decode).
    func jpegShard(_ name: String, count: Int, corrupt: Set<Int>, labels: [Int]? = nil, classnames: [String]? = nil) throws -> String {
        let path = run.root.appendingPathComponent(name).path
        let writer = ShardWriter(path: path, classnames: classnames)
        for i in 0..<count {
            let pixels = (0..<(16 * 16 * 3)).map { UInt8(($0 * 7 + i * 31) % 256) }
            let bytes = corrupt.contains(i) ? [0xFF, 0xD8, 0xFF, 0x00, 0x01] : try JPEG.encode(RGBImage(height: 16, width: 16, pixels: pixels))
            try writer.append(ShardItem(image: .jpeg(bytes), caption: "item \(i)", label: labels?[i]))
        }
        _ = try writer.finish()
        return path
    }

    func assertThrows(_ body: @autoclosure () throws -> Any, containing parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = String(describing: error)
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for part in parts { XCTAssertTrue(text.contains(part), "'\(text)' should name \(part)", file: file, line: line) }
        }
    }

    /// Every caption of the synthetic set appears twice (8 captions, 16 images): each image's
    /// caption ties with its duplicate, so image→text R@1 is exactly 0, whatever the batch size
    /// and the scoring; `limit` takes the first items.
    func testRetrievalIsIndependentOfBatchSizeAndCountsDuplicateCaptions() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let data = try ShardDataset(path: shard)
        let model = try model()
        for scoring in [Similarity.embedding, .tokenwise(includeSpecialTokens: true)] {
            let encoder = ModelEncoder(model: model, workers: 2, scoring: scoring)
            let results = try [1, 3, 256].map {
                try RetrievalResult.evaluate(encoder: encoder, tokenizer: tokenizer, dataset: data, longCaptions: false,
                                             batchSize: $0, loaderThreads: 1)
            }
            XCTAssertEqual(results[0], results[1], "\(scoring)")
            XCTAssertEqual(results[0], results[2], "\(scoring)")
            XCTAssertEqual(results[0].count, 16)
            XCTAssertEqual(results[0].imageToText.recallAt1, 0, "\(scoring): the duplicate caption ties with the paired one")
            XCTAssertGreaterThanOrEqual(results[0].imageToText.meanRank, 2)
            let limited = try RetrievalResult.evaluate(encoder: encoder, tokenizer: tokenizer, dataset: data, longCaptions: false,
                                                       batchSize: 3, limit: 5, loaderThreads: 1)
            XCTAssertEqual(limited.count, 5)
        }
    }

    /// Duplicate captions are distinct candidates with one shared score: the grouped ranks equal
    /// the ranks over the expanded N×N score matrix.
    func testGroupedCaptionsRankLikeTheExpandedMatrix() {
        var rng = RandomGenerator(seed: 2)
        let images = Tensor.randomNormal([9, 5], using: &rng).l2Normalized().y
        let distinct = Tensor.randomNormal([4, 5], using: &rng).l2Normalized().y
        let textOf = [0, 1, 2, 3, 0, 1, 0, 2, 3]
        let expanded = Tensor(shape: [9, 5], scalars: textOf.flatMap { Array(distinct.scalars[($0 * 5)..<($0 * 5 + 5)]) })
        XCTAssertEqual(RetrievalResult(images: images, texts: distinct, textOf: textOf, block: 2),
                       RetrievalResult(images: images, texts: expanded))
    }

    func testZeroShotWithEveryItemSkippedIsAnError() throws {
        let path = try jpegShard("bad.h5", count: 4, corrupt: [0, 1, 2, 3], labels: [0, 1, 0, 1], classnames: ["a", "b"])
        let encoder = ModelEncoder(model: try model(), workers: 1)
        let classifier = ZeroShotClassifier(encoder: encoder, tokenizer: try CLIPTokenizer.bundled(), classnames: ["a", "b"], templates: ["{}"])
        assertThrows(try classifier.evaluate(encoder: encoder, dataset: try ShardDataset(path: path), loaderThreads: 1),
                     containing: ["no usable items", "bad.h5"])
    }

    func testRetrievalWithEveryItemSkippedIsAnError() throws {
        let path = try jpegShard("bad.h5", count: 3, corrupt: [0, 1, 2])
        assertThrows(try RetrievalResult.evaluate(encoder: ModelEncoder(model: try model(), workers: 1), tokenizer: try CLIPTokenizer.bundled(),
                                                  dataset: try ShardDataset(path: path), longCaptions: false, loaderThreads: 1),
                     containing: ["no usable items"])
    }

    func testLabelOutsideTheClassesNamesTheShard() throws {
        let encoder = ModelEncoder(model: try model(), workers: 1)
        let tokenizer = try CLIPTokenizer.bundled()
        for bad in [7, -1] {
            let path = try jpegShard("labels\(bad).h5", count: 3, corrupt: [], labels: [0, bad, 1], classnames: ["a", "b", "c", "d"])
            let classifier = ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: ["a", "b", "c", "d"], templates: ["{}"])
            assertThrows(try classifier.evaluate(encoder: encoder, dataset: try ShardDataset(path: path), loaderThreads: 1),
                         containing: ["labels\(bad).h5", "item 1", "label \(bad)", "4 class names"])
        }
        // Class names shorter than the labels need (as a --classnames file would give).
        let path = try jpegShard("labels.h5", count: 2, corrupt: [], labels: [0, 3], classnames: ["a", "b", "c", "d"])
        let short = ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: ["a", "b"], templates: ["{}"])
        assertThrows(try short.evaluate(encoder: encoder, dataset: try ShardDataset(path: path), loaderThreads: 1),
                     containing: ["labels.h5", "label 3", "2 class names"])
    }

    /// NaN weights: zero-shot, retrieval and embed refuse (ranking NaNs would report 100%).
    func testNonFiniteEmbeddingsAreRefused() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let data = try ShardDataset(path: shard)
        let visual = try model()
        visual.visual.parameters[0].value.pointer[0] = .nan
        let encoder = ModelEncoder(model: visual, workers: 1)
        let classifier = ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: ["a", "b"], templates: ["{}"])
        let labelled = try jpegShard("labels.h5", count: 2, corrupt: [], labels: [0, 1], classnames: ["a", "b"])
        assertThrows(try classifier.evaluate(encoder: encoder, dataset: try ShardDataset(path: labelled), loaderThreads: 1),
                     containing: ["labels.h5 item 0", "not finite"])
        assertThrows(try RetrievalResult.evaluate(encoder: encoder, tokenizer: tokenizer, dataset: data, longCaptions: false, loaderThreads: 1),
                     containing: ["shard-00000.h5 item 0", "not finite"])
        assertThrows(try EmbeddingExport.embedImages(encoder: encoder, dataset: try ShardDataset(path: shard)), containing: ["item 0", "not finite"])

        let text = try model()
        for (name, p) in text.namedParameters() where name.contains("token_embedding") {
            for i in 0..<p.value.count { p.value.pointer[i] = .nan }
        }
        let textEncoder = ModelEncoder(model: text, workers: 1)
        assertThrows(try EmbeddingExport.embedTexts(["a", "b"], encoder: textEncoder, tokenizer: tokenizer, source: "captions.txt"),
                     containing: ["captions.txt line 1", "not finite"])
        assertThrows(try ZeroShotClassifier(encoder: textEncoder, tokenizer: tokenizer, classnames: ["a", "b"], templates: ["{}"])
                        .evaluate(encoder: textEncoder, dataset: try ShardDataset(path: labelled), loaderThreads: 1),
                     containing: ["class 'a'", "not finite"])
    }

    /// One row per image item or a refusal naming the shard and item, never a shorter matrix.
    func testEmbedRefusesAnImageThatDoesNotDecode() throws {
        let encoder = ModelEncoder(model: try model(), workers: 1)
        let good = try jpegShard("good.h5", count: 5, corrupt: [])
        XCTAssertEqual(try EmbeddingExport.embedImages(encoder: encoder, dataset: try ShardDataset(path: good), batchSize: 2).shape, [5, 16])
        let bad = try jpegShard("bad.h5", count: 5, corrupt: [3])
        assertThrows(try EmbeddingExport.embedImages(encoder: encoder, dataset: try ShardDataset(path: bad), batchSize: 2), containing: ["bad.h5 item 3"])
    }

    /// A CRLF file with an empty line: one caption (and one embedding row) per line.
    func testEmbedCaptionsKeepEveryLineOfACRLFFile() throws {
        let file = run.root.appendingPathComponent("captions.txt")
        try Data("a red square.\r\n\r\na blue stripe.\r\n".utf8).write(to: file)
        let captions = try EmbeddingExport.captions(file: file.path)
        XCTAssertEqual(captions, ["a red square.", "", "a blue stripe."])
        let rows = try EmbeddingExport.embedTexts(captions, encoder: ModelEncoder(model: try model(), workers: 1),
                                                  tokenizer: try CLIPTokenizer.bundled(), source: file.path)
        XCTAssertEqual(rows.shape, [3, 16])
        try Data([0x61, 0xFF, 0x0A]).write(to: file)
        assertThrows(try EmbeddingExport.captions(file: file.path), containing: ["captions.txt", "UTF-8"])
    }

    /// One rule for text files (issue 25.4): a line that is not valid UTF-8 or holds a NUL byte is refused,
    /// naming the file and the line: captions to embed, class names, templates.
    func testTextFilesWithANULByteOrInvalidUTF8NameTheLine() throws {
        let file = run.root.appendingPathComponent("text.txt")
        let loaders: [(String) throws -> Any] = [
            { try EmbeddingExport.captions(file: $0) },       // embed --texts
            { try ZeroShotClassifier.loadClassnames($0) },    // evaluate --classnames
            { try ZeroShotClassifier.loadTemplates($0) },     // evaluate --templates, eval.zeroshot.templates
        ]
        for load in loaders {
            for (bad, problem) in [([0x00] as [UInt8], "holds a NUL byte"), ([0xE9], "not valid UTF-8")] {
                try Data(Array("a {}\r\nb {}".utf8) + bad + Array(" c\n".utf8)).write(to: file)
                assertThrows(try load(file.path), containing: ["\(file.path) line 2: \(problem)"])
            }
        }
    }

    func testTemplatesAndClassnamesFilesWithCRLF() throws {
        let file = run.root.appendingPathComponent("names.txt")
        try Data("cat\r\n\r\ndog\r\n".utf8).write(to: file)
        XCTAssertEqual(try ZeroShotClassifier.loadClassnames(file.path), ["cat", "dog"])
        try Data("# comment\r\na photo of a {}.\r\n{}\r\n".utf8).write(to: file)
        XCTAssertEqual(try ZeroShotClassifier.loadTemplates(file.path), ["a photo of a {}.", "{}"])
    }

    /// Two class names whose prompts the tokenizer reads the same (case, spacing around punctuation,
    /// HTML entities) would tie on every image and both score 0%: refused, naming both (issue 25.2).
    func testDuplicateClassNamesAreRefused() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let names = ["sandal", "T-shirt", "bag", "t - shirt", "salt &amp; pepper", "Salt & Pepper"]
        // The oracle: the prompts of each pair are the same token ids, so the model cannot tell them apart.
        for (a, b) in [(1, 3), (4, 5)] {
            XCTAssertEqual(tokenizer.tokenize("a photo of a \(names[a])."), tokenizer.tokenize("a photo of a \(names[b])."))
        }
        assertThrows(try ZeroShotClassifier.requireDistinct(names, tokenizer: tokenizer, source: "names.txt"),
                     containing: ["names.txt: ", "class names 2 and 4", "\"T-shirt\"", "\"t - shirt\""])
        assertThrows(try ZeroShotClassifier.requireDistinct(Array(names[4...]), tokenizer: tokenizer, source: "x"),
                     containing: ["class names 1 and 2", "\"salt &amp; pepper\"", "\"Salt & Pepper\""])
        XCTAssertNoThrow(try ZeroShotClassifier.requireDistinct(["ice cream", "icecream", "T-shirt", "shirt"], tokenizer: tokenizer, source: "x"))
    }

    /// `evaluate --classnames FILE` and a dataset's classnames attribute, through the command, and
    /// training's zero-shot dataset, checked when the run starts.
    func testEvaluateAndTrainingRefuseDuplicateClassNames() throws {
        let hub = run.root.appendingPathComponent("hub")
        try OpenCLIPExport.write(model: try model(), preprocess: .none, to: hub)
        let names = run.root.appendingPathComponent("names.txt").path
        try "cat\ndog\nCat\n".write(toFile: names, atomically: true, encoding: .utf8)
        let labelled = try jpegShard("labels.h5", count: 3, corrupt: [], labels: [0, 1, 2], classnames: ["a", "b", "c"])
        let duplicated = try jpegShard("dup.h5", count: 3, corrupt: [], labels: [0, 1, 2], classnames: ["a", "b", "B"])
        let common = ["--checkpoint", hub.path, "--task", "zeroshot", "--threads", "1"]
        let cases: [([String], [String])] = [
            (["--dataset", labelled, "--classnames", names], [names, "class names 1 and 3", "\"cat\"", "\"Cat\""]),
            (["--dataset", duplicated], [duplicated, "class names 2 and 3", "\"b\"", "\"B\""]),
        ]
        for (arguments, parts) in cases {
            let r = try runCommand("evaluate", common + arguments)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
            for part in parts { XCTAssertTrue(r.stderr.contains(part), "\(part) not in \(r.stderr)") }
        }
        let ok = try runCommand("evaluate", common + ["--dataset", labelled])
        XCTAssertEqual(ok.status, 0, ok.stderr)

        let config = try run.config(run.yaml(extra: "eval: {zeroshot: {dataset: \(duplicated)}}"))
        assertThrows(try Trainer(config: config, log: { _ in }), containing: ["eval.zeroshot.dataset", "class names 2 and 3"])
    }

    func testOutputPathsAreCheckedBeforeTheWork() throws {
        let missing = run.root.appendingPathComponent("nope/out.json").path
        assertThrows(try OutputFile.requireWritable(missing), containing: ["no such folder: " + run.root.appendingPathComponent("nope").path])
        assertThrows(try OutputFile.requireWritable(run.root.path), containing: ["is a folder"])
        XCTAssertNoThrow(try OutputFile.requireWritable(run.root.appendingPathComponent("out.json").path))
        let locked = run.root.appendingPathComponent("locked")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o500])
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: locked.path) }
        try XCTSkipIf(geteuid() == 0, "root may write into a read-only folder")
        assertThrows(try OutputFile.requireWritable(locked.appendingPathComponent("out.json").path),
                     containing: ["permission denied: " + locked.path])
    }
}
