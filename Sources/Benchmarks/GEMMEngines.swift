import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Distributed
import ModelStore
import Evaluation
import Training

/// Which GEMM kernels run on this machine: OpenBLAS's kernel set (fp32) and how bf16 runs,
/// with a warning when OpenBLAS runs kernels below what the CPU supports (e.g. when
/// `OPENBLAS_CORETYPE=Haswell` is set on an AVX-512 machine: about half the fp32 peak).
public struct GEMMEngines: Codable, Sendable {
    /// OpenBLAS's kernel set (`openblas_get_corename()`), e.g. `Haswell`, `SkylakeX`, `Cooperlake`.
    public var openBLASCore: String
    /// The instruction set oneDNN finds on this CPU, e.g. `avx2`, `avx512_core_bf16`.
    public var cpuISA: String
    /// oneDNN's bf16 kernel when bf16 GEMMs run natively, else nil (portable path).
    public var bf16Native: String?

    enum CodingKeys: String, CodingKey { case openBLASCore = "openblas_core", cpuISA = "cpu_isa", bf16Native = "bf16_native" }

    /// `bf16_native` is written as null when bf16 is not native (never left out).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(openBLASCore, forKey: .openBLASCore)
        try c.encode(cpuISA, forKey: .cpuISA)
        try c.encode(bf16Native, forKey: .bf16Native)
    }

    public init(openBLASCore: String, cpuISA: String, bf16Native: String?) {
        (self.openBLASCore, self.cpuISA, self.bf16Native) = (openBLASCore, cpuISA, bf16Native)
    }

    public static var current: GEMMEngines {
        GEMMEngines(openBLASCore: BLAS.coreName, cpuISA: BF16Engine.cpuISA, bf16Native: BF16Engine.detected.nativeImplementation)
    }

    /// A rank for OpenBLAS kernel sets and CPU instruction sets: 1 AVX2, 2 AVX-512, 3 AVX512-BF16 or AMX.
    static func rank(core: String) -> Int {
        switch core.lowercased() {
        case "sapphirerapids", "cooperlake": 3
        case "skylakex": 2
        case "haswell", "zen", "excavator": 1
        default: 0
        }
    }
    static func rank(isa: String) -> Int {
        isa.contains("bf16") || isa.contains("amx") ? 3 : isa.hasPrefix("avx512_core") ? 2 : isa.hasPrefix("avx2") ? 1 : 0
    }

    /// One line when OpenBLAS runs below the CPU's kernel set, else nil.
    public var warning: String? {
        let best = Self.rank(isa: cpuISA)
        guard Self.rank(core: openBLASCore) < best else { return nil }
        let expected = best == 3 ? "Cooperlake" : best == 2 ? "SkylakeX" : "Haswell"
        let override = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (OPENBLAS_CORETYPE=\($0) is set)" } ?? ""
        return "warning: OpenBLAS runs its \(openBLASCore) kernels\(override) but this CPU (\(cpuISA)) supports \(expected): "
            + "fp32 figures are below this machine's peak; unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for benchmarks"
    }

    /// Two lines for `bench`: the kernel sets, then how bf16 runs (plus the warning, if any).
    public var summary: [String] {
        ["GEMM kernels: OpenBLAS \(openBLASCore) (fp32), CPU \(cpuISA); " + BF16Engine.detected.summary] + (warning.map { [$0] } ?? [])
    }
}
