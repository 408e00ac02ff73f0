// swift-tools-version:6.0
import PackageDescription

// MARK: - Build settings

/// The numeric kernel targets (tensors, autograd, layers, objectives, optimizers) are compiled with
/// `-Ounchecked` — no bounds or overflow checks, `precondition` removed (they use `ensure`) — even in
/// debug builds, so `swift run train` without `-c release` is not an order of magnitude slower (DESIGN.md).
/// The targets that read user input — configs, checkpoints, CSV files, shards, images, tokenizer files —
/// keep Swift's checks: `-O`, also in debug builds (the data loader's resampling stays fast), never unchecked.
/// On x86-64 both are compiled for AVX2/FMA (every x86 server since 2013).
#if arch(x86_64)
let cpu = ["-target-cpu", "haswell"]
#else
let cpu: [String] = []
#endif
let hot: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + cpu)]
let checked: [SwiftSetting] = [.unsafeFlags(["-O"] + cpu)]

// MARK: - C system libraries (one small Swift file each touches them)

let cLibraries: [Target] = [
    .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                   providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                   providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                   providers: [.apt(["libjpeg-dev"])]),
    .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                   providers: [.apt(["libpng-dev"])]),
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                   providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                   providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
    // oneDNN ships no pkg-config file on Debian 12; the module map links libdnnl (and libgomp, its runtime).
    .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
]

// MARK: - Library layers (imports only go downwards)

let libraries: [Target] = [
    .target(name: "TensorCore", dependencies: ["COpenBLAS", "CDNNL"], swiftSettings: hot),
    .target(name: "Autograd", dependencies: ["TensorCore"], swiftSettings: hot),
    .target(name: "NeuralNet", dependencies: ["Autograd"], swiftSettings: hot),
    .target(name: "Objectives", dependencies: ["Autograd"], swiftSettings: hot),
    .target(name: "Optimization", dependencies: ["Autograd"], swiftSettings: hot),
    .target(name: "Tokenization", dependencies: ["CZlib"], resources: [.copy("Resources")],
            swiftSettings: checked),
    .target(name: "DataPipeline", dependencies: ["TensorCore", "Tokenization", "CHDF5", "CJPEG", "CPNG"],
            swiftSettings: checked),
    .target(name: "Checkpointing", dependencies: ["TensorCore"], swiftSettings: checked),
    .target(name: "Distributed", dependencies: ["TensorCore", "CMPI"], swiftSettings: checked),
    // Where models and runs live on disk: a run's checkpoints, OpenCLIP hub folders, loading a model from any of them.
    .target(name: "ModelStore", dependencies: ["NeuralNet", "Objectives", "Optimization", "DataPipeline", "Checkpointing"],
            swiftSettings: checked),
    // Using a trained model: encoding, zero-shot, retrieval, linear probes, suites (YAML), scoring, CLIP-score filtering.
    .target(name: "Evaluation", dependencies: ["ModelStore", "Objectives", "Tokenization", .product(name: "Yams", package: "Yams")],
            swiftSettings: checked),
    // Training a model: the config, the data-parallel step, the trainer (evaluates through Evaluation).
    .target(name: "Training",
            dependencies: ["Evaluation", "Distributed", .product(name: "Yams", package: "Yams")],
            swiftSettings: checked),
    // What `bench` measures: kernels, GEMM engines, objectives, the loader, full training steps.
    .target(name: "Benchmarks", dependencies: ["Training"], swiftSettings: checked),
    // The umbrella: `import SwiftCLIP` gives every layer above, plus the high-level API (`CLIP`).
    .target(name: "SwiftCLIP", dependencies: ["Training"], swiftSettings: checked),
]

// MARK: - Commands (thin: parse, validate, call one library entry point)

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

func command(_ target: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: target, dependencies: dependencies + [argumentParser, "CommandLineTool"],
                      path: "Sources/Commands/\(target)")
}

let commands: [Target] = [
    // What every command shares: one error convention (one line + exit 1 for runtime errors).
    .target(name: "CommandLineTool", dependencies: [argumentParser, "TensorCore"], path: "Sources/Commands/CommandLineTool"),
    command("TrainCommand", ["SwiftCLIP"]),
    command("EvaluateCommand", ["SwiftCLIP"]),
    command("EmbedCommand", ["SwiftCLIP"]),
    command("BenchCommand", ["SwiftCLIP", "Benchmarks"]),
    command("TokenizeCommand", ["Tokenization"]),
    command("MakeShardsCommand", ["DataPipeline"]),
    command("ExportCommand", ["SwiftCLIP"]),
    command("FilterCommand", ["SwiftCLIP"]),
]

// MARK: - Tests

let tests: [Target] = [
    .target(name: "TestSupport", dependencies: ["Autograd", "NeuralNet", "Checkpointing"], path: "Tests/TestSupport"),
    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
    .testTarget(name: "AutogradTests", dependencies: ["Autograd", "TestSupport"]),
    .testTarget(name: "TokenizationTests", dependencies: ["Tokenization"], resources: [.copy("Fixtures")]),
    .testTarget(name: "DataPipelineTests", dependencies: ["DataPipeline"], resources: [.copy("Fixtures")]),
    .testTarget(name: "CheckpointingTests", dependencies: ["Checkpointing", "TensorCore"], exclude: ["Fixtures"]),
    .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "Checkpointing", "TestSupport"]),
    .testTarget(name: "TrainingTests", dependencies: ["SwiftCLIP", "Benchmarks", "TestSupport"]),
    .testTarget(name: "ObjectivesTests", dependencies: ["Objectives", "TestSupport"]),
]

let package = Package(
    name: "SwiftCLIP",
    platforms: [.macOS(.v14)],
    products: [
        // Libraries: the whole framework, and the layers people may want alone.
        .library(name: "SwiftCLIP", targets: ["SwiftCLIP"]),
        .library(name: "SwiftCLIPTensors", targets: ["TensorCore", "Autograd"]),
        .library(name: "SwiftCLIPData", targets: ["DataPipeline", "Tokenization"]),
        // The commands.
        .executable(name: "train", targets: ["TrainCommand"]),
        .executable(name: "evaluate", targets: ["EvaluateCommand"]),
        .executable(name: "embed", targets: ["EmbedCommand"]),
        .executable(name: "bench", targets: ["BenchCommand"]),
        .executable(name: "tokenize", targets: ["TokenizeCommand"]),
        .executable(name: "make-shards", targets: ["MakeShardsCommand"]),
        .executable(name: "export", targets: ["ExportCommand"]),
        .executable(name: "filter", targets: ["FilterCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // `swift package generate-documentation --target SwiftCLIP` builds the DocC catalog.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: cLibraries + libraries + commands + tests
)
