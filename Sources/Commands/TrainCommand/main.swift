import ArgumentParser
import CommandLineTool
import Foundation
import SwiftCLIP

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
        // Launched by mpirun/srun: one rank of a data-parallel job (cores shared by the ranks on this machine).
        let communicator = MPICommunicator.fromEnvironment()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        Parallel.configure(threads: threads ?? max(1, cores / communicator.localSize))
        let setup = Result {
            let cfg = try TrainingConfig.load(path: config, overrides: overrides)
            Trainer.configureThreads(for: cfg, threads: Parallel.threads)   // the command sets process-wide state; the library never does
            StopSignal.install(announce: communicator.rank == 0)   // every rank gets mpirun's signal; one says so
            return try Trainer(config: cfg, resume: resume, overwrite: overwrite,
                               allowConfigChange: allowConfigChange, communicator: communicator,
                               log: communicator.rank == 0 ? { writeLine($0) } : { _ in })   // others log only errors
        }
        if communicator.worldSize > 1 {
            // Setup errors (config, dataset) are the same on every rank: the first failing rank reports.
            let failed = communicator.allGather([(try? setup.get()) == nil ? 1 : 0])
            if let first = failed.firstIndex(of: 1) {
                if case let .failure(error) = setup, first == communicator.rank { Self.report(error, rank: first) }
                (communicator as? MPICommunicator)?.finalize()
                throw ExitCode.failure
            }
        }
        // Runtime failures (bad data, full disk, a non-finite stop) are one line on stderr and exit 1.
        do {
            let summary = try setup.get().run()
            var line = "done: step \(summary.finalStep)"
            if let l = summary.lastLoss { line += String(format: ", loss %.4f", l) }
            if let z = summary.zeroShotTop1 { line += String(format: ", zero-shot top-1 %.2f%%", 100 * z) }
            line += String(format: ", data wait %.1f%% of the time", 100 * summary.dataWaitShare)
            if let c = summary.checkpoint { line += ", checkpoint \(c.path)" }
            if communicator.rank == 0 { print(line) }
            (communicator as? MPICommunicator)?.finalize()
        } catch {
            if communicator.worldSize > 1 {
                // One rank failed mid-run: end the whole job now, naming the rank. A failure every rank
                // shares is reported by rank 0, whose abort usually ends the others before they print.
                if communicator.rank != 0 { sleep(2) }
                Self.report(error, rank: communicator.rank)
                communicator.abort(code: 1)
            }
            throw error   // one line on stderr, exit 1 (mainWithOneLineErrors)
        }
    }

    /// One line on standard error naming the rank.
    static func report(_ error: any Error, rank: Int) {
        let message = String(describing: error).replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("train: rank \(rank): \(message)\n".utf8))
    }
}

Train.mainWithOneLineErrors()
