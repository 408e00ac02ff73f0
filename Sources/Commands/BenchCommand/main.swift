import ArgumentParser
import CommandLineTool
import Foundation
import DataPipeline
import SwiftCLIP
import Benchmarks

/// `bench`: engine and training-step measurements (tables, or one JSON object with --json).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure SwiftCLIP's kernels and training steps on this machine.",
        subcommands: [SGEMM.self, Kernels.self, Step.self, Loader.self, Objectives.self], defaultSubcommand: Kernels.self)
}

struct Common: ParsableArguments {
    @Option(help: "Threads for kernels and BLAS (default: all cores).") var threads: Int?
    @Flag(help: "Print one JSON object on the last line.") var json = false

    func apply() { Parallel.configure(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount) }
}

extension GradientSyncChoice: ExpressibleByArgument {}

func emitJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try! encoder.encode(value), as: UTF8.self))
}

struct SGEMM: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sgemm", abstract: "sgemm GFLOP/s at several sizes.")
    @OptionGroup var common: Common
    @Option(parsing: .upToNextOption, help: "Matrix sizes.") var sizes: [Int] = [128, 256, 512, 1024, 2048]
    @Option(help: "GEMM precision: fp32, or bf16 (bf16 inputs, fp32 accumulation).") var precision: MatmulPrecision = .fp32

    func run() {
        common.apply()
        struct Row: Codable { var n: Int; var gflops: Double }
        var rows: [Row] = []
        GEMMEngines.current.summary.forEach { print($0) }
        print("\(precision == .fp32 ? "sgemm" : "bf16 GEMM") (\(BLAS.threads) BLAS threads)")
        for n in sizes {
            let g = Benchmarks.sgemm(n: n, precision: precision)
            rows.append(Row(n: n, gflops: (g * 10).rounded() / 10))
            print(String(format: "  n=%5d  %7.1f GFLOP/s", n, g))
        }
        if common.json { emitJSON(["sgemm": rows]) }
    }
}

struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kernels",
        abstract: "Memory bandwidth, element-wise / layer-norm / GELU bandwidth, attention time, sgemm n=1024.")
    @OptionGroup var common: Common

    func run() {
        common.apply()
        let copy = Benchmarks.copyBandwidth()
        let add = Benchmarks.addBandwidth(), ln = Benchmarks.layerNormBandwidth(), gelu = Benchmarks.geluBandwidth()
        // Attention runs its heads on every thread, each with single-threaded BLAS (as in training):
        // multi-threaded BLAS nested inside them made this line 10–20× slower than a training step sees.
        let savedBLASThreads = BLAS.threads
        Parallel.configureBLAS(forWorkers: Parallel.threads)
        let attn = Benchmarks.attention(batch: 128, tokens: 65, width: 256, heads: 4)
        let narrow = Benchmarks.attention(batch: 256, tokens: 25, width: 128, heads: 4)   // the quickstart's vision tower
        Parallel.setBLASThreads(savedBLASThreads)
        let sgemm = Benchmarks.sgemm(n: 1024)
        print(String(format: "memory copy (machine reference)  %6.1f GB/s", copy))
        print(String(format: "element-wise add                 %6.1f GB/s  (%3.0f%% of copy)", add, 100 * add / copy))
        print(String(format: "layer norm forward [32768, 512]  %6.1f GB/s  (%3.0f%% of copy)", ln, 100 * ln / copy))
        print(String(format: "GELU forward                     %6.1f GB/s  (%3.0f%% of copy)", gelu, 100 * gelu / copy))
        // Attention FLOPs: 4·B·T²·W forward (Q Kᵀ and P V), twice that backward.
        func attentionLine(_ name: String, _ ms: (forward: Double, backward: Double), b: Int, t: Int, w: Int, heads: Int) {
            let flops = 4 * Double(b * t * t * w)
            print(name + String(format: " fwd %.2f ms, bwd %.2f ms  (%.1f / %.1f GFLOP/s; ", ms.forward, ms.backward,
                                flops / ms.forward / 1e6, 2 * flops / ms.backward / 1e6)
                  + AttentionKernel.productsSummary(batch: b, tokens: t, width: w, heads: heads) + ")")
        }
        attentionLine("attention B=128 T=65 W=256 H=4  ", attn, b: 128, t: 65, w: 256, heads: 4)
        attentionLine("attention B=256 T=25 W=128 H=4  ", narrow, b: 256, t: 25, w: 128, heads: 4)
        print(String(format: "sgemm n=1024                     %6.1f GFLOP/s", sgemm))
        if common.json {
            emitJSON(["copy_gbps": copy, "add_gbps": add, "layernorm_gbps": ln, "gelu_gbps": gelu,
                      "attention_forward_ms": attn.forward, "attention_backward_ms": attn.backward,
                      "narrow_attention_forward_ms": narrow.forward, "narrow_attention_backward_ms": narrow.backward, "sgemm_1024_gflops": sgemm])
        }
    }
}

struct Step: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "step",
        abstract: "Full training steps (forward, CLIP loss, backward, AdamW) on random inputs.")
    @OptionGroup var common: Common
    @Option(help: "tiny, vit-b32, an OpenCLIP architecture name (ViT-B-16, …) or a model-config JSON file.") var config = "tiny"
    @Option(help: "Batch size (default: 128 for tiny, 32 for vit-b32).") var batch: Int?
    @Option(help: "Data-parallel worker threads (default: the thread count).") var workers: Int?
    @Option(help: "Timed steps.") var steps = 5
    @Flag(help: "Print a per-op table of one step.") var profile = false
    @Flag(help: "Recompute transformer blocks in backward (less activation memory).") var recompute = false
    @Option(help: "FLIP patch dropout rate in [0, 1) (ViT towers).") var patchDropout = 0.0
    @Option(help: "GEMM precision of the towers: fp32, or bf16 (as train.precision).") var precision: MatmulPrecision = .fp32
    @Option(help: "Under mpirun: when gradients are summed over ranks, auto, overlap or after_backward (as train.gradient_sync).")
    var gradientSync: GradientSyncChoice = .auto

    func validate() throws {
        guard patchDropout >= 0 && patchDropout < 1 else { throw ValidationError("--patch-dropout: expected a fraction in [0, 1), got \(patchDropout)") }
    }

    func run() throws {
        common.apply()
        let (name, path, defaultBatch): (String, String, Int) = switch config {
        case "tiny": ("tiny", "Configs/models/tiny.json", 128)
        case "vit-b32", "ViT-B-32": ("vit-b32", "ViT-B-32", 32)
        default: (config, config, ModelConfig.builtIn(config) != nil ? 32 : 128)
        }
        let modelConfig = try ModelConfig.resolve(path)
        // Under mpirun/srun: one rank of a data-parallel step; the ranks on this machine share its cores.
        let communicator = MPICommunicator.fromEnvironment()
        defer { (communicator as? MPICommunicator)?.finalize() }
        if common.threads == nil { Parallel.configure(threads: max(1, Parallel.threads / communicator.localSize)) }
        let w = workers ?? Parallel.threads
        // Each rank measures the peak of its own share of the cores, all at once: the job's peak is their sum.
        let ranks = Double(communicator.worldSize)
        let peak = gemmPeak(.fp32) * ranks
        let precisionPeak = precision == .fp32 ? peak : gemmPeak(precision) * ranks
        Parallel.configureBLAS(forWorkers: w)
        let bench = StepBenchmark(name: name, config: modelConfig, batch: batch ?? defaultBatch, workers: w, recompute: recompute,
                                  patchDropout: patchDropout, precision: precision, communicator: communicator,
                                  gradientSync: gradientSync.resolved(for: communicator, workers: w))
        let (r, rows) = bench.run(steps: steps, sgemmGflops: peak, gemmPeakGflops: precisionPeak, profile: profile)
        guard communicator.rank == 0 else { return }
        r.engines.summary.forEach { print($0) }
        print("step \(name): batch \(r.batch), \(r.ranks > 1 ? "\(r.ranks) ranks × " : "")\(r.workers) workers, \(r.parameters) parameters, \(r.precision)"
              + (r.patchDropout > 0 ? ", patch dropout \(r.patchDropout)" : "")
              + (r.ranks > 1 ? String(format: ", %.1f%% of the step waiting for communication (gradient all-reduce %@)",
                                      100 * r.communicationShare, r.overlapped ? "overlapped with backward" : "after backward") : ""))
        print(String(format: "  %.2f images/s, %.3f s/step, %.2f GFLOP/image, %.1f GFLOP/s = %.0f%% of sgemm peak (%.1f GFLOP/s)",
                     r.imagesPerSecond, r.secondsPerStep, r.gflopsPerImage, r.gflops, 100 * r.shareOfSgemmPeak, r.sgemmGflops))
        if precision != .fp32 {
            print(String(format: "  = %.0f%% of the %@ GEMM peak (%.1f GFLOP/s)", 100 * r.shareOfGemmPeak,
                         precision.rawValue as NSString, r.gemmPeakGflops))
            let portable = BF16Engine.portableShapes
            if !portable.isEmpty { print("  bf16 shapes without a native oneDNN kernel (portable path): " + portable.joined(separator: ", ")) }
        }
        print(String(format: "  peak RSS %.0f MiB, activations %.2f MiB/image%@, %d fresh allocations per steady-state step",
                     Double(r.peakMemoryBytes) / 1048576, Double(r.activationBytesPerImage) / 1048576,
                     (recompute ? " (recomputed blocks)" : "") as NSString, r.freshAllocationsPerStep))
        if profile {
            func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
            func left(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
            print("  " + pad("op (thread time, fwd+bwd)", 28) + left("ms", 10) + left("share", 9) + left("GFLOP/s", 10))
            for row in rows {
                print("  " + pad(row.op, 28) + left(String(format: "%.2f", row.milliseconds), 10)
                      + left(String(format: "%.1f%%", 100 * row.share), 9) + left(row.gflops.map { String(format: "%.1f", $0) } ?? "", 10))
            }
        }
        if common.json { emitJSON(r) }
    }

    /// The machine's GEMM peak in `precision` with all cores (BLAS threads = cores), the reference for the share.
    func gemmPeak(_ precision: MatmulPrecision) -> Double {
        let saved = BLAS.threads
        Parallel.configureBLAS(forWorkers: 1)
        defer { Parallel.setBLASThreads(saved) }
        return Benchmarks.sgemm(n: 1024, precision: precision)
    }
}

struct Loader: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "loader",
        abstract: "Data-loader throughput (decode, augment, tokenize) in images/s; by default the same synthetic 500×375 JPEGs from an HDF5 shard, plain tars and .tar.gz tars, in one run.")
    @OptionGroup var common: Common
    @Option(help: "A dataset to read instead: a shard folder or file, tars (file, folder or brace pattern), or a registered kind.") var dataset: String?
    @Option(help: "Output image size.") var imageSize = 224
    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Loader threads (default: the thread count).") var loaderThreads: Int?
    @Option(help: "Timed batches.") var batches = 8
    @Option(help: "Synthetic images (default: 512).") var images = 512

    func run() throws {
        common.apply()
        let threads = loaderThreads ?? Parallel.threads
        func measure(_ source: any DatasetSource) throws -> Double {
            try LoaderBenchmark.measure(dataset: source, imageSize: imageSize, batchSize: batch, threads: threads, batches: batches)
        }
        let setting = String(format: "%d×%d, random resized crop, %d threads, batch %d", imageSize, imageSize, threads, batch)
        if let dataset {
            let rate = try measure(try TrainingSourceResolver(tarIndexes: TarIndexCache(folder: nil), workers: threads).open(dataset))
            print(String(format: "loader: %.0f images/s (%@)", rate, setting))
            if common.json { emitJSON(["loader_images_per_second": rate]) }
            return
        }
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("swiftclip-loader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temp) }
        let photos = try LoaderBenchmark.syntheticJPEGs(count: images)
        let shard = temp.appendingPathComponent("jpeg.h5").path
        try LoaderBenchmark.writeShard(photos, at: shard)
        try LoaderBenchmark.writeTars(photos, in: temp.appendingPathComponent("tar").path, perTar: 128)
        try LoaderBenchmark.writeTars(photos, in: temp.appendingPathComponent("tgz").path, perTar: 128, gzip: true)
        var rates: [String: Double] = [:]
        let hdf5 = try measure(try ShardDataset(path: shard))
        rates["loader_images_per_second"] = hdf5
        print(String(format: "loader: %.0f images/s from an HDF5 shard (%@)", hdf5, setting))
        for (name, folder) in [("plain", "tar"), (".tar.gz", "tgz")] {
            let started = DispatchTime.now().uptimeNanoseconds
            let source = try TarDataset(tars: try TarPaths.tars(in: temp.appendingPathComponent(folder).path),
                                        cache: TarIndexCache(folder: temp.appendingPathComponent("index-" + folder).path), workers: threads)
            let indexing = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            let rate = try measure(source)
            rates["loader_\(folder)_images_per_second"] = rate
            print(String(format: "loader: %.0f images/s from %@ tars, %.2f× the shard's (first-read indexing of %d tars: %.2f s)",
                         rate, name, rate / hdf5, source.tars.count, indexing))
        }
        if common.json { emitJSON(rates) }
    }
}

struct Objectives: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "objectives",
        abstract: "Forward+backward time of each registered objective (B=256, D=256; token-level ones at B=512, n1=50, n2=77, d=256 with peak memory).")
    @OptionGroup var common: Common
    @Flag(help: "Skip the (slow) token-level objectives.") var skipTokenLevel = false

    func run() throws {
        common.apply()
        Parallel.configureBLAS(forWorkers: 1)
        var rows = try ObjectiveBenchmark.pooled()
        if !skipTokenLevel { rows += try ObjectiveBenchmark.tokenLevel() }
        for r in rows {
            let memory = r.peakExtraBytes.map { String(format: ", peak extra memory %.0f MiB", Double($0) / 1048576) } ?? ""
            print("  " + r.objective.padding(toLength: 36, withPad: " ", startingAt: 0) + String(format: "%9.1f ms", r.milliseconds) + memory)
        }
        if common.json { emitJSON(["objectives": rows]) }
    }
}

Bench.mainWithOneLineErrors()
