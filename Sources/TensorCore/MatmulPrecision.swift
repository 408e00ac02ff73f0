/// The arithmetic of every GEMM on the calling thread (`BLAS.sgemm`, hence `Tensor.matmul`,
/// attention, convolution and the objectives' kernels).
///
/// `bf16` is PyTorch autocast's bf16 GEMM (OpenCLIP's `--precision amp_bf16`): both inputs are
/// rounded to bf16 (nearest, ties to even), products are accumulated and returned in fp32. The
/// training step turns it on for the towers' forward and backward only; weights, optimizer state,
/// layer norm, softmax, losses and the objectives' GEMMs stay fp32.
///
/// The setting is task-local: `Parallel.forEachChunk` hands it to its threads; code that starts
/// its own threads passes it on with `with(_:_:)`.
public enum MatmulPrecision: String, Sendable, CaseIterable {
    case fp32, bf16

    @TaskLocal public static var current: MatmulPrecision = .fp32

    /// Runs `body` with GEMMs on this thread in `precision`.
    public static func with<R>(_ precision: MatmulPrecision, _ body: () throws -> R) rethrows -> R {
        try $current.withValue(precision, operation: body)
    }
}

/// How bf16 GEMMs run on this machine.
///
/// - native: oneDNN's bf16×bf16→fp32 kernel, on CPUs with AVX512-BF16 or AMX (about twice fp32's
///   GEMM rate);
/// - portable: elsewhere, the inputs are rounded to bf16 values held in fp32 and multiplied by
///   OpenBLAS's sgemm. A product of two bf16 values is exact in fp32, so this has the numerics of
///   a bf16 GEMM (up to the order of accumulation) on any CPU, but is no faster than fp32.
public struct BF16Engine: Sendable, Equatable {
    public enum Path: Sendable { case portable, oneDNN }

    /// oneDNN's implementation name (e.g. `brg:avx512_core_bf16`) when bf16 is native here.
    public let nativeImplementation: String?

    /// This machine's engine (probed once).
    public static let detected = BF16Engine(nativeImplementation: DNNL.nativeBF16Implementation())

    public var isNative: Bool { nativeImplementation != nil }
    public var path: Path { isNative ? .oneDNN : .portable }

    /// The instruction set oneDNN dispatches to on this CPU (e.g. `avx2`, `avx512_core_bf16`).
    public static var cpuISA: String { DNNL.cpuISA }

    /// bf16 GEMM shapes run so far for which oneDNN had no native kernel (they took the portable
    /// path, at fp32 speed), e.g. `65×64×65 ldc=256`; empty when bf16 is not native here.
    public static var portableShapes: [String] { DNNL.unsupportedBF16Shapes }

    /// One line saying how bf16 runs here.
    public var summary: String {
        if let nativeImplementation { return "bf16 GEMMs run natively (oneDNN \(nativeImplementation), fp32 accumulation)" }
        return "bf16: this CPU (\(Self.cpuISA)) has no AVX512-BF16 or AMX, so bf16 GEMMs round their inputs to bf16 "
            + "and run on fp32 sgemm: bf16 numerics, not faster than fp32 here"
    }
}
