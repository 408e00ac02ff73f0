import ArgumentParser
import CommandLineTool
import Foundation
import Training

/// `train --config X.yaml [--set key=value …] [--resume latest|PATH]`
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a CLIP-style dual encoder from a YAML (or JSON) config.",
        discussion: "Checkpoints go to RUN.output_dir/RUN.name/checkpoints; Ctrl-C finishes the step, checkpoints and exits 0.")

    @Option(help: "Training config (YAML or JSON).") var config: String
    @Option(name: .customLong("set"), help: "Override a config key, e.g. --set train.steps=100 (repeatable).")
    var overrides: [String] = []
    @Option(help: "Continue a run: 'latest' (its newest intact checkpoint), a run folder or a checkpoint folder.") var resume: String?
    @Flag(help: "Start over in a run folder that already has checkpoints.") var overwrite = false
    @Flag(help: "Resume although the config changed beyond steps and cadences (the differences are logged).")
    var allowConfigChange = false
    @Option(help: "Threads for kernels and BLAS (default: all cores).") var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        Parallel.configure(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let cfg = try TrainingConfig.load(path: config, overrides: overrides)
        StopSignal.install()
        let trainer = try Trainer(config: cfg, configFile: config, resume: resume, overwrite: overwrite,
                                  allowConfigChange: allowConfigChange)
        let summary = try trainer.run()
        var line = "done: step \(summary.finalStep)"
        if let l = summary.lastLoss { line += String(format: ", loss %.4f", l) }
        if let z = summary.zeroShotTop1 { line += String(format: ", zero-shot top-1 %.2f%%", 100 * z) }
        line += String(format: ", data wait %.1f%% of the time", 100 * summary.dataWaitShare)
        if let c = summary.checkpoint { line += ", checkpoint \(c.path)" }
        print(line)
    }
}

Train.mainWithOneLineErrors()
