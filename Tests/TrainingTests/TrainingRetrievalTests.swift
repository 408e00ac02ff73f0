import DataPipeline
import Foundation
import SwiftCLIP
import XCTest
@testable import Training

/// `eval.retrieval`: image↔text retrieval during training. The oracle for the numbers is
/// `evaluate --task retrieval` run as a separate process on the checkpoint of the same step; the
/// TensorBoard tag names are OpenCLIP's (`get_clip_metrics` in open_clip_train/train.py, spelled out
/// here); the report's table is checked against those same numbers, formatted here.
final class TrainingRetrievalTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun(items: 32) }
    override func tearDown() { run.cleanup() }

    var runFolder: URL { run.root.appendingPathComponent("runs/test") }
    var retrievalShard: String { run.root.appendingPathComponent("retrieval.h5").path }

    /// Ten 16×16 images of the synthetic run's colours and shapes, with one to three captions each
    /// (a multi-caption shard, as COCO's five per image).
    func writeRetrievalShard(broken: Bool = false) throws {
        let writer = ShardWriter(path: retrievalShard)
        for i in 0..<10 {
            let (color, rgb) = SyntheticRun.colors[(i * 3) % SyntheticRun.colors.count]
            let shape = SyntheticRun.shapes[i % SyntheticRun.shapes.count]
            var pixels = [UInt8](repeating: 0, count: 16 * 16 * 3)
            for y in 0..<16 { for x in 0..<16 {
                let on = shape == "square" ? (x > 2 + i % 3 && x < 12 && y > 3 && y < 13 - i % 2) : ((y + i) % 4 < 2)
                for c in 0..<3 { pixels[(y * 16 + x) * 3 + c] = on ? rgb[c] : UInt8((x * 7 + i * 13) % 30) }
            } }
            let captions = ["a \(color) \(shape).", "a photo of a \(color) \(shape).", "\(shape), \(color), number \(i)."]
            let image: ShardImage = broken ? .jpeg([0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3]) : .raw(RGBImage(height: 16, width: 16, pixels: pixels))
            try writer.append(ShardItem(image: image, captions: Array(captions.prefix(1 + i % 3))))
        }
        _ = try writer.finish()
    }

    func yaml(steps: Int = 4, limit: String = "6") -> String {
        run.yaml(steps: steps, every: 2, extra: "eval: {retrieval: {dataset: \(retrievalShard), every_steps: 2, limit: \(limit)}}")
    }

    func metricsLines() throws -> [[String: Any]] {
        let text = try String(contentsOf: runFolder.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
        }
    }

    /// `evaluate --task retrieval --json` on the checkpoint of `step`, as a separate process.
    func evaluateCheckpoint(step: Int, limit: Int?) throws -> [String: Any] {
        let checkpoint = runFolder.appendingPathComponent(String(format: "checkpoints/step-%08d", step)).path
        let output = run.root.appendingPathComponent("evaluate-\(step).json").path
        let r = try runCommand("evaluate", ["--checkpoint", checkpoint, "--task", "retrieval", "--dataset", retrievalShard,
                                            "--json", output, "--threads", "1"] + (limit.map { ["--limit", "\($0)"] } ?? []))
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
    }

    /// OpenCLIP's retrieval metric names, as `get_clip_metrics` builds them (f"{name}_R@{k}", …).
    static let openCLIPNames = ["image_to_text", "text_to_image"].flatMap { d in
        ["R@1", "R@5", "R@10", "mean_rank", "median_rank"].map { "\(d)_\($0)" }
    }

    func testInTrainingRetrievalEqualsEvaluateOnTheCheckpointOfThatStep() throws {
        try writeRetrievalShard()
        let trainer = try Trainer(config: try run.config(yaml()), log: { _ in })
        var seen: [Int] = []
        trainer.onRetrieval = { seen.append($0.step) }
        _ = try trainer.run()
        XCTAssertEqual(seen, [2, 4])

        // Periodic at step 2 on the first 6 items (limit), final at step 4 on all 10; the eval records are untouched.
        let lines = try metricsLines()
        XCTAssertFalse(lines.contains { $0["kind"] as? String == "eval" || $0["kind"] as? String == "eval_failed" }, "\(lines)")
        let records = lines.filter { $0["kind"] as? String == "retrieval" }
        XCTAssertEqual(records.map { $0["step"] as? Int }, [2, 4])
        XCTAssertEqual(records.map { $0["subset"] as? Bool }, [true, false])
        let events = try readTensorBoard()
        let html = try String(contentsOf: runFolder.appendingPathComponent("report.html"), encoding: .utf8)
        for (record, limit) in zip(records, [6, nil]) {
            let step = record["step"] as! Int
            let expected = try evaluateCheckpoint(step: step, limit: limit)
            XCTAssertEqual(record["images"] as? Int, expected["count"] as? Int)
            XCTAssertEqual(record["captions"] as? Int, expected["captions"] as? Int)
            XCTAssertEqual(record["images"] as? Int, limit ?? 10)
            XCTAssertEqual(record["captions"] as? Int, limit == nil ? 1 + 2 + 3 + 1 + 2 + 3 + 1 + 2 + 3 + 1 : 1 + 2 + 3 + 1 + 2 + 3)
            var row = "<tr><td>\(step)</td><td>\(limit ?? 10)</td><td>\(record["captions"] as! Int)</td>"
            for direction in ["image_to_text", "text_to_image"] {
                let got = try XCTUnwrap(record[direction] as? [String: Double], direction)
                let want = try XCTUnwrap(expected[direction] as? [String: Double], direction)
                XCTAssertEqual(got, want, "step \(step) \(direction): training \(got), evaluate \(want)")
                for metric in ["R@1", "R@5", "R@10", "mean_rank", "median_rank"] {
                    let tag = (limit == nil ? "val/" : "val/n\(limit!)-") + "\(direction)_\(metric)"
                    XCTAssertEqual(events[tag]?[Int64(step)], [Float(want[metric]!)], tag)
                }
                row += ["R@1", "R@5", "R@10"].map { String(format: "<td>%.2f %%</td>", 100 * want[$0]!) }.joined()
                    + String(format: "<td>%g</td>", want["median_rank"]!)
            }
            XCTAssertTrue(html.contains(row + "</tr>"), "report row \(row)")
        }
        // Exactly OpenCLIP's names for the whole dataset, the same with the image count for the subset, nothing else.
        XCTAssertEqual(Set(events.keys.filter { $0.hasPrefix("val/") }),
                       Set(Self.openCLIPNames.map { "val/" + $0 } + Self.openCLIPNames.map { "val/n6-" + $0 }))
    }

    /// Scalars by tag and step over every event file of the run folder.
    func readTensorBoard() throws -> [String: [Int64: [Float]]] {
        var result: [String: [Int64: [Float]]] = [:]
        for file in try TensorBoardLog.files(in: runFolder) {
            for e in try TensorBoardLog.events(in: file) {
                if case .scalars(let s) = e.content { for v in s { result[v.tag, default: [:]][e.step, default: []].append(v.value) } }
            }
        }
        return result
    }

    func testResumeKeepsEarlierRetrievalRecordsOnceAndTheLimitMayChange() throws {
        try writeRetrievalShard()
        _ = try Trainer(config: try run.config(yaml()), log: { _ in }).run()
        let before = try metricsLines().filter { $0["kind"] as? String == "retrieval" }
        // Resume at step 2 with another limit (allowed without --allow-config-change, as eval.zeroshot's).
        let checkpoint = runFolder.appendingPathComponent("checkpoints/step-00000002").path
        let trainer = try Trainer(config: try run.config(yaml(limit: "3")), resume: checkpoint, log: { _ in })
        XCTAssertEqual(trainer.metrics.retrievals.map(\.step), [2], "the step-2 record survives, the lost run's step 4 does not")
        XCTAssertEqual(try metricsLines().filter { $0["kind"] as? String == "retrieval" }.map { $0["step"] as? Int }, [2])
        _ = try trainer.run()
        let after = try metricsLines().filter { $0["kind"] as? String == "retrieval" }
        XCTAssertEqual(after.map { $0["step"] as? Int }, [2, 4])
        XCTAssertEqual(after[0] as NSDictionary, before[0] as NSDictionary)
        XCTAssertEqual(after[1]["images"] as? Int, 10)
        XCTAssertEqual(try readTensorBoard()["val/image_to_text_R@1"]?.mapValues(\.count), [4: 1], "step 4 logged once")
    }

    func testAFailingRetrievalEvaluationIsRecordedAndTrainingGoesOn() throws {
        try writeRetrievalShard(broken: true)   // no image decodes: nothing to evaluate
        let log = LogLines()
        let summary = try Trainer(config: try run.config(yaml()), log: log.append).run()
        XCTAssertEqual(summary.finalStep, 4)
        for step in [2, 4] { XCTAssertNoThrow(try run.modelBytes(step: step), "checkpoint of step \(step)") }
        let lines = try metricsLines()
        let failures = lines.filter { $0["kind"] as? String == "eval_failed" }
        XCTAssertEqual(failures.map { $0["step"] as? Int }, [2, 4], "\(failures)")
        XCTAssertTrue(failures.allSatisfy { ($0["message"] as? String ?? "").contains("eval.retrieval.dataset: \(retrievalShard)") }, "\(failures)")
        XCTAssertFalse(lines.contains { $0["kind"] as? String == "retrieval" })
        XCTAssertTrue(log.text.contains("retrieval evaluation failed"), log.text)
        XCTAssertEqual(lines.last?["reason"] as? String, "completed")
    }

    func testConfigErrorsAreOneLineNamingTheKey() throws {
        try writeRetrievalShard()
        let cases: [(String, [String], String)] = [
            (yaml(), ["eval.retrieval.limit=0"], "eval.retrieval.limit: must be at least 1"),
            (yaml(), ["eval.retrieval.limit=many"], "eval.retrieval.limit: expected an integer"),
            (yaml(), ["eval.retrieval.every_steps=0"], "eval.retrieval.every_steps: must be positive"),
            (yaml(), ["eval.retrieval.dataset=null"], "eval.retrieval.dataset: needs a value"),
            (yaml(), ["eval.retrieval.dataset=/nonexistent/retrieval"], "eval.retrieval.dataset: not found: /nonexistent/retrieval"),
            (yaml().replacingOccurrences(of: "limit:", with: "limt:"), [], "eval.retrieval"),
        ]
        for (text, overrides, expected) in cases {
            var message = "no error"
            do { _ = try run.config(text, overrides: overrides) } catch { message = String(describing: error) }
            XCTAssertTrue(message.contains(expected), "expected «\(expected)» in «\(message)»")
            XCTAssertFalse(message.contains("\n"), message)
        }
        var message = ""
        do { _ = try run.config(yaml().replacingOccurrences(of: "limit:", with: "limt:")) } catch { message = "\(error)" }
        XCTAssertTrue(message.contains("limt"), message)
    }

    /// The report draws one line per subset, direction and k, and tabulates every evaluation.
    func testReportSeparatesSubsetsAndTabulatesRecalls() {
        func summary(_ r1: Double, _ r5: Double, _ r10: Double, median: Double) -> RankingMetrics.Summary {
            let json = "{\"R@1\": \(r1), \"R@5\": \(r5), \"R@10\": \(r10), \"mean_rank\": 3.5, \"median_rank\": \(median)}"
            return try! JSONDecoder().decode(RankingMetrics.Summary.self, from: Data(json.utf8))
        }
        func record(_ step: Int, images: Int, subset: Bool, _ r1: Double) -> RetrievalRecord {
            var r = RetrievalRecord(step: step, result: .init(images: Tensor(shape: [1, 2], scalars: [1, 0]), texts: Tensor(shape: [1, 2], scalars: [1, 0])),
                                    subset: subset)
            (r.images, r.captions) = (images, images * 5)
            (r.imageToText, r.textToImage) = (summary(r1, 0.5, 0.75, median: 2), summary(r1 / 2, 0.25, 0.625, median: 4))
            return r
        }
        let machine = MachineSummary(host: "h", cpuModel: "cpu", logicalCores: 2, operatingSystem: "Linux", openBLASCore: "Zen",
                                     cpuISA: "avx2", bf16: "no", precision: "fp32", ranks: 1, workers: 1)
        let report = TrainingReport(runName: "r", configYAML: "", machine: machine, totalSteps: 6, steps: [], evals: [],
                                    retrievals: [record(2, images: 200, subset: true, 0.125), record(4, images: 200, subset: true, 0.25),
                                                 record(6, images: 1000, subset: false, 0.375)],
                                    events: [], zeroShot: nil, skippedSteps: 0, skippedItems: [])
        let html = report.html()
        let regex = try! NSRegularExpression(pattern: #"data-series="([^"]*)" [^>]*points="([^"]*)""#)
        var points: [String: Int] = [:]
        for m in regex.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
            let name = String(html[Range(m.range(at: 1), in: html)!]), list = String(html[Range(m.range(at: 2), in: html)!])
            points[name] = list.split(separator: " ").count
        }
        var expected: [String: Int] = [:]
        for direction in ["image→text", "text→image"] { for k in ["R@1", "R@5", "R@10"] {
            expected["\(direction) \(k), 200 images"] = 2
            expected["\(direction) \(k), 1000 images"] = 1
        } }
        XCTAssertEqual(points, expected)
        XCTAssertTrue(html.contains("<tr><td>6</td><td>1000</td><td>5000</td><td>37.50 %</td><td>50.00 %</td><td>75.00 %</td><td>2</td>"
                                    + "<td>18.75 %</td><td>25.00 %</td><td>62.50 %</td><td>4</td></tr>"), html)
        XCTAssertTrue(html.contains("37.50 / 18.75 %"), "the summary card of the last evaluation")
        XCTAssertTrue(html.contains("stroke-dasharray=\"1.5 3\""), "R@10 dotted")
    }
}
