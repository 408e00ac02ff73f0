import Foundation
import DataPipeline
import TensorCore
import ModelStore

/// The linear-probe protocol (CLIP, Radford et al., 2021, §3.2 and appendix A.3; clip_benchmark's
/// `linear_probe`): image features of a labelled training set A and a test set B from the frozen
/// image tower (the evaluation transform, L2-normalized as clip_benchmark's default `normalize`;
/// not standardized — neither CLIP nor clip_benchmark does), a `SoftmaxRegression` fitted on A
/// with the L2 strength λ chosen on a validation split of A, refitted on all of A, scored on B.
///
/// λ search (CLIP A.3): the grid 10^(−6 + k/8), k = 0…96 (8 steps per decade over 10⁻⁶…10⁶);
/// start with k = 0, 16, …, 96, then look at the peak's neighbours 8, 4, 2 and 1 steps away,
/// keeping the best validation top-1 each time (a tie keeps the larger λ).
public enum LinearProbe {
    /// How the probe runs; the defaults follow CLIP.
    public struct Settings: Sendable, Equatable {
        /// Share of each class of A held out to choose λ (stratified, seeded, deterministic).
        public var validationProportion = 0.2
        public var seed: UInt64 = 0
        /// A fixed λ instead of the search (then A is not split).
        public var lambda: Double?
        public var maxIterations = 1000
        /// L-BFGS stops when ‖∇(J/n)‖∞ ≤ tolerance.
        public var tolerance = 1e-6
        /// The first `trainLimit` items of A and `limit` of B (all by default).
        public var trainLimit: Int?, limit: Int?
        public init() {}
    }

    /// The λ grid of the search: 10^(−6 + k/8) for k = 0…96.
    public static let lambdas: [Double] = (0...96).map { pow(10, -6 + Double($0) / 8) }

    /// Labelled image features [N, E] of the usable items of a dataset, in order.
    public struct LabelledFeatures {
        public var features: Tensor
        public var labels: [Int]
        public init(features: Tensor, labels: [Int]) {
            ensure(features.rank == 2 && features.shape[0] == labels.count,
                   "labelled features need [N, E] and N labels, got \(features.shape) and \(labels.count)")
            (self.features, self.labels) = (features, labels)
        }
        public var count: Int { labels.count }

        public func rows(_ indices: [Int]) -> LabelledFeatures {
            let e = features.shape[1]
            var out = Tensor(uninitializedShape: [indices.count, e])
            features.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for (row, i) in indices.enumerated() {
                        for j in 0..<e { dst[row * e + j] = src[i * e + j] }
                    }
                }
            }
            return LabelledFeatures(features: out, labels: indices.map { labels[$0] })
        }
    }

    // MARK: - The command's entry point

    /// Runs the whole protocol: checks both datasets, encodes them, chooses λ, fits, scores B.
    /// Throws a one-line `ConfigError` when a dataset has no labels, when A holds one class only,
    /// when the two datasets' class names differ (in count or in name), when a label lies outside
    /// the class names, and when A is too small to hold out a validation split.
    /// - Parameters: trainName, testName: how the datasets are named in messages (their paths).
    ///   log: one line per λ tried and for the final fit.
    public static func evaluate(encoder: ModelEncoder, train: any DatasetSource, test: any DatasetSource,
                                trainName: String, testName: String, settings: Settings = Settings(),
                                batchSize: Int = 256, loaderThreads: Int = 2,
                                progress: ((String, Int, Int) -> Void)? = nil,
                                log: ((String) -> Void)? = nil) throws -> LinearProbeResult {
        try check(settings)
        let classnames = try classes(train: train, test: test, trainName: trainName, testName: testName)
        let a = try encode(encoder: encoder, dataset: train, name: trainName, limit: settings.trainLimit, batchSize: batchSize,
                           loaderThreads: loaderThreads, progress: progress.map { p in { p("train", $0, $1) } })
        let b = try encode(encoder: encoder, dataset: test, name: testName, limit: settings.limit, batchSize: batchSize,
                           loaderThreads: loaderThreads, progress: progress.map { p in { p("test", $0, $1) } })
        return try fit(train: a, test: b, classnames: classnames, trainName: trainName, settings: settings, log: log)
    }

    static func check(_ settings: Settings) throws {
        guard settings.validationProportion > 0 && settings.validationProportion < 1 else {
            throw ConfigError("the validation proportion must lie strictly between 0 and 1, got \(settings.validationProportion)")
        }
        if let lambda = settings.lambda, !(lambda > 0 && lambda.isFinite) {
            throw ConfigError("the L2 strength λ must be a positive number, got \(lambda)")
        }
        guard settings.maxIterations >= 1 else { throw ConfigError("max iterations must be at least 1, got \(settings.maxIterations)") }
        for (name, limit) in [("train limit", settings.trainLimit), ("limit", settings.limit)] {
            if let limit, limit < 1 { throw ConfigError("the \(name) must be at least 1, got \(limit)") }
        }
    }

    /// The class names both datasets share (from their `classnames` attributes; "0", "1", … when
    /// neither has them, as many as the largest label + 1). Throws when either has no labels, when the
    /// attributes differ, or when a label lies outside them.
    public static func classes(train: any DatasetSource, test: any DatasetSource, trainName: String, testName: String) throws -> [String] {
        for (data, name) in [(train, trainName), (test, testName)] where !data.hasLabels {
            throw ConfigError("\(name): no /labels; a linear probe needs labelled images (classes come from the labels)")
        }
        if let a = train.classnames, let b = test.classnames {
            guard a.count == b.count else {
                throw ConfigError("\(trainName) has \(a.count) class names, \(testName) has \(b.count); a linear probe needs the same classes in both")
            }
            if let k = a.indices.first(where: { a[$0] != b[$0] }) {
                throw ConfigError("class \(k) is \(a[k].debugDescription) in \(trainName) but \(b[k].debugDescription) in \(testName); "
                    + "a linear probe needs the same classes in both")
            }
        }
        let names: [String]
        if let given = train.classnames ?? test.classnames {
            names = given
        } else {
            let largest = [train, test].map { d in (0..<d.count).compactMap { d.label(at: $0) }.max() ?? -1 }.max() ?? -1
            names = (0...max(largest, 0)).map(String.init)
        }
        try train.requireLabels(within: names.count)
        try test.requireLabels(within: names.count)
        return names
    }

    /// L2-normalized image embeddings and labels of the first `limit` usable items (evaluation
    /// transform); an undecodable item is skipped as zero-shot skips it. Throws on a non-finite
    /// embedding and when no item is usable.
    public static func encode(encoder: ModelEncoder, dataset: any DatasetSource, name: String, limit: Int? = nil,
                              batchSize: Int = 256, loaderThreads: Int = 2,
                              progress: ((Int, Int) -> Void)? = nil) throws -> LabelledFeatures {
        let total = min(dataset.count, limit ?? .max)
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: batchSize, imageSize: encoder.model.visual.imageSize,
                                                   contextLength: encoder.model.config.textCfg.contextLength,
                                                   augmentation: encoder.preprocess, mode: .eval, shuffle: false,
                                                   threads: loaderThreads, needsCaptions: false),
            tokenizer: { _ in [] })  // images only
        var parts: [Tensor] = [], labels: [Int] = []
        while labels.count < total, let batch = try loader.next() {
            let n = min(batch.size, total - labels.count)
            let s = batch.imageSize
            let images = Tensor(shape: [batch.size, s, s, 3], scalars: batch.images).slice(axis: 0, 0..<n)
            let embeddings = encoder.images(images)
            try embeddings.requireFinite { dataset.itemName(batch.indices[$0]) }
            parts.append(embeddings)
            labels += batch.labels!.prefix(n)
            progress?(labels.count, total)
        }
        guard !labels.isEmpty else {
            let first = loader.skippedItems.first.map { " (first: \($0))" } ?? ""
            throw RunError("\(name): no usable items for the linear probe: all \(dataset.count) were skipped\(first)")
        }
        return LabelledFeatures(features: Tensor.concat(parts, axis: 0), labels: labels)
    }

    // MARK: - The protocol on features

    /// Chooses λ on a validation split of `train` (unless `settings.lambda` fixes it), refits on all
    /// of `train`, and scores `test`.
    public static func fit(train: LabelledFeatures, test: LabelledFeatures, classnames: [String], trainName: String,
                           settings: Settings = Settings(), log: ((String) -> Void)? = nil) throws -> LinearProbeResult {
        try check(settings)
        let c = classnames.count
        let present = Set(train.labels)
        guard present.count >= 2 else {
            let k = train.labels.first ?? 0
            throw ConfigError("\(trainName): all \(train.count) labelled images are class \(k) (\(classnames[k].debugDescription)); "
                + "a linear probe needs at least two classes")
        }
        ensure(train.features.shape[1] == test.features.shape[1], "train and test features differ in width")
        var sweep: [LinearProbeResult.SweepPoint] = []
        var validationCount = 0
        let lambda: Double
        if let fixed = settings.lambda {
            lambda = fixed
        } else {
            let (fitRows, validationRows) = split(labels: train.labels, classes: c, proportion: settings.validationProportion,
                                                  seed: settings.seed)
            guard !validationRows.isEmpty, Set(fitRows.map { train.labels[$0] }).count >= 2 else {
                throw ConfigError("\(trainName): \(train.count) labelled images are too few to hold out a validation split of "
                    + "\(settings.validationProportion) per class; give more images, a larger validation proportion, or a fixed λ")
            }
            validationCount = validationRows.count
            let (fitPart, validation) = (train.rows(fitRows), train.rows(validationRows))
            let search = search { k in
                var model = SoftmaxRegression(classes: c, dimension: train.features.shape[1])
                let report = model.fit(features: fitPart.features, labels: fitPart.labels, lambda: lambdas[k],
                                       maxIterations: settings.maxIterations, tolerance: settings.tolerance)
                let accuracy = top1(model.logits(validation.features), labels: validation.labels)
                log?(String(format: "linear probe: λ = %.3g: validation top-1 %.2f%% (%d iterations%@)", lambdas[k], 100 * accuracy,
                            report.iterations, report.converged ? "" : ", not converged"))
                sweep.append(.init(lambda: lambdas[k], validationTop1: accuracy, fit: report))
                return accuracy
            }
            lambda = lambdas[search]
            sweep.sort { $0.lambda < $1.lambda }
        }
        var model = SoftmaxRegression(classes: c, dimension: train.features.shape[1])
        let report = model.fit(features: train.features, labels: train.labels, lambda: lambda,
                               maxIterations: settings.maxIterations, tolerance: settings.tolerance)
        log?(String(format: "linear probe: fit on all %d images with λ = %.3g (C = %.3g): %d iterations%@", train.count, lambda, 1 / lambda,
                    report.iterations, report.converged ? "" : ", not converged"))
        var scores = ZeroShotResult(classnames: classnames)
        scores.add(logits: model.logits(test.features), labels: test.labels)
        return LinearProbeResult(scores: scores, trainCount: train.count, validationCount: validationCount, lambda: lambda,
                                 sweep: sweep, fit: report)
    }

    /// The index into `lambdas` the parametric binary search settles on; `score(k)` is called once per index.
    static func search(_ score: (Int) -> Double) -> Int {
        var cache: [Int: Double] = [:]
        func peak(_ candidates: [Int]) -> Int {
            var best = -1
            for k in candidates {
                if cache[k] == nil { cache[k] = score(k) }
                if best < 0 || cache[k]! > cache[best]! || (cache[k]! == cache[best]! && k > best) { best = k }
            }
            return best
        }
        var best = peak(Array(stride(from: 0, through: lambdas.count - 1, by: 16)))
        var span = 8
        while span > 0 {
            best = peak([max(best - span, 0), best, min(best + span, lambdas.count - 1)])
            span /= 2
        }
        return best
    }

    /// Stratified split: each class's rows, shuffled by a seeded Fisher–Yates, give ⌊p·n_c⌋ to
    /// validation (at most n_c − 1); both parts keep dataset order.
    static func split(labels: [Int], classes: Int, proportion: Double, seed: UInt64) -> (fit: [Int], validation: [Int]) {
        var byClass = [[Int]](repeating: [], count: classes)
        for (i, label) in labels.enumerated() { byClass[label].append(i) }
        var rng = RandomGenerator(seed: seed)
        var fit: [Int] = [], validation: [Int] = []
        for var rows in byClass where !rows.isEmpty {
            for i in stride(from: rows.count - 1, to: 0, by: -1) {
                rows.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
            let held = min(Int((Double(rows.count) * proportion).rounded(.down)), rows.count - 1)
            validation += rows[0..<held]
            fit += rows[held...]
        }
        return (fit.sorted(), validation.sorted())
    }

    /// Share of rows whose label scores strictly highest (the tie rule of `RankingMetrics`).
    static func top1(_ logits: Tensor, labels: [Int]) -> Double {
        let c = logits.shape[1]
        let hits = labels.indices.filter { RankingMetrics.rank(logits.pointer + $0 * c, count: c, target: labels[$0]) == 0 }.count
        return Double(hits) / Double(max(labels.count, 1))
    }
}

/// A linear probe's scores on the test set, the λ it chose and how it got there.
public struct LinearProbeResult: Codable, Equatable, Sendable {
    /// Test images scored.
    public var count: Int
    public var top1: Double, top5: Double
    /// The mean over the classes present in the test set of each class's recall (scikit-learn's
    /// `balanced_accuracy_score`, clip_benchmark's `mean_per_class_recall`).
    public var meanPerClassRecall: Double
    public var classnames: [String]
    /// Each class's recall on the test set (0 for a class without test images).
    public var perClassAccuracy: [Double]
    /// confusion[true][predicted]
    public var confusion: [[Int]]
    /// Images of A the final classifier was fitted on, and how many of them were held out to choose λ
    /// (0 with a fixed λ).
    public var trainCount: Int, validationCount: Int
    /// λ of the final fit (scikit-learn's C = 1/λ).
    public var lambda: Double
    /// Every λ tried, by increasing λ.
    public var sweep: [SweepPoint]
    /// The final fit's L-BFGS report.
    public var fit: SoftmaxRegression.FitReport

    public struct SweepPoint: Codable, Equatable, Sendable {
        public var lambda: Double
        public var validationTop1: Double
        public var fit: SoftmaxRegression.FitReport
        enum CodingKeys: String, CodingKey { case lambda, validationTop1 = "validation_top1", fit }
    }

    enum CodingKeys: String, CodingKey {
        case count, top1, top5, meanPerClassRecall = "mean_per_class_recall", classnames, perClassAccuracy = "per_class_accuracy",
             confusion, trainCount = "train_count", validationCount = "validation_count", lambda, sweep, fit
    }

    init(scores: ZeroShotResult, trainCount: Int, validationCount: Int, lambda: Double, sweep: [SweepPoint],
         fit: SoftmaxRegression.FitReport) {
        (count, top1, top5) = (scores.count, scores.top1, scores.top5)
        (classnames, perClassAccuracy, confusion) = (scores.classnames, scores.perClassAccuracy, scores.confusion)
        meanPerClassRecall = scores.meanPerClassRecall
        (self.trainCount, self.validationCount, self.lambda, self.sweep, self.fit) = (trainCount, validationCount, lambda, sweep, fit)
    }
}

extension ZeroShotResult {
    /// The mean over the classes with at least one image of each class's recall (scikit-learn's
    /// `balanced_accuracy_score`, clip_benchmark's `mean_per_class_recall`).
    public var meanPerClassRecall: Double {
        let present = confusion.indices.filter { confusion[$0].reduce(0, +) > 0 }
        return present.map { perClassAccuracy[$0] }.reduce(0, +) / Double(max(present.count, 1))
    }
}
