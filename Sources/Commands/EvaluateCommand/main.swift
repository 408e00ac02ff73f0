import ArgumentParser
import CommandLineTool
import DataPipeline
import Foundation
import Tokenization
import SwiftCLIP

/// `evaluate --checkpoint CKPT --task zeroshot|retrieval|linear-probe --dataset PATH …`, or `--suite FILE.yaml`
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Zero-shot classification, image-text retrieval or a linear probe with a trained model, or a suite of them.")

    enum Task: String, ExpressibleByArgument { case zeroshot, retrieval, linearProbe = "linear-probe" }

    @Option(help: "A run folder, a checkpoint folder, an OpenCLIP hub folder, or a model.safetensors (then --model-config).") var checkpoint: String
    @Option(help: "OpenCLIP model-config JSON or built-in name such as ViT-B-32 (for bare safetensors files).") var modelConfig: String?
    @Option(help: "zeroshot, retrieval or linear-probe (or give --suite).") var task: Task?
    @Option(help: "Shard folder, .h5 file, or comma-separated list (linear-probe: the test set).") var dataset: String?
    @Option(help: "linear-probe: the labelled training set the classifier is fitted on.") var trainDataset: String?
    @Option(help: "linear-probe: fit on at most this many training images.") var trainLimit: Int?
    @Option(help: "linear-probe: share of each class of the training set held out to choose the L2 strength.")
    var validationProportion = 0.2
    @Option(help: "linear-probe: a fixed L2 strength λ (scikit-learn's 1/C) instead of the search.") var lambda: Double?
    @Option(help: "linear-probe: seed of the validation split.") var seed: UInt64 = 0
    @Option(help: "A suite YAML file: a list of tasks over datasets, the model loaded once.") var suite: String?
    @Option(help: "--suite: folder for the result JSON files (default: runs/eval/SUITE, SUITE the file's name).") var outputDir: String?
    @Option(help: "--suite: the results' model name (default: the --model-config name, else swiftclip).") var modelName: String?
    @Option(help: "Templates file, one per line with {} (zeroshot).") var templates: String?
    @Option(help: "Class names file, one per line (default: the dataset's classnames attribute).") var classnames: String?
    @Flag(help: "Use /long_captions (Long-CLIP retrieval).") var longCaptions = false
    @Option(help: "BPE merges file (default: built-in CLIP vocabulary).") var vocab: String?
    @Option(help: "Images per batch.") var batchSize = 256
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Evaluate at most this many images (zero-shot, linear-probe test set) or image-text pairs (retrieval).") var limit: Int?
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @Option(help: "GEMM precision of the towers: fp32, or bf16 (bf16 inputs, fp32 accumulation).") var precision: MatmulPrecision = .fp32
    @Option(help: ArgumentHelp("How to score image-text pairs: auto, embedding, filip or filip-content.",
                               discussion: "auto follows the objective recorded in the checkpoint (FILIP checkpoints use token-level scores; filip-content leaves out SOT/EOT)."))
    var scoring = "auto"

    func validate() throws {
        switch (task, suite) {
        case (nil, nil): throw ValidationError("give --task (with --dataset) or --suite FILE.yaml")
        case (.some, .some): throw ValidationError("--task and --suite exclude each other (a suite names its tasks)")
        case (.some(let task), nil):
            guard dataset != nil else { throw ValidationError("--task \(task.rawValue) needs --dataset") }
            if task == .linearProbe && trainDataset == nil { throw ValidationError("--task linear-probe needs --train-dataset") }
            if task != .linearProbe && trainDataset != nil { throw ValidationError("--train-dataset applies to --task linear-probe") }
            if outputDir != nil || modelName != nil { throw ValidationError("--output-dir and --model-name apply to --suite") }
        case (nil, .some):
            if dataset != nil || trainDataset != nil { throw ValidationError("--suite names its datasets; leave out --dataset and --train-dataset") }
            if json != nil { throw ValidationError("--suite writes one JSON file per task into --output-dir; leave out --json") }
            let perTask = [("--limit", limit != nil), ("--train-limit", trainLimit != nil), ("--lambda", lambda != nil),
                           ("--templates", templates != nil), ("--classnames", classnames != nil), ("--long-captions", longCaptions)]
            if let (name, _) = perTask.first(where: { $0.1 }) {
                throw ValidationError("\(name) applies to a single --task; in a suite each task sets it (README, \"Evaluation\")")
            }
        }
        guard validationProportion > 0 && validationProportion < 1 else {
            throw ValidationError("--validation-proportion must lie strictly between 0 and 1, got \(validationProportion)")
        }
        if let lambda, !(lambda > 0 && lambda.isFinite) { throw ValidationError("--lambda must be a positive number, got \(lambda)") }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be at least 1, got \(trainLimit)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if scoring != "auto" && Similarity(name: scoring) == nil {
            throw ValidationError("--scoring must be auto or one of \(Similarity.names.joined(separator: ", ")), got '\(scoring)'")
        }
    }

    func run() throws {
        if let json { try OutputFile.requireWritable(json) }
        let suiteFile = try suite.map { try EvaluationSuite.load($0) }   // a suite's mistakes come before the model loads
        let (_, tokenizer, encoder) = try CommandSupport.loadForInference(
            checkpoint: checkpoint, modelConfig: modelConfig, vocab: vocab, threads: threads,
            scoring: Similarity(name: scoring), precision: precision)
        if case .tokenwise = encoder.scoring { print("scoring: \(encoder.scoring) (token-level)") }
        let t = encoder.workers
        if let suiteFile, let suite { return try runSuite(suiteFile, file: suite, tokenizer: tokenizer, encoder: encoder) }
        guard let task, let dataset else { return }
        let data = try DatasetSourceRegistry.open(dataset.split(separator: ",").map(String.init))
        let bar = ProgressBar(label: task.rawValue)
        let output: Data
        switch task {
        case .zeroshot:
            guard let names = try classnames.map({ try ZeroShotClassifier.loadClassnames($0) }) ?? data.classnames else {
                throw ValidationError("\(dataset) has no classnames attribute; pass --classnames FILE")
            }
            try ZeroShotClassifier.requireDistinct(names, tokenizer: tokenizer, source: classnames ?? "\(dataset): classnames attribute")
            let temps = try templates.map { try ZeroShotClassifier.loadTemplates($0) } ?? ZeroShotClassifier.defaultTemplates
            let classifier = ZeroShotClassifier(encoder: encoder, tokenizer: tokenizer, classnames: names, templates: temps)
            let r = try classifier.evaluate(encoder: encoder, dataset: data, batchSize: batchSize, limit: limit,
                                            loaderThreads: max(1, t), progress: bar.update)
            bar.finish()
            print(ZeroShotReport.table(r))
            output = try encode(r)
        case .retrieval:
            let r = try RetrievalResult.evaluate(encoder: encoder, tokenizer: tokenizer, dataset: data, longCaptions: longCaptions,
                                                 batchSize: batchSize, limit: limit, loaderThreads: max(1, t), progress: bar.update)
            bar.finish()
            print(ZeroShotReport.table(r))
            output = try encode(r)
        case .linearProbe:
            let trainPaths = (trainDataset ?? "").split(separator: ",").map(String.init)
            let train = try DatasetSourceRegistry.open(trainPaths)
            var settings = LinearProbe.Settings()
            (settings.validationProportion, settings.lambda, settings.seed) = (validationProportion, lambda, seed)
            (settings.trainLimit, settings.limit) = (trainLimit, limit)
            let r = try LinearProbe.evaluate(encoder: encoder, train: train, test: data, trainName: trainDataset ?? "", testName: dataset,
                                             settings: settings, batchSize: batchSize, loaderThreads: max(1, t),
                                             progress: { bar.update($1, $2) }, log: { bar.finish(); printError($0) })
            bar.finish()
            print(ZeroShotReport.table(r))
            output = try encode(r)
        }
        if let json { try output.write(to: URL(fileURLWithPath: json), options: .atomic) }
    }

    /// Runs every task of the suite with the one loaded model; prints one table; one JSON file per task.
    func runSuite(_ s: EvaluationSuite, file: String, tokenizer: CLIPTokenizer, encoder: ModelEncoder) throws {
        let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let folder = URL(fileURLWithPath: outputDir ?? "runs/eval/\(stem)")
        let model = modelName ?? modelConfig.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "swiftclip"
        let bar = ProgressBar(label: "suite")
        let outcomes = try s.run(file: file, encoder: encoder, tokenizer: tokenizer, model: model, pretrained: checkpoint,
                                 outputDirectory: folder, batchSize: batchSize, loaderThreads: max(1, encoder.workers),
                                 progress: { bar.update($1, $2) }, log: { bar.finish(); printError($0) })
        bar.finish()
        print("suite \(file): model \(model), checkpoint \(checkpoint)")
        print(EvaluationSuite.table(outcomes))
        print("results: \(outcomes.count) JSON files in \(folder.path) (clip_benchmark's layout)")
    }

    func printError(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(value)
    }
}


Evaluate.mainWithOneLineErrors()
