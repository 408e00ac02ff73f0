import DataPipeline
import Foundation
import SwiftCLIP
import XCTest
@testable import Training

/// `report.html`: its content against the records it was made from (config, separate series per
/// evaluated subset, confusion cells counted here by hand), its axes, and a real run's report
/// rendered by headless Chromium, whose screenshot must show plots, tables and text.
final class ReportTests: XCTestCase {
    func testAxisTicksAreRoundAndCoverTheData() {
        let lr = ChartAxis(1.5e-4, 9e-4)
        XCTAssertEqual(lr.step, 2e-4, accuracy: 1e-12)
        XCTAssertEqual(lr.ticks.count, 6)
        for (t, want) in zip(lr.ticks, [0, 2e-4, 4e-4, 6e-4, 8e-4, 1e-3]) { XCTAssertEqual(t, want, accuracy: 1e-12) }
        XCTAssertEqual(lr.ticks.map(lr.label), ["0", "2e-4", "4e-4", "6e-4", "8e-4", "1e-3"])
        let loss = ChartAxis(3.9057, 4.1912)
        XCTAssertEqual(loss.step, 0.05, accuracy: 1e-12)
        XCTAssertEqual(loss.ticks.map(loss.label), ["3.90", "3.95", "4.00", "4.05", "4.10", "4.15", "4.20"])
        let steps = ChartAxis(5, 30_000, count: 6)
        XCTAssertEqual(steps.ticks.map(steps.label), ["0", "5\u{2009}000", "10\u{2009}000", "15\u{2009}000", "20\u{2009}000", "25\u{2009}000", "30\u{2009}000"])
        let flat = ChartAxis(14.2857, 14.2857)   // a constant series gets a range around it
        XCTAssertLessThan(flat.lower, 14.2857); XCTAssertGreaterThan(flat.upper, 14.2857)
        let accuracy = ChartAxis(15.67, 83.73, includeZero: true)
        XCTAssertEqual([accuracy.lower, accuracy.upper, accuracy.step], [0, 100, 20])
    }

    static func record(_ step: Int, loss: Double?, nonfinite: String? = nil) -> StepRecord {
        StepRecord(step: step, loss: loss, lr: 1e-3 * Double(step), logitMultiplier: 14.3, imagesPerSecond: 400, dataWaitShare: 0.02,
                   elapsedSeconds: Double(step), trainingSeconds: Double(step), nonfinite: nonfinite, dataTime: 0.001, batchTime: 0.15, samplesPerSecond: 420)
    }

    func testReportShowsConfigMachineSeparateSubsetsPerClassAndTheEvaluationsConfusionCounts() throws {
        // 3 classes; each row of logits predicts the class with the largest logit, chosen here.
        let classes = ["cat", "dog & <bird>", "fish"]
        let truth = [0, 0, 0, 1, 1, 2, 2, 2, 2], predicted = [0, 0, 2, 1, 0, 2, 2, 1, 2]
        var result = ZeroShotResult(classnames: classes)
        var logits = [Float](repeating: 0, count: truth.count * 3)
        for (i, p) in predicted.enumerated() { logits[i * 3 + p] = 1 }
        result.add(logits: Tensor(shape: [truth.count, 3], scalars: logits), labels: truth)
        var counts = Array(repeating: Array(repeating: 0, count: 3), count: 3)
        for (t, p) in zip(truth, predicted) { counts[t][p] += 1 }

        let machine = MachineSummary(host: "node7", cpuModel: "AMD EPYC 9R14", logicalCores: 2, operatingSystem: "Linux", openBLASCore: "Cooperlake",
                                     cpuISA: "avx512_core_bf16", bf16: "bf16 GEMMs run natively", precision: "bf16", ranks: 2, workers: 3)
        let report = TrainingReport(
            runName: "demo", configYAML: "run:\n  name: demo\ndata:\n  train: a<b>&c\n", machine: machine, totalSteps: 20,
            steps: [Self.record(5, loss: 4.2), Self.record(7, loss: nil, nonfinite: "loss"), Self.record(10, loss: 3.9)],
            evals: [EvalRecord(step: 5, zeroshotTop1: 0.25, zeroshotTop5: 0.5, images: 300),
                    EvalRecord(step: 10, zeroshotTop1: 0.5, zeroshotTop5: 0.75, images: 300),
                    EvalRecord(step: 10, zeroshotTop1: 0.6, zeroshotTop5: 0.9, images: 9)],
            events: [EventRecord(kind: "stop", step: 10, reason: "signal", message: "stop requested (signal)")],
            zeroShot: .init(step: 10, dataset: "Datasets/test", result: result), skippedSteps: 1,
            skippedItems: ["shard-00000.h5 item 3: cannot decode the JPEG"])
        let html = report.html()

        XCTAssertTrue(html.contains("<pre class=\"config\">run:\n  name: demo\ndata:\n  train: a&lt;b&gt;&amp;c\n</pre>"))
        for text in ["AMD EPYC 9R14, 2 logical cores", "OpenBLAS Cooperlake; oneDNN ISA avx512_core_bf16", "2 ranks × 3 workers per rank",
                     "stopped (signal)", "10 / 20", "shard-00000.h5 item 3: cannot decode the JPEG", "dog &amp; &lt;bird&gt;"] {
            XCTAssertTrue(html.contains(text), text)
        }
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http"), "no network resource")
        // One line per subset and metric, never one line through both subsets.
        let series = matches(#"data-series="([^"]*)" [^>]*points="([^"]*)""#, in: html)
        let evalSeries = Dictionary(uniqueKeysWithValues: series.filter { $0[0].contains("images") }.map { ($0[0], $0[1].split(separator: " ").count) })
        XCTAssertEqual(evalSeries, ["top-1, 300 images": 2, "top-5, 300 images": 2, "top-1, 9 images": 1, "top-5, 9 images": 1])
        // The non-finite step has no loss point but is marked; the loss line has the two finite steps.
        XCTAssertEqual(series.first { $0[0] == "loss" }?[1].split(separator: " ").count, 2)
        XCTAssertTrue(html.contains("skipped step"))
        // Every confusion cell holds the count of (true, predicted) pairs.
        let cells = matches(#"data-true="(\d+)" data-predicted="(\d+)"[^>]*>(\d+)<"#, in: html)
        XCTAssertEqual(cells.count, 9)
        for c in cells { XCTAssertEqual(Int(c[2]), counts[Int(c[0])!][Int(c[1])!], "cell \(c[0]),\(c[1])") }
        // Per class: images, correct and accuracy from the same counts.
        XCTAssertTrue(html.contains("<td class=\"l\">fish</td><td>4</td><td>3</td><td>75.0 %</td>"))
        let recalls: [Double] = [2.0 / 3, 1.0 / 2, 3.0 / 4]
        let meanRecall = 100 * recalls.reduce(0, +) / 3
        XCTAssertTrue(html.contains("mean per-class recall " + String(format: "%.2f %%", meanRecall)))
    }

    func matches(_ pattern: String, in text: String) -> [[String]] {
        let regex = try! NSRegularExpression(pattern: pattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { m in
            (1..<m.numberOfRanges).map { String(text[Range(m.range(at: $0), in: text)!]) }
        }
    }
}
