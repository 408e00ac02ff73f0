import DataPipeline
import Foundation
import SwiftCLIP
import XCTest
@testable import Evaluation

/// The linear probe (issue 23.2): the L2-regularized multinomial logistic regression against its
/// optimality conditions (closed-form gradient and finite differences, computed here in fp64) and
/// against scikit-learn (a fixture from Scripts/make-linear-probe-fixture.py); CLIP's λ search;
/// the deterministic split; one-line refusals of bad input; the command end to end.
final class LinearProbeTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/metrics/linear-probe.json").standardizedFileURL

    // MARK: - An independent fp64 oracle of the objective

    /// J/n = mean cross-entropy + λ/(2n)·‖W‖², straight from the definition (no BLAS, fp64).
    static func objective(_ w: [Double], _ b: [Double], x: [[Double]], y: [Int], lambda: Double) -> Double {
        let c = b.count, d = x[0].count
        var loss = 0.0
        for (i, row) in x.enumerated() {
            let z = (0..<c).map { k in b[k] + (0..<d).reduce(0.0) { $0 + w[k * d + $1] * row[$1] } }
            let top = z.max()!
            loss += top + log(z.reduce(0.0) { $0 + exp($1 - top) }) - z[y[i]]
        }
        return loss / Double(x.count) + lambda / (2 * Double(x.count)) * w.reduce(0) { $0 + $1 * $1 }
    }

    /// ∇(J/n) from its closed form: ((P − Y)ᵀX + λW)/n and Σ(P − Y)/n.
    static func gradient(_ w: [Double], _ b: [Double], x: [[Double]], y: [Int], lambda: Double) -> [Double] {
        let c = b.count, d = x[0].count, n = Double(x.count)
        var g = w.map { lambda * $0 / n } + Array(repeating: 0.0, count: c)
        for (i, row) in x.enumerated() {
            let z = (0..<c).map { k in b[k] + (0..<d).reduce(0.0) { $0 + w[k * d + $1] * row[$1] } }
            let top = z.max()!
            let e = z.map { exp($0 - top) }, s = e.reduce(0, +)
            for k in 0..<c {
                let r = (e[k] / s - (k == y[i] ? 1 : 0)) / n
                for j in 0..<d { g[k * d + j] += r * row[j] }
                g[c * d + k] += r
            }
        }
        return g
    }

    func tensor(_ rows: [[Double]]) -> Tensor {
        Tensor(shape: [rows.count, rows[0].count], scalars: rows.flatMap { $0.map(Float.init) })
    }

    /// Gaussian blobs around `classes` random centres, rows L2-normalized and exactly representable in fp32.
    func blobs(classes: Int, perClass: Int, dimension: Int, spread: Double, seed: UInt64) -> (x: [[Double]], y: [Int]) {
        var rng = RandomGenerator(seed: seed)
        func normal() -> Double {
            let u = Double(rng.next() >> 11) / Double(1 << 53), v = Double(rng.next() >> 11) / Double(1 << 53)
            return (-2 * log(max(u, 1e-300))).squareRoot() * cos(2 * .pi * v)
        }
        let centres = (0..<classes).map { _ in (0..<dimension).map { _ in 2 * normal() } }
        var x: [[Double]] = [], y: [Int] = []
        for i in 0..<(classes * perClass) {
            let row = centres[i % classes].map { $0 + spread * normal() }
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            x.append(row.map { Double(Float($0 / norm)) })
            y.append(i % classes)
        }
        return (x, y)
    }

    // MARK: - The solver

    /// At the returned point the closed-form gradient of the L2-regularized objective vanishes, and
    /// J grows along every coordinate (finite differences): it is the minimizer.
    func testFitMeetsTheOptimalityConditions() {
        let (x, y) = blobs(classes: 3, perClass: 20, dimension: 5, spread: 1.0, seed: 4)
        for lambda in [1e-2, 1.0, 30.0] {
            var model = SoftmaxRegression(classes: 3, dimension: 5)
            let report = model.fit(features: tensor(x), labels: y, lambda: lambda)
            XCTAssertTrue(report.converged, "λ = \(lambda): \(report)")
            let g = Self.gradient(model.weights, model.bias, x: x, y: y, lambda: lambda)
            XCTAssertLessThan(g.map(abs).max()!, 1e-5, "λ = \(lambda): the gradient of J/n should vanish")
            let j0 = Self.objective(model.weights, model.bias, x: x, y: y, lambda: lambda)
            XCTAssertEqual(report.objective, j0, accuracy: 1e-6 * max(1, j0))
            let h = 1e-3
            for p in 0..<(15 + 3) {
                var (wp, bp, wm, bm) = (model.weights, model.bias, model.weights, model.bias)
                if p < 15 { wp[p] += h; wm[p] -= h } else { bp[p - 15] += h; bm[p - 15] -= h }
                let (jp, jm) = (Self.objective(wp, bp, x: x, y: y, lambda: lambda), Self.objective(wm, bm, x: x, y: y, lambda: lambda))
                XCTAssertEqual((jp - jm) / (2 * h), 0, accuracy: 1e-5, "λ = \(lambda), parameter \(p): central difference")
                XCTAssertGreaterThanOrEqual(min(jp, jm), j0 - 1e-9, "λ = \(lambda), parameter \(p): not a minimum")
            }
        }
    }

    /// Separable classes, weak regularization: every training item is classified right.
    func testSeparableProblemIsFittedExactly() {
        let (x, y) = blobs(classes: 4, perClass: 10, dimension: 8, spread: 0.05, seed: 9)
        var model = SoftmaxRegression(classes: 4, dimension: 8)
        model.fit(features: tensor(x), labels: y, lambda: 1e-3)
        XCTAssertEqual(LinearProbe.top1(model.logits(tensor(x)), labels: y), 1)
    }

    /// The weights, bias and test predictions scikit-learn's LogisticRegression finds (C = 1/λ).
    func testMatchesScikitLearn() throws {
        let f = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture)) as! [String: Any]
        let trainX = f["train_features"] as! [[Double]], trainY = f["train_labels"] as! [Int]
        let testX = f["test_features"] as! [[Double]], testY = f["test_labels"] as! [Int]
        for fit in f["fits"] as! [[String: Any]] {
            let c = fit["C"] as! Double
            var model = SoftmaxRegression(classes: 3, dimension: 6)
            let report = model.fit(features: tensor(trainX), labels: trainY, lambda: 1 / c, tolerance: 1e-7)
            XCTAssertTrue(report.converged, "C = \(c)")
            let coef = (fit["coef"] as! [[Double]]).flatMap { $0 }, intercept = fit["intercept"] as! [Double]
            for (a, e) in zip(model.weights, coef) { XCTAssertEqual(a, e, accuracy: 1e-4 * max(1, abs(e)), "C = \(c): weights") }
            let mean = model.bias.reduce(0, +) / 3, expectedMean = intercept.reduce(0, +) / 3
            for (a, e) in zip(model.bias, intercept) { XCTAssertEqual(a - mean, e - expectedMean, accuracy: 1e-4, "C = \(c): bias") }
            XCTAssertEqual(report.objective, fit["objective"] as! Double, accuracy: 1e-6, "C = \(c): objective")
            let logits = model.logits(tensor(testX))
            let predictions = (0..<testX.count).map { i in (0..<3).max { logits.pointer[i * 3 + $0] < logits.pointer[i * 3 + $1] }! }
            XCTAssertEqual(predictions, fit["predictions"] as! [Int], "C = \(c): test predictions")
            XCTAssertEqual(LinearProbe.top1(logits, labels: testY), fit["test_accuracy"] as! Double, accuracy: 1e-12)
        }
    }

    /// The blocks' sums are added in a fixed order: one thread or several give the same bits.
    func testFitIsTheSameWhateverTheThreads() {
        let (x, y) = blobs(classes: 3, perClass: 1500, dimension: 16, spread: 1.0, seed: 5)   // 4,500 rows: 5 blocks
        func fit() -> SoftmaxRegression {
            var m = SoftmaxRegression(classes: 3, dimension: 16)
            m.fit(features: tensor(x), labels: y, lambda: 0.1, maxIterations: 50)
            return m
        }
        let one = Parallel.withThreadBudget(1) { fit() }
        let many = Parallel.withThreadBudget(4) { fit() }
        XCTAssertEqual(one.weights, many.weights)
        XCTAssertEqual(one.bias, many.bias)
    }

    // MARK: - The protocol

    /// CLIP's parametric binary search: 7 points a decade and a third apart, then the peak's
    /// neighbours at 8, 4, 2, 1 grid steps; finds the peak of a unimodal score with ≤ 15 fits.
    func testSearchFindsThePeakAsCLIPDoes() {
        XCTAssertEqual(LinearProbe.lambdas.count, 97)
        XCTAssertEqual(LinearProbe.lambdas.first!, 1e-6, accuracy: 1e-18)
        XCTAssertEqual(LinearProbe.lambdas[48], 1, accuracy: 1e-12)
        XCTAssertEqual(LinearProbe.lambdas.last!, 1e6, accuracy: 1e-6)
        for peak in [0, 5, 37, 48, 90, 96] {
            var calls: [Int] = []
            let found = LinearProbe.search { k in calls.append(k); return -Double(abs(k - peak)) }
            XCTAssertEqual(found, peak)
            XCTAssertEqual(Set(calls).count, calls.count, "each λ is fitted once")
            XCTAssertLessThanOrEqual(calls.count, 15)
            XCTAssertEqual(Array(calls.prefix(7)), [0, 16, 32, 48, 64, 80, 96])
        }
        // A tie keeps the larger λ (the stronger regularization).
        XCTAssertEqual(LinearProbe.search { _ in 0.5 }, 96)
    }

    func testValidationSplitIsStratifiedAndDeterministic() {
        let labels = (0..<103).map { $0 % 3 == 0 ? 0 : ($0 % 3 == 1 ? 1 : 2) } + [2, 2]
        let (fit, validation) = LinearProbe.split(labels: labels, classes: 4, proportion: 0.2, seed: 0)
        XCTAssertEqual(Set(fit).union(validation), Set(labels.indices))
        XCTAssertTrue(Set(fit).isDisjoint(with: validation))
        for k in 0..<3 {
            let n = labels.filter { $0 == k }.count
            XCTAssertEqual(validation.filter { labels[$0] == k }.count, n / 5, "class \(k): ⌊0.2·\(n)⌋ held out")
        }
        XCTAssertEqual(fit, fit.sorted())
        let again = LinearProbe.split(labels: labels, classes: 4, proportion: 0.2, seed: 0)
        XCTAssertEqual(again.validation, validation)
        XCTAssertNotEqual(LinearProbe.split(labels: labels, classes: 4, proportion: 0.2, seed: 1).validation, validation)
        // A class with one item keeps it for fitting.
        XCTAssertEqual(LinearProbe.split(labels: [0, 1, 1, 1, 1, 1], classes: 2, proportion: 0.5, seed: 0).validation.count, 2)
    }

    /// The whole protocol on features: a λ from the grid, refit on all of A, per-class recall and
    /// its mean over the classes B holds.
    func testProtocolOnFeatures() throws {
        let (x, y) = blobs(classes: 3, perClass: 40, dimension: 6, spread: 0.8, seed: 2)
        let train = LinearProbe.LabelledFeatures(features: tensor(Array(x[0..<90])), labels: Array(y[0..<90]))
        // B holds classes 0 and 1 only: the mean per-class recall averages those two.
        let testRows = (90..<120).filter { y[$0] != 2 }
        let test = LinearProbe.LabelledFeatures(features: tensor(testRows.map { x[$0] }), labels: testRows.map { y[$0] })
        var lines: [String] = []
        let r = try LinearProbe.fit(train: train, test: test, classnames: ["a", "b", "c"], trainName: "A", log: { lines.append($0) })
        XCTAssertTrue(LinearProbe.lambdas.contains(r.lambda))
        XCTAssertEqual(r.trainCount, 90)
        XCTAssertEqual(r.validationCount, 18)
        XCTAssertEqual(r.sweep.count, lines.count - 1)
        XCTAssertEqual(r.sweep.map(\.lambda), r.sweep.map(\.lambda).sorted())
        XCTAssertEqual(r.count, testRows.count)
        XCTAssertEqual(r.meanPerClassRecall, (r.perClassAccuracy[0] + r.perClassAccuracy[1]) / 2, accuracy: 1e-12)
        XCTAssertGreaterThan(r.top1, 0.8)
        let fixed = try LinearProbe.fit(train: train, test: test, classnames: ["a", "b", "c"], trainName: "A",
                                        settings: { var s = LinearProbe.Settings(); s.lambda = 0.5; return s }())
        XCTAssertEqual(fixed.lambda, 0.5)
        XCTAssertEqual(fixed.validationCount, 0)
        XCTAssertEqual(fixed.sweep.count, 0)
        let again = try LinearProbe.fit(train: train, test: test, classnames: ["a", "b", "c"], trainName: "A")
        XCTAssertEqual(again, r, "deterministic")
    }

    // MARK: - Bad input

    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun(items: 8) }
    override func tearDown() { run.cleanup() }

    /// A shard of 16×16 images whose colour follows the label (so a probe can learn it).
    func shard(_ name: String, labels: [Int]?, classnames: [String]?) throws -> String {
        let path = run.root.appendingPathComponent(name).path
        let writer = ShardWriter(path: path, classnames: classnames)
        for (i, label) in (labels ?? Array(repeating: 0, count: 12)).enumerated() {
            let rgb = SyntheticRun.colors[label % SyntheticRun.colors.count].1
            let pixels = (0..<(16 * 16 * 3)).map { p in UInt8(clamping: Int(rgb[p % 3]) - (p * 7 + i * 13) % 40) }
            try writer.append(ShardItem(image: .raw(RGBImage(height: 16, width: 16, pixels: pixels)), caption: "item \(i)",
                                        label: labels == nil ? nil : label))
        }
        _ = try writer.finish()
        return path
    }

    func assertOneLineError(_ body: @autoclosure () throws -> Any, containing parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = String(describing: error)
            XCTAssertTrue(error is ConfigError, "a ConfigError: \(text)", file: file, line: line)
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for part in parts { XCTAssertTrue(text.contains(part), "'\(text)' should name \(part)", file: file, line: line) }
        }
    }

    func testBadInputIsRefusedInOneLine() throws {
        let labels = (0..<12).map { $0 % 3 }
        let good = try shard("good.h5", labels: labels, classnames: ["red", "green", "blue"])
        let unlabelled = try shard("unlabelled.h5", labels: nil, classnames: nil)
        let one = try shard("one.h5", labels: Array(repeating: 1, count: 12), classnames: ["red", "green", "blue"])
        let fewer = try shard("fewer.h5", labels: labels.map { $0 % 2 }, classnames: ["red", "green"])
        let renamed = try shard("renamed.h5", labels: labels, classnames: ["red", "green", "teal"])
        let outside = try shard("outside.h5", labels: labels.map { $0 == 2 ? 5 : $0 }, classnames: ["red", "green", "blue"])
        func open(_ p: String) throws -> any DatasetSource { try DatasetSourceRegistry.open([p]) }
        assertOneLineError(try LinearProbe.classes(train: try open(unlabelled), test: try open(good), trainName: unlabelled, testName: good),
                           containing: [unlabelled, "no /labels"])
        assertOneLineError(try LinearProbe.classes(train: try open(good), test: try open(unlabelled), trainName: good, testName: unlabelled),
                           containing: [unlabelled, "no /labels"])
        assertOneLineError(try LinearProbe.classes(train: try open(good), test: try open(fewer), trainName: good, testName: fewer),
                           containing: [good, "3 class names", fewer, "has 2"])
        assertOneLineError(try LinearProbe.classes(train: try open(good), test: try open(renamed), trainName: good, testName: renamed),
                           containing: ["class 2", "\"blue\"", "\"teal\""])
        assertOneLineError(try LinearProbe.classes(train: try open(outside), test: try open(good), trainName: outside, testName: good),
                           containing: ["outside.h5 item 2", "label 5"])
        let encoder = ModelEncoder(model: CLIPModel(try ModelConfig.load(run.root.appendingPathComponent("model.json")), seed: 1), workers: 1)
        assertOneLineError(try LinearProbe.evaluate(encoder: encoder, train: try open(one), test: try open(good), trainName: one,
                                                    testName: good, loaderThreads: 1),
                           containing: [one, "class 1", "\"green\"", "at least two classes"])
        var tiny = LinearProbe.Settings()
        tiny.trainLimit = 3   // one item per class: nothing to hold out
        assertOneLineError(try LinearProbe.evaluate(encoder: encoder, train: try open(good), test: try open(good), trainName: good,
                                                    testName: good, settings: tiny, loaderThreads: 1),
                           containing: [good, "too few", "validation"])
    }

    /// `evaluate --task linear-probe` end to end: the table, `--json` with the zero-shot keys plus the
    /// probe's; a refusal leaves no JSON file behind; the missing options are usage errors.
    func testCommandEndToEnd() throws {
        let hub = run.root.appendingPathComponent("hub")
        try OpenCLIPExport.write(model: CLIPModel(try ModelConfig.load(run.root.appendingPathComponent("model.json")), seed: 3),
                                 preprocess: .none, to: hub)
        let names = ["red", "green", "blue", "yellow"]
        let train = try shard("train.h5", labels: (0..<40).map { $0 % 4 }, classnames: names)
        let test = try shard("test.h5", labels: (0..<20).map { $0 % 4 }, classnames: names)
        let json = run.root.appendingPathComponent("probe.json").path
        let common = ["--checkpoint", hub.path, "--task", "linear-probe", "--threads", "2"]
        let r = try runCommand("evaluate", common + ["--train-dataset", train, "--dataset", test, "--json", json])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("linear probe on 20 images: top-1"), r.stdout)
        XCTAssertTrue(r.stderr.contains("validation top-1"), r.stderr)
        let result = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as! [String: Any]
        for key in ["count", "top1", "top5", "classnames", "per_class_accuracy", "confusion", "mean_per_class_recall",
                    "train_count", "validation_count", "lambda", "sweep", "fit"] {
            XCTAssertNotNil(result[key], key)
        }
        XCTAssertEqual(result["classnames"] as? [String], names)
        XCTAssertEqual(result["count"] as? Int, 20)
        XCTAssertEqual(result["train_count"] as? Int, 40)

        let one = try shard("one.h5", labels: Array(repeating: 0, count: 12), classnames: names)
        let refused = run.root.appendingPathComponent("refused.json").path
        let bad = try runCommand("evaluate", common + ["--train-dataset", one, "--dataset", test, "--json", refused])
        XCTAssertEqual(bad.status, 1, bad.stderr)
        XCTAssertEqual(bad.stderr.filter { $0 == "\n" }.count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("at least two classes"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: refused))

        let usage = try runCommand("evaluate", common + ["--dataset", test])
        XCTAssertEqual(usage.status, 64)
        XCTAssertTrue(usage.stderr.contains("--task linear-probe needs --train-dataset"), usage.stderr)
    }
}
