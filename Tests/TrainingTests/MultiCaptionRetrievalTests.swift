import DataPipeline
import Foundation
import Tokenization
import SwiftCLIP
import XCTest

/// Retrieval with several captions per image (COCO, Flickr30k) against
/// Tests/Fixtures/metrics/multicaption-retrieval.json (Scripts/make-multicaption-retrieval-fixture.py:
/// clip_benchmark's `zeroshot_retrieval` algorithm in torch and the ties-against rule in numpy, on the
/// same embeddings), and `evaluate` on multi-caption shards against the embeddings computed directly.
final class MultiCaptionRetrievalTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/metrics/multicaption-retrieval.json").standardizedFileURL

    struct Case {
        var images: Tensor, texts: Tensor, imageOf: [Int]
        var expected: [String: [String: Any]], clipBenchmark: [String: Double]
        var captionsOf: [[Int]] {
            (0..<images.shape[0]).map { i in imageOf.indices.filter { imageOf[$0] == i } }
        }
    }

    func load(_ name: String) throws -> Case {
        let all = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture)) as! [String: Any]
        let c = all[name] as! [String: Any]
        func matrix(_ key: String) -> Tensor {
            let rows = c[key] as! [[Double]]
            return Tensor(shape: [rows.count, rows[0].count], scalars: rows.flatMap { $0.map(Float.init) })
        }
        return Case(images: matrix("images"), texts: matrix("texts"), imageOf: c["image_of"] as! [Int],
                    expected: ["image_to_text": c["image_to_text"] as! [String: Any], "text_to_image": c["text_to_image"] as! [String: Any]],
                    clipBenchmark: c["clip_benchmark"] as! [String: Double])
    }

    func check(_ s: RankingMetrics.Summary, _ e: [String: Any], _ name: String) {
        XCTAssertEqual(s.recallAt1, e["R@1"] as! Double, accuracy: 1e-12, name)
        XCTAssertEqual(s.recallAt5, e["R@5"] as! Double, accuracy: 1e-12, name)
        XCTAssertEqual(s.recallAt10, e["R@10"] as! Double, accuracy: 1e-12, name)
        XCTAssertEqual(s.meanRank, e["mean_rank"] as! Double, accuracy: 1e-9, name)
        XCTAssertEqual(s.medianRank, e["median_rank"] as! Double, accuracy: 1e-12, name)
    }

    func testRecallsMatchTheReferenceOnTheSameEmbeddings() throws {
        for name in ["multicaption_no_ties", "multicaption_ties"] {
            let c = try load(name)
            for block in [1, 5, 1024] {
                let r = RetrievalResult(images: c.images, texts: c.texts, captionsOf: c.captionsOf, block: block)
                XCTAssertEqual(r.count, c.images.shape[0])
                XCTAssertEqual(r.captions, c.texts.shape[0])
                check(r.imageToText, c.expected["image_to_text"]!, "\(name) image→text block \(block)")
                check(r.textToImage, c.expected["text_to_image"]!, "\(name) text→image block \(block)")
                // clip_benchmark's metric names and values: equal without ties, never above with them.
                for metric in BenchmarkResult.metrics(r) {
                    let reference = try XCTUnwrap(c.clipBenchmark[metric.name], metric.name)
                    if name == "multicaption_no_ties" {
                        XCTAssertEqual(metric.value.number!, reference, accuracy: 1e-12, "\(name) \(metric.name)")
                    } else {
                        XCTAssertLessThanOrEqual(metric.value.number!, reference + 1e-12, "\(name) \(metric.name)")
                    }
                }
                XCTAssertEqual(BenchmarkResult.metrics(r).count, c.clipBenchmark.count)
            }
        }
    }

    /// Identical caption texts scored once (as `evaluate` does) rank like one candidate per occurrence.
    func testDeduplicatedCaptionsRankLikeEveryOccurrence() throws {
        let c = try load("multicaption_ties")
        let e = c.texts.shape[1]
        var distinct: [[Float]: Int] = [:], rows: [Float] = []
        let textIndex = (0..<c.texts.shape[0]).map { m -> Int in
            let row = Array(c.texts.scalars[(m * e)..<((m + 1) * e)])
            if distinct[row] == nil { distinct[row] = distinct.count; rows += row }
            return distinct[row]!
        }
        XCTAssertLessThan(distinct.count, c.texts.shape[0], "the fixture repeats caption texts")
        let deduplicated = RetrievalResult(images: c.images, texts: Tensor(shape: [distinct.count, e], scalars: rows),
                                           captionsOf: c.captionsOf.map { $0.map { textIndex[$0] } }, block: 3)
        XCTAssertEqual(deduplicated, RetrievalResult(images: c.images, texts: c.texts, captionsOf: c.captionsOf))
    }

    /// One caption per image is the 1:1 protocol: the same result as `textOf`.
    func testOneCaptionEachIsThePairedProtocol() {
        var rng = RandomGenerator(seed: 4)
        let images = Tensor.randomNormal([7, 6], using: &rng).l2Normalized().y
        let texts = Tensor.randomNormal([7, 6], using: &rng).l2Normalized().y
        XCTAssertEqual(RetrievalResult(images: images, texts: texts, captionsOf: (0..<7).map { [$0] }),
                       RetrievalResult(images: images, texts: texts))
    }

    /// Older result files (no "captions" key) still decode; new ones carry the caption count.
    func testResultJSONKeepsTheKeysAndReadsOldFiles() throws {
        let c = try load("multicaption_no_ties")
        let r = RetrievalResult(images: c.images, texts: c.texts, captionsOf: c.captionsOf)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
        XCTAssertEqual(json["captions"] as? Int, c.texts.shape[0])
        for key in ["image_to_text", "text_to_image"] {
            XCTAssertEqual(Set((json[key] as! [String: Any]).keys), ["R@1", "R@5", "R@10", "mean_rank", "median_rank"])
        }
        var old = json
        old["captions"] = nil
        let decoded = try JSONDecoder().decode(RetrievalResult.self, from: JSONSerialization.data(withJSONObject: old))
        XCTAssertEqual(decoded.captions, decoded.count)
    }

    /// `evaluate` on a version-2 shard reads every caption of every item (blank ones left out) and
    /// scores them as `RetrievalResult` does on the embeddings computed directly.
    func testEvaluateReadsEveryCaptionOfMultiCaptionShards() throws {
        let run = try SyntheticRun(items: 8)
        defer { run.cleanup() }
        let model = CLIPModel(try ModelConfig.load(run.root.appendingPathComponent("model.json")), seed: 3)
        let size = model.visual.imageSize
        let path = run.root.appendingPathComponent("multi.h5").path
        let writer = ShardWriter(path: path)
        var captions: [[String]] = []
        for i in 0..<6 {
            let pixels = (0..<(size * size * 3)).map { UInt8(($0 * 5 + i * 47) % 256) }
            let texts = (0...(i % 3)).map { "image \(i) caption \($0)" } + (i == 4 ? ["  "] : []) + (i == 2 ? ["image 0 caption 0"] : [])
            try writer.append(ShardItem(image: .raw(RGBImage(height: size, width: size, pixels: pixels)), captions: texts))
            captions.append(texts.filter { !$0.allSatisfy(\.isWhitespace) })
        }
        try writer.finish()
        let data = try ShardDataset(path: path)
        XCTAssertTrue(data.hasMultipleCaptions)
        let tokenizer = try CLIPTokenizer.bundled()
        let encoder = ModelEncoder(model: model, workers: 1)
        let r = try RetrievalResult.evaluate(encoder: encoder, tokenizer: tokenizer, dataset: data, longCaptions: false,
                                             batchSize: 4, loaderThreads: 1)
        XCTAssertEqual(r.count, 6)
        XCTAssertEqual(r.captions, captions.joined().count)

        // The images as the evaluation loader prepares them.
        let ctx = model.config.textCfg.contextLength
        let loader = try DataLoader(dataset: data, configuration: DataLoaderConfiguration(
            batchSize: 6, imageSize: size, contextLength: ctx, augmentation: .none,
            mode: .eval, shuffle: false, threads: 1), tokenizer: { tokenizer.tokenize($0, contextLength: ctx) })
        let batch = try XCTUnwrap(try loader.next())
        let imageEmbeddings = encoder.images(Tensor(shape: [6, size, size, 3], scalars: batch.images))
        let all = Array(captions.joined())
        let textEmbeddings = encoder.texts(all, tokenizer: tokenizer)
        var next = 0
        let captionsOf = captions.map { texts -> [Int] in defer { next += texts.count }; return Array(next..<(next + texts.count)) }
        XCTAssertEqual(r, RetrievalResult(images: imageEmbeddings, texts: textEmbeddings, captionsOf: captionsOf))
    }

    /// A Karpathy JSON through `make-shards karpathy` and `evaluate --task retrieval --json` / `--suite`:
    /// every caption counted, the `--json` keys kept, clip_benchmark's metric names in the suite file.
    func testKarpathyShardsThroughTheCommands() throws {
        let run = try SyntheticRun(items: 4)
        defer { run.cleanup() }
        let root = run.root.appendingPathComponent("karpathy")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("images/val2014"), withIntermediateDirectories: true)
        var entries: [String] = [], total = 0
        for i in 0..<6 {
            let pixels = (0..<(20 * 24 * 3)).map { UInt8(($0 * 3 + i * 61) % 256) }
            let name = "COCO_val2014_\(i).jpg"
            try Data(try JPEG.encode(RGBImage(height: 20, width: 24, pixels: pixels))).write(to: root.appendingPathComponent("images/val2014/" + name))
            let sentences = (0..<(2 + i % 4)).map { "{\"raw\": \"picture \(i) sentence \($0)\"}" }
            total += sentences.count
            entries.append("{\"filepath\": \"val2014\", \"filename\": \"\(name)\", \"split\": \"test\", \"sentences\": [\(sentences.joined(separator: ", "))]}")
        }
        let json = root.appendingPathComponent("dataset_coco.json").path
        try "{\"images\": [\(entries.joined(separator: ",\n"))]}".write(toFile: json, atomically: true, encoding: .utf8)
        let shards = root.appendingPathComponent("test").path
        let made = try runCommand("make-shards", ["karpathy", "--json", json, "--images", root.appendingPathComponent("images").path,
                                                  "--split", "test", "--image-size", "16", "--output", shards, "--quiet"])
        XCTAssertEqual(made.status, 0, made.stderr)
        XCTAssertTrue(made.stdout.contains("wrote 6 items"), made.stdout)

        let hub = run.root.appendingPathComponent("hub")
        try OpenCLIPExport.write(model: CLIPModel(try ModelConfig.load(run.root.appendingPathComponent("model.json")), seed: 3),
                                 preprocess: .none, to: hub)
        let output = run.root.appendingPathComponent("retrieval.json").path
        let r = try runCommand("evaluate", ["--checkpoint", hub.path, "--task", "retrieval", "--dataset", shards, "--json", output,
                                            "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("retrieval on 6 images with \(total) captions"), r.stdout)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as! [String: Any]
        XCTAssertEqual(object["count"] as? Int, 6)
        XCTAssertEqual(object["captions"] as? Int, total)
        for key in ["image_to_text", "text_to_image"] {
            let summary = try XCTUnwrap(object[key] as? [String: Any], key)
            for metric in ["R@1", "R@5", "R@10"] { XCTAssertNotNil(summary[metric] as? Double, "\(key) \(metric)") }
        }
        // R@10 with 6 images: every caption finds its image (text→image), every image a caption.
        XCTAssertEqual((object["text_to_image"] as! [String: Any])["R@10"] as? Double, 1)

        let suite = run.root.appendingPathComponent("coco.yaml").path
        try "tasks:\n  - {task: retrieval, name: coco, dataset: \(shards)}\n".write(toFile: suite, atomically: true, encoding: .utf8)
        let results = run.root.appendingPathComponent("results").path
        let s = try runCommand("evaluate", ["--checkpoint", hub.path, "--suite", suite, "--output-dir", results, "--threads", "1"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let file = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: results).first)
        let benchmark = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: results).appendingPathComponent(file))) as! [String: Any]
        let metrics = try XCTUnwrap(benchmark["metrics"] as? [String: Double])
        let t2i = object["text_to_image"] as! [String: Any], i2t = object["image_to_text"] as! [String: Any]
        for k in [1, 5, 10] {
            XCTAssertEqual(metrics["image_retrieval_recall@\(k)"], t2i["R@\(k)"] as? Double)
            XCTAssertEqual(metrics["text_retrieval_recall@\(k)"], i2t["R@\(k)"] as? Double)
        }
    }
}
