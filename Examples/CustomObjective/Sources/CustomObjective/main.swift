// Trains SwiftCLIP's quickstart model on Fashion-MNIST shards with an objective defined in this
// package (DCL), then classifies the test shards zero-shot.
//
//   swift run -c release CustomObjective --train DIR --test DIR [--steps 300] [--output runs]
import DCL
import Foundation
import SwiftCLIP

func option(_ name: String, _ fallback: String? = nil) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    guard let fallback else { fail("missing \(name) (usage: CustomObjective --train DIR --test DIR [--steps N] [--output DIR])") }
    return fallback
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("CustomObjective: \(message)\n".utf8))
    exit(1)
}

// The SwiftCLIP checkout this package builds against holds the config, model and templates.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../..").standardizedFileURL
func shipped(_ path: String) -> String { repository.appendingPathComponent(path).path }

do {
    DCLObjective.register()   // now `objective.type: dcl` is an objective like the built-in ones
    let steps = option("--steps", "300"), test = option("--test")
    let config = try TrainingConfig.load(path: shipped("Configs/quickstart.yaml"), overrides: [
        "objective={type: dcl}", "run.name=fashion-dcl", "run.output_dir=\(option("--output", "runs"))",
        "model.config=\(shipped("Configs/models/vit-fashion.json"))", "data.train=\(option("--train"))",
        "train.steps=\(steps)", "schedule.warmup_steps=\(min(100, (Int(steps) ?? 300) / 5))",
        "checkpoint.every_steps=\(steps)", "eval.zeroshot=null",   // evaluated below, through the API
    ])
    Trainer.configureThreads(for: config, threads: ProcessInfo.processInfo.activeProcessorCount)
    let trainer = try Trainer(config: config, overwrite: true, log: { print($0) })
    trainer.onStep = { print(String(format: "step %5d  loss %.4f  %.0f images/s", $0.step, $0.loss ?? .nan, $0.imagesPerSecond)) }
    let summary = try trainer.run()

    // Zero-shot on the test shards with the trained model, scored as the objective says.
    let clip = try CLIP(model: trainer.model, similarity: trainer.objective.similarity)
    let dataset = try DatasetSourceRegistry.open(test)
    guard let classNames = dataset.classnames else { fail("\(test): no class names") }
    let classifier = try clip.classifier(classNames: classNames,
                                         templates: try ZeroShotClassifier.loadTemplates(shipped("Configs/templates/fashion.txt")))
    let result = try classifier.evaluate(encoder: clip.encoder, dataset: dataset)
    print(String(format: "DCL, %d steps: zero-shot top-1 %.2f%%, top-5 %.2f%% on %d test images (checkpoint %@)",
                 summary.finalStep, 100 * result.top1, 100 * result.top5, result.count, summary.checkpoint?.path ?? "none"))
} catch {
    fail("\(error)")
}
