import Foundation
import DataPipeline
import Tokenization
import Objectives
import TensorCore
import Autograd
import NeuralNet
import Checkpointing
import ModelStore

/// Zero-shot classification (Radford et al., 2021). With embedding scoring each class is the
/// renormalized mean of its L2-normalized prompt embeddings (prompt ensembling) and
/// `logits = 100 · l2norm(image) · Wᵀ`; with FILIP scoring a class's logit is 100 × the mean of
/// the image's s^I over the class's prompts (per-prompt score averaging, Yao et al., 2021).
public struct ZeroShotClassifier {
    public let classnames: [String]
    public let templates: [String]
    let classes: Classes

    enum Classes {
        /// [C, E], rows L2-normalized.
        case embedding(Tensor)
        /// The prompts' token features, class-major (C × T texts).
        case tokenwise(TextTokens)
    }

    public static let defaultTemplates = ["a photo of a {}.", "a photo of the {}.", "an image of a {}.", "a picture of a {}."]

    public init(encoder: ModelEncoder, tokenizer: CLIPTokenizer, classnames: [String], templates: [String]) {
        ensure(!classnames.isEmpty && !templates.isEmpty, "zero-shot needs class names and templates")
        self.classnames = classnames
        self.templates = templates
        let prompts = classnames.flatMap { c in templates.map { $0.replacingOccurrences(of: "{}", with: c) } }
        switch encoder.scoring {
        case .embedding:
            let embeddings = encoder.texts(prompts, tokenizer: tokenizer)          // [C·T, E], normalized
            let e = embeddings.shape[1]
            let mean = embeddings.reshaped([classnames.count, templates.count, e]).mean(axis: 1)
            classes = .embedding(mean.l2Normalized().y)
        case .tokenwise(let special):
            classes = .tokenwise(encoder.textTokens(prompts, tokenizer: tokenizer, includeSpecialTokens: special))
        }
    }

    /// Class logits [B, C] of `images` [B, S, S, 3].
    public func logits(encoder: ModelEncoder, images: Tensor) -> Tensor {
        logits(features: features(encoder: encoder, images: images))
    }

    /// What the images are scored by: embeddings [B, E], or patch-token features [B, n1, E] (FILIP).
    func features(encoder: ModelEncoder, images: Tensor) -> Tensor {
        switch classes {
        case .embedding: encoder.images(images)
        case .tokenwise: encoder.imageTokens(images)
        }
    }

    /// Class logits [B, C] of image `features` (see `features(encoder:images:)`).
    func logits(features: Tensor) -> Tensor {
        switch classes {
        case .embedding(let weights):
            return features.matmul(weights, transposeOther: true) * 100
        case .tokenwise(let prompts):
            let s = FILIPKernel.scores(imageTokens: features, textTokens: prompts.features,
                                       validTokens: prompts.valid).imageToText          // [B, C·T]
            return s.reshaped([features.shape[0], classnames.count, templates.count]).mean(axis: 2) * 100
        }
    }

    /// Throws when a class's embedding (or one of its prompts' token features) is not finite.
    func requireFiniteClasses() throws {
        switch classes {
        case .embedding(let weights): try weights.requireFinite { "class '\(classnames[$0])'" }
        case .tokenwise(let prompts): try prompts.features.requireFinite { "class '\(classnames[$0 / templates.count])'" }
        }
    }

    /// Reads templates, one per line containing `{}`; blank lines and `#` comments are skipped. A line
    /// that is not valid UTF-8 or holds a NUL byte is refused, named (`TextProblem`).
    public static func loadTemplates(_ path: String) throws -> [String] {
        let lines = try textLines(path, what: "templates").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !lines.isEmpty else { throw ConfigError("\(path): no templates") }
        for l in lines where !l.contains("{}") { throw ConfigError("\(path): template without {}: \(l)") }
        return lines
    }

    /// Throws, naming both, when two class names read the same to the tokenizer (the same token ids
    /// after its cleaning: case, spacing, HTML entities, spaces around punctuation): their prompts would
    /// be identical, so the two classes would tie on every image and both score 0%. `source` names
    /// where the names came from (a file, a dataset's classnames attribute).
    public static func requireDistinct(_ classnames: [String], tokenizer: CLIPTokenizer, source: String) throws {
        var first: [[Int32]: Int] = [:]
        for (i, name) in classnames.enumerated() {
            let tokens = tokenizer.encode(name)
            if let j = first[tokens] {
                throw ConfigError("\(source): class names \(j + 1) and \(i + 1) (\(classnames[j].debugDescription) and "
                    + "\(name.debugDescription)) read the same after the tokenizer's normalization; each class needs a distinct name")
            }
            first[tokens] = i
        }
    }

    /// Reads class names, one per line (checked as templates are).
    public static func loadClassnames(_ path: String) throws -> [String] {
        let names = try textLines(path, what: "class names").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ConfigError("\(path): no class names") }
        return names
    }

    /// The lines of the text file at `path`; "PATH: cannot read WHAT", or the line that breaks the text rule.
    static func textLines(_ path: String, what: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw RunError("\(path): cannot read \(what)") }
        do { return try TextProblem.lines(of: data, source: path) } catch { throw ConfigError("\(error)") }
    }
}

/// Accumulated zero-shot results: top-1/top-5, per-class accuracy and the confusion matrix.
public struct ZeroShotResult: Codable, Equatable, Sendable {
    public var count = 0
    public var top1 = 0.0, top5 = 0.0
    public var classnames: [String]
    public var perClassAccuracy: [Double]
    /// confusion[true][predicted]
    public var confusion: [[Int]]
    var correct1 = 0, correct5 = 0

    enum CodingKeys: String, CodingKey {
        case count, top1, top5, classnames, perClassAccuracy = "per_class_accuracy", confusion
    }

    public init(classnames: [String]) {
        self.classnames = classnames
        perClassAccuracy = Array(repeating: 0, count: classnames.count)
        confusion = Array(repeating: Array(repeating: 0, count: classnames.count), count: classnames.count)
    }

    /// Adds a batch of logits [B, C] with their labels.
    public mutating func add(logits: Tensor, labels: [Int]) {
        let c = classnames.count
        ensure(logits.shape == [labels.count, c], "zero-shot logits \(logits.shape) do not match \(labels.count) labels × \(c) classes")
        for (i, label) in labels.enumerated() {
            ensure(label >= 0 && label < c, "label \(label) outside the \(c) classes")
            let row = logits.pointer + i * c
            let r = RankingMetrics.rank(row, count: c, target: label)
            if r < 1 { correct1 += 1 }
            if r < 5 { correct5 += 1 }
            confusion[label][RankingMetrics.predicted(row, count: c, label: label)] += 1
        }
        count += labels.count
        top1 = Double(correct1) / Double(max(count, 1))
        top5 = Double(correct5) / Double(max(count, 1))
        for k in 0..<c {
            let total = confusion[k].reduce(0, +)
            perClassAccuracy[k] = total == 0 ? 0 : Double(confusion[k][k]) / Double(total)
        }
    }
}

extension ZeroShotClassifier {
    /// Classifies every image of a labelled dataset (evaluation transform, one pass).
    /// Throws, with one line, on a label outside the class names (naming the shard), on a
    /// non-finite embedding, and when no item could be evaluated (never a "top-1 0%").
    public func evaluate(encoder: ModelEncoder, dataset: any DatasetSource, batchSize: Int = 256, limit: Int? = nil,
                         loaderThreads: Int = 2, progress: ((Int, Int) -> Void)? = nil) throws -> ZeroShotResult {
        guard dataset.hasLabels else { throw ConfigError("zero-shot dataset has no /labels") }
        if let limit, limit < 1 { throw ConfigError("the evaluation limit must be at least 1, got \(limit)") }
        try dataset.requireLabels(within: classnames.count)
        try requireFiniteClasses()
        let total = min(dataset.count, limit ?? .max)
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: batchSize, imageSize: encoder.model.visual.imageSize,
                                                   contextLength: encoder.model.config.textCfg.contextLength,
                                                   augmentation: encoder.preprocess, mode: .eval, shuffle: false, threads: loaderThreads,
                                                   needsCaptions: false),
            tokenizer: { _ in [] })  // images only: captions are neither read nor tokenized
        var result = ZeroShotResult(classnames: classnames)
        while result.count < total, let batch = try loader.next() {
            let n = min(batch.size, total - result.count)
            let s = batch.imageSize
            let images = Tensor(shape: [batch.size, s, s, 3], scalars: batch.images).slice(axis: 0, 0..<n)
            let features = features(encoder: encoder, images: images)
            try features.requireFinite { dataset.itemName(batch.indices[$0]) }
            result.add(logits: logits(features: features), labels: Array(batch.labels!.prefix(n)))
            progress?(result.count, total)
        }
        guard result.count > 0 else {
            let first = loader.skippedItems.first.map { " (first: \($0))" } ?? ""
            throw RunError("zero-shot evaluation has no usable items: all \(dataset.count) were skipped\(first)")
        }
        return result
    }
}
