import DataPipeline
import Foundation
import SwiftCLIP
import XCTest

/// `evaluate --suite FILE.yaml` (issue 23.3): strict reading (one-line errors naming the key),
/// clip_benchmark's result layout and metric names, and a suite end to end through the command.
final class EvaluationSuiteTests: XCTestCase {
    var run: SyntheticRun!
    var labelled: String!
    override func setUpWithError() throws {
        run = try SyntheticRun(items: 8)
        labelled = run.root.appendingPathComponent("labelled.h5").path
        let writer = ShardWriter(path: labelled, classnames: SyntheticRun.colors.map(\.0))
        for i in 0..<24 {
            let (color, rgb) = SyntheticRun.colors[i % 4]
            let pixels = (0..<(16 * 16 * 3)).map { p in UInt8(clamping: Int(rgb[p % 3]) - (p * 5 + i * 11) % 50) }
            try writer.append(ShardItem(image: .raw(RGBImage(height: 16, width: 16, pixels: pixels)), caption: "a \(color) thing number \(i).",
                                        label: i % 4))
        }
        _ = try writer.finish()
    }
    override func tearDown() { run.cleanup() }

    func parse(_ yaml: String) throws -> EvaluationSuite { try EvaluationSuite.parse(yaml, file: "suite.yaml") }

    func testReadsEveryTaskKind() throws {
        let templates = run.root.appendingPathComponent("t.txt").path
        try "a photo of a {}.\n".write(toFile: templates, atomically: true, encoding: .utf8)
        let s = try parse("""
        tasks:
          - {task: zeroshot, dataset: \(labelled!), templates: \(templates), limit: 10}
          - {task: retrieval, name: pairs, dataset: [\(labelled!)], long_captions: false}
          - task: linear-probe
            name: colours
            train_dataset: \(labelled!)
            dataset: \(labelled!)
            validation_proportion: 0.25
            seed: 3
            train_limit: 20
        """)
        XCTAssertEqual(s.tasks.map(\.kind), [.zeroshot, .retrieval, .linearProbe])
        XCTAssertEqual(s.tasks.map(\.kind.benchmarkName), ["zeroshot_classification", "zeroshot_retrieval", "linear_probe"])
        XCTAssertEqual(s.tasks[0].name, run.root.lastPathComponent + "/labelled.h5")
        XCTAssertEqual(s.tasks[0].limit, 10)
        XCTAssertEqual(s.tasks[0].templates, templates)
        XCTAssertEqual(s.tasks[1].name, "pairs")
        XCTAssertEqual(s.tasks[2].trainDataset, [labelled])
        XCTAssertEqual(s.tasks[2].probe.validationProportion, 0.25)
        XCTAssertEqual(s.tasks[2].probe.seed, 3)
        XCTAssertEqual(s.tasks[2].probe.trainLimit, 20)
    }

    /// Every suite shipped in Configs/suites reads (keys and types; its datasets are checked when they exist here).
    func testShippedSuitesRead() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
        let dir = root.appendingPathComponent("Configs/suites")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertFalse(files.isEmpty)
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            let suite = try EvaluationSuite.parse(text, file: f, checkFiles: false)
            XCTAssertEqual(Set(suite.tasks.map(\.kind)), Set(EvaluationSuite.Kind.allCases), "\(f): every kind of task")
            for task in suite.tasks {
                for path in task.dataset + task.trainDataset + [task.templates, task.classnames].compactMap({ $0 })
                    where !path.hasPrefix("Datasets/") {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path), "\(f): \(path)")
                }
            }
        }
    }

    /// Each mistake is one line naming the file and the key.
    func testMistakesNameTheKey() throws {
        let missing = run.root.appendingPathComponent("nope").path
        let cases: [(String, [String])] = [
            ("tasks: []", ["suite.yaml: tasks: empty"]),
            ("", ["suite.yaml", "empty file"]),
            ("taks: []", ["suite.yaml: taks: unknown key", "tasks"]),
            ("tasks: {task: zeroshot}", ["suite.yaml: tasks: expected a list"]),
            ("tasks:\n  - {task: zero-shot, dataset: \(labelled!)}", ["tasks[0].task: unknown task \"zero-shot\"", "zeroshot, retrieval, linear-probe"]),
            ("tasks:\n  - {dataset: \(labelled!)}", ["tasks[0].task: missing required key"]),
            ("tasks:\n  - {task: zeroshot}", ["tasks[0].dataset: missing required key"]),
            ("tasks:\n  - {task: zeroshot, dataset: \(labelled!)}\n  - {task: retrieval, dataset: \(missing)}",
             ["tasks[1].dataset: no such file or folder: \(missing)"]),
            ("tasks:\n  - {task: linear-probe, dataset: \(labelled!)}", ["tasks[0].train_dataset: missing required key"]),
            ("tasks:\n  - {task: linear-probe, dataset: \(labelled!), train_dataset: \(missing)}", ["tasks[0].train_dataset: no such file or folder"]),
            ("tasks:\n  - {task: retrieval, dataset: \(labelled!), templates: x.txt}", ["tasks[0].templates: unknown key for task retrieval"]),
            ("tasks:\n  - {task: zeroshot, dataset: \(labelled!), templates: \(missing)}", ["tasks[0].templates: no such file: \(missing)"]),
            ("tasks:\n  - {task: zeroshot, dataset: \(labelled!), limit: abc}", ["tasks[0].limit: expected an integer, got \"abc\""]),
            ("tasks:\n  - {task: zeroshot, dataset: \(labelled!), limit: 0}", ["tasks[0].limit: must be at least 1, got 0"]),
            ("tasks:\n  - {task: zeroshot, dataset: null}", ["tasks[0].dataset: expected a string, got null"]),
            ("tasks:\n  - {task: linear-probe, dataset: \(labelled!), train_dataset: \(labelled!), validation_proportion: 1}",
             ["tasks[0].validation_proportion: must lie strictly between 0 and 1"]),
            ("tasks:\n  - {task: zeroshot, dataset: \(labelled!), dataset: \(labelled!)}", ["tasks[0].dataset: duplicate key"]),
            ("tasks:\n  - {task: zeroshot, dataset: \(labelled!)}\n  - {task: zeroshot, dataset: \(labelled!)}",
             ["tasks[1]: repeats tasks[0]", "name"]),
            ("tasks:\n  - zeroshot", ["tasks[0]: expected a mapping"]),
            ("tasks: [", ["suite.yaml: not valid YAML"]),
        ]
        for (yaml, parts) in cases {
            XCTAssertThrowsError(try parse(yaml), yaml) { error in
                let text = String(describing: error)
                XCTAssertTrue(error is ConfigError, "\(yaml): \(text)")
                XCTAssertFalse(text.contains("\n"), "one line: \(text)")
                for part in parts { XCTAssertTrue(text.contains(part), "'\(text)' should contain '\(part)'") }
            }
        }
    }

    func testResultLayoutIsClipBenchmarks() throws {
        var zs = ZeroShotResult(classnames: ["a", "b", "c"])
        zs.add(logits: Tensor(shape: [3, 3], scalars: [3, 1, 0, 0, 1, 3, 0, 0, 1]), labels: [0, 1, 2])
        let result = BenchmarkResult(dataset: "cifar/10", model: "vit-fashion", pretrained: "runs/x/checkpoints/latest",
                                     task: "zeroshot_classification", metrics: BenchmarkResult.metrics(zs))
        let text = String(decoding: try result.json(), as: UTF8.self)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        XCTAssertEqual(Set(object.keys), ["dataset", "model", "pretrained", "task", "metrics", "language"])
        let metrics = object["metrics"] as! [String: Any]
        XCTAssertEqual(metrics["acc1"] as? Double ?? -1, 2.0 / 3, accuracy: 1e-12)
        XCTAssertTrue(metrics["acc5"] is NSNull, "fewer than 5 classes: no top-5 (clip_benchmark: NaN)")
        XCTAssertEqual(metrics["mean_per_class_recall"] as? Double ?? -1, 2.0 / 3, accuracy: 1e-12)
        let order = ["\"dataset\"", "\"model\"", "\"pretrained\"", "\"task\"", "\"metrics\"", "\"language\""].map { text.range(of: $0)!.lowerBound }
        XCTAssertEqual(order, order.sorted(), "clip_benchmark's key order")
        XCTAssertEqual(result.fileName, "cifar_10_latest_vit-fashion_en_zeroshot_classification.json")

        // Retrieval: a text finds its image = image retrieval (our text→image); an image finds its text = text retrieval.
        var rng = RandomGenerator(seed: 1)
        let images = Tensor.randomNormal([12, 4], using: &rng).l2Normalized().y
        let texts = Tensor.randomNormal([12, 4], using: &rng).l2Normalized().y
        let r = RetrievalResult(images: images, texts: texts)
        let m = BenchmarkResult.metrics(r)
        XCTAssertEqual(m.map(\.name), ["image_retrieval_recall@1", "text_retrieval_recall@1", "image_retrieval_recall@5",
                                       "text_retrieval_recall@5", "image_retrieval_recall@10", "text_retrieval_recall@10"])
        let b = BenchmarkResult(dataset: "d", model: "m", pretrained: "p", task: "zeroshot_retrieval", metrics: m)
        XCTAssertEqual(b["image_retrieval_recall@5"], .number(r.textToImage.recallAt5))
        XCTAssertEqual(b["text_retrieval_recall@5"], .number(r.imageToText.recallAt5))
    }

    /// A suite of all three tasks through `evaluate --suite`: the model loaded once, one table, one
    /// clip_benchmark JSON per task; a bad suite is refused before the model loads.
    func testSuiteRunsEndToEnd() throws {
        let hub = run.root.appendingPathComponent("hub")
        try OpenCLIPExport.write(model: CLIPModel(try ModelConfig.load(run.root.appendingPathComponent("model.json")), seed: 3),
                                 preprocess: .none, to: hub)
        let suite = run.root.appendingPathComponent("colours.yaml").path
        try """
        tasks:
          - {task: zeroshot, name: colours, dataset: \(labelled!)}
          - {task: retrieval, name: colours, dataset: \(labelled!)}
          - {task: linear-probe, name: colours, train_dataset: \(labelled!), dataset: \(labelled!), validation_proportion: 0.25}
        """.write(toFile: suite, atomically: true, encoding: .utf8)
        let out = run.root.appendingPathComponent("results").path
        let r = try runCommand("evaluate", ["--checkpoint", hub.path, "--suite", suite, "--output-dir", out, "--threads", "2",
                                            "--model-name", "tiny"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for task in ["zeroshot_classification", "zeroshot_retrieval", "linear_probe"] {
            XCTAssertEqual(r.stdout.components(separatedBy: task).count - 1, 1, "one table row for \(task): \(r.stdout)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(files, ["colours_hub_tiny_en_linear_probe.json", "colours_hub_tiny_en_zeroshot_classification.json",
                               "colours_hub_tiny_en_zeroshot_retrieval.json"])
        let expected: [String: [String]] = [
            "zeroshot_classification": ["acc1", "acc5", "mean_per_class_recall"],
            "zeroshot_retrieval": ["image_retrieval_recall@1", "image_retrieval_recall@5", "image_retrieval_recall@10",
                                   "text_retrieval_recall@1", "text_retrieval_recall@5", "text_retrieval_recall@10"],
            "linear_probe": ["lp_acc1", "lp_acc5", "lp_mean_per_class_recall", "lambda", "seed", "fewshot_k", "normalized"],
        ]
        for file in files {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out).appendingPathComponent(file))) as! [String: Any]
            XCTAssertEqual(object["dataset"] as? String, "colours")
            XCTAssertEqual(object["model"] as? String, "tiny")
            XCTAssertEqual(object["pretrained"] as? String, hub.path)
            let task = object["task"] as! String
            XCTAssertEqual(Set((object["metrics"] as! [String: Any]).keys), Set(expected[task]!), task)
        }

        // A suite mistake is reported before the checkpoint (missing here) is looked at; nothing is written.
        let bad = run.root.appendingPathComponent("bad.yaml").path
        try "tasks:\n  - {task: zeroshot, dataset: \(labelled!)}\n  - {task: probe, dataset: \(labelled!)}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let badOut = run.root.appendingPathComponent("bad-results").path
        let refused = try runCommand("evaluate", ["--checkpoint", run.root.appendingPathComponent("missing").path, "--suite", bad,
                                                  "--output-dir", badOut])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.hasPrefix("evaluate: error: \(bad): tasks[1].task: unknown task \"probe\""), refused.stderr)
        XCTAssertEqual(refused.stderr.filter { $0 == "\n" }.count, 1, refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badOut))

        // A task whose data cannot serve it (here: zero-shot on a shard without labels) is named before any task runs.
        let unlabelled = run.root.appendingPathComponent("data/shard-00000.h5").path
        try "tasks:\n  - {task: retrieval, dataset: \(labelled!)}\n  - {task: zeroshot, dataset: \(unlabelled)}\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let late = try runCommand("evaluate", ["--checkpoint", hub.path, "--suite", bad, "--output-dir", badOut])
        XCTAssertEqual(late.status, 1)
        XCTAssertTrue(late.stderr.contains("tasks[1] (zeroshot on data/shard-00000.h5): no /labels"), late.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badOut))

        for extra in [["--task", "zeroshot"], ["--dataset", labelled!], ["--json", out + "/x.json"], ["--limit", "5"]] {
            let usage = try runCommand("evaluate", ["--checkpoint", hub.path, "--suite", suite] + extra)
            XCTAssertEqual(usage.status, 64, "\(extra): \(usage.stderr)")
        }
    }
}
