// swift-tools-version:6.0
import PackageDescription

// MARK: - Build settings

/// Hot targets are compiled optimized even in debug builds, so `swift run train`
/// without `-c release` is not an order of magnitude slower (DESIGN.md).
/// On x86-64 the SIMD kernels are compiled for AVX2/FMA (every x86 server since 2013).
#if arch(x86_64)
let hot: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"])]
#else
let hot: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]
#endif

// MARK: - C system libraries (one small Swift file each touches them)

let cLibraries: [Target] = [
    .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                   providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                   providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                   providers: [.apt(["libjpeg-dev"])]),
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                   providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                   providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
]

// MARK: - Library layers (imports only go downwards)

let libraries: [Target] = [
    .target(name: "TensorCore", dependencies: ["COpenBLAS"], swiftSettings: hot),
    .target(name: "Autograd", dependencies: ["TensorCore"], swiftSettings: hot),
    .target(name: "NeuralNet", dependencies: ["Autograd"], swiftSettings: hot),
    .target(name: "Objectives", dependencies: ["Autograd"], swiftSettings: hot),
    .target(name: "Optimization", dependencies: ["Autograd"], swiftSettings: hot),
    .target(name: "Tokenization", dependencies: ["CZlib"], resources: [.copy("Resources")],
            swiftSettings: hot),
    .target(name: "DataPipeline", dependencies: ["TensorCore", "Tokenization", "CHDF5", "CJPEG"],
            swiftSettings: hot),
    .target(name: "Checkpointing", dependencies: ["TensorCore"], swiftSettings: hot),
    .target(name: "Distributed", dependencies: ["TensorCore", "CMPI"], swiftSettings: hot),
    .target(name: "Training",
            dependencies: ["NeuralNet", "Objectives", "Optimization", "DataPipeline", "Checkpointing", "Distributed",
                           .product(name: "Yams", package: "Yams")],
            swiftSettings: hot),
]

// MARK: - Commands (thin: parse, validate, call one library entry point)

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

func command(_ target: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: target, dependencies: dependencies + [argumentParser],
                      path: "Sources/Commands/\(target)")
}

let commands: [Target] = [
    command("TrainCommand", ["Training"]),
    command("EvaluateCommand", ["Training"]),
    command("EmbedCommand", ["Training"]),
    command("BenchCommand", ["Training"]),
    command("TokenizeCommand", ["Tokenization"]),
    command("MakeShardsCommand", ["DataPipeline"]),
]

// MARK: - Tests

let tests: [Target] = [
    .target(name: "TestSupport", dependencies: ["Autograd"], path: "Tests/TestSupport"),
    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
    .testTarget(name: "AutogradTests", dependencies: ["Autograd", "TestSupport"]),
    .testTarget(name: "TokenizationTests", dependencies: ["Tokenization"], resources: [.copy("Fixtures")]),
    .testTarget(name: "DataPipelineTests", dependencies: ["DataPipeline"], resources: [.copy("Fixtures")]),
    .testTarget(name: "CheckpointingTests", dependencies: ["Checkpointing"], exclude: ["Fixtures"]),
    .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "Checkpointing"]),
    .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"]),
    .testTarget(name: "ObjectivesTests", dependencies: ["Objectives", "TestSupport"]),
]

let package = Package(
    name: "SwiftCLIP",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "train", targets: ["TrainCommand"]),
        .executable(name: "evaluate", targets: ["EvaluateCommand"]),
        .executable(name: "embed", targets: ["EmbedCommand"]),
        .executable(name: "bench", targets: ["BenchCommand"]),
        .executable(name: "tokenize", targets: ["TokenizeCommand"]),
        .executable(name: "make-shards", targets: ["MakeShardsCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: cLibraries + libraries + commands + tests
)
