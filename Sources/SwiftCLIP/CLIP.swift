import Foundation

/// A trained model, ready to use from Swift: loaded from any checkpoint form the commands accept,
/// it embeds images and texts, classifies images zero-shot and scores image–text pairs — with the
/// preprocessing and the similarity the model was trained with (`Similarity`, recorded by its
/// objective).
///
/// ```swift
/// let clip = try CLIP(checkpoint: "runs/fashion-clip")
/// let labels = try clip.classify([.file("boot.png")], classNames: ["sneaker", "ankle boot"])
/// print(labels[0].className, labels[0].probabilities)
/// ```
///
/// Encoding runs on `workers` threads of the calling process without changing any process-wide
/// setting (the commands configure threads; call `Parallel.configure(threads:)` and
/// `Parallel.configureBLAS(forWorkers:)` yourself to do the same).
public final class CLIP {
    /// An image to encode: a file (JPEG or PNG), encoded bytes, or decoded RGB pixels.
    public enum Image: Sendable {
        case file(String)
        case encoded([UInt8])
        case rgb(RGBImage)
    }

    /// The label of one image: the best class, and the probability of every class (softmax of
    /// 100 × the similarities, CLIP's zero-shot convention).
    public struct Classification: Sendable, Equatable {
        public var classIndex: Int
        public var className: String
        public var probabilities: [Float]
    }

    public let model: CLIPModel
    public let tokenizer: CLIPTokenizer
    /// Threads, GEMM precision, preprocessing and similarity of the encoding.
    public let encoder: ModelEncoder

    /// How images and texts are compared: what the model's objective recorded in its checkpoint.
    public var similarity: Similarity { encoder.scoring }
    /// The side of the square images the image tower takes.
    public var imageSize: Int { model.visual.imageSize }

    /// Loads a model.
    /// - Parameters:
    ///   - checkpoint: a run folder (its newest intact checkpoint), a checkpoint folder, a
    ///     `model.safetensors`, or an OpenCLIP hub folder (`open_clip_config.json` +
    ///     `open_clip_model.safetensors`).
    ///   - modelConfig: a model-config JSON or a built-in architecture name (`ViT-B-32`, …); needed
    ///     for a bare safetensors file without SwiftCLIP's metadata.
    ///   - vocab: a BPE merges file; nil for the built-in CLIP vocabulary.
    ///   - workers: threads that encode side by side (the process's thread settings are not changed).
    ///   - precision: GEMM precision of the towers (`.bf16` rounds GEMM inputs, as `evaluate --precision bf16`).
    ///   - similarity: overrides the recorded similarity.
    ///   - log: where skipped damaged checkpoints are reported.
    public init(checkpoint: String, modelConfig: String? = nil, vocab: String? = nil, workers: Int = Parallel.threads,
                precision: MatmulPrecision = .fp32, similarity: Similarity? = nil, log: (String) -> Void = { _ in }) throws {
        let loaded = try ModelLoading.load(checkpoint: checkpoint, modelConfig: modelConfig, log: log)
        model = loaded.model
        tokenizer = try vocab.map { try CLIPTokenizer(mergesFile: URL(fileURLWithPath: $0)) } ?? CLIPTokenizer.bundled()
        encoder = ModelEncoder(model: loaded.model, workers: workers, scoring: similarity ?? loaded.scoring,
                               precision: precision, preprocess: loaded.preprocess)
    }

    /// Uses a model already in memory (e.g. `trainer.model` after training).
    public init(model: CLIPModel, tokenizer: CLIPTokenizer? = nil, workers: Int = Parallel.threads,
                precision: MatmulPrecision = .fp32, similarity: Similarity = .embedding, preprocess: Augmentation = .none) throws {
        self.model = model
        self.tokenizer = try tokenizer ?? CLIPTokenizer.bundled()
        encoder = ModelEncoder(model: model, workers: workers, scoring: similarity, precision: precision, preprocess: preprocess)
    }

    // MARK: Embeddings

    /// L2-normalized image embeddings [N, E], one row per image, in order.
    public func embed(images: [Image]) throws -> Tensor {
        encoder.images(try pixels(images))
    }

    /// L2-normalized embeddings [N, E] of every image of a dataset (shards, or any `DatasetSource`).
    public func embed(dataset: any DatasetSource, batchSize: Int = 256) throws -> Tensor {
        try EmbeddingExport.embedImages(encoder: encoder, dataset: dataset, batchSize: batchSize)
    }

    /// L2-normalized text embeddings [M, E], one row per text, tokenized to the model's context.
    public func embed(texts: [String]) throws -> Tensor {
        try requireValid(texts)
        return encoder.texts(texts, tokenizer: tokenizer)
    }

    // MARK: Zero-shot and scores

    /// A zero-shot classifier over `classNames`, each put into every template (`{}` marks the
    /// class name) and the prompts averaged, as CLIP does. Reuse it for many images.
    public func classifier(classNames: [String], templates: [String] = ZeroShotClassifier.defaultTemplates) throws -> ZeroShotClassifier {
        guard !classNames.isEmpty else { throw ConfigError("zero-shot needs at least one class name") }
        guard !templates.isEmpty, templates.allSatisfy({ $0.contains("{}") }) else {
            throw ConfigError("zero-shot templates must each contain {} where the class name goes")
        }
        try requireValid(classNames)
        try ZeroShotClassifier.requireDistinct(classNames, tokenizer: tokenizer, source: "class names")
        return ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: classNames, templates: templates)
    }

    /// The zero-shot label of each image.
    public func classify(_ images: [Image], classNames: [String],
                         templates: [String] = ZeroShotClassifier.defaultTemplates) throws -> [Classification] {
        try classify(images, with: try classifier(classNames: classNames, templates: templates))
    }

    /// The zero-shot label of each image with a classifier made by `classifier(classNames:templates:)`.
    public func classify(_ images: [Image], with classifier: ZeroShotClassifier) throws -> [Classification] {
        guard !images.isEmpty else { return [] }
        let logits = classifier.logits(encoder: encoder, images: try pixels(images))
        let probabilities = logits.softmax()
        let c = classifier.classnames.count
        return (0..<images.count).map { i in
            let row = Array(probabilities.scalars[(i * c)..<((i + 1) * c)])
            let best = row.indices.max { row[$0] < row[$1] }!
            return Classification(classIndex: best, className: classifier.classnames[best], probabilities: row)
        }
    }

    /// Similarities [N, M] of every image with every text, by the model's similarity: cosines
    /// of the embeddings, or the token-wise score s^I of each image with each text.
    public func scores(images: [Image], texts: [String]) throws -> Tensor {
        try requireValid(texts)
        let pixels = try pixels(images)
        switch similarity {
        case .embedding:
            return encoder.images(pixels).matmul(encoder.texts(texts, tokenizer: tokenizer), transposeOther: true)
        case .tokenwise(let special):
            let t = encoder.textTokens(texts, tokenizer: tokenizer, includeSpecialTokens: special)
            return FILIPKernel.scores(imageTokens: encoder.imageTokens(pixels), textTokens: t.features, validTokens: t.valid).imageToText
        }
    }

    // MARK: Inputs

    /// The images after the model's evaluation transform: [N, S, S, 3].
    public func pixels(_ images: [Image]) throws -> Tensor {
        let s = imageSize
        let out = Tensor(uninitializedShape: [images.count, s, s, 3])
        var rng = RandomGenerator(seed: 0)   // the evaluation transform draws nothing
        for (i, image) in images.enumerated() {
            let rgb = try Self.decode(image)
            encoder.preprocess.apply(to: rgb, size: s, training: false, using: &rng,
                                     into: UnsafeMutableBufferPointer(start: out.pointer + i * s * s * 3, count: s * s * 3))
        }
        return out
    }

    static func decode(_ image: Image) throws -> RGBImage {
        switch image {
        case .rgb(let rgb): return rgb
        case .encoded(let bytes):
            do { return try EncodedImage.decode(bytes) } catch { throw RunError("encoded image: \(error)") }
        case .file(let path):
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw RunError("\(path): cannot read (\(error.localizedDescription))")
            }
            do { return try EncodedImage.decode([UInt8](data)) } catch { throw RunError("\(path): \(error)") }
        }
    }

    /// Texts are held to the rule of every text input (`TextProblem`: no NUL byte, which the
    /// tokenizer and the shard format would cut at).
    func requireValid(_ texts: [String]) throws {
        for (i, text) in texts.enumerated() {
            do { try TextProblem.check(text) } catch { throw ConfigError("text \(i): \(error)") }
        }
    }
}
