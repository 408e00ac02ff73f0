import Foundation
import TensorCore

/// The machine a run trained on, as the report shows it: CPU model and cores, the GEMM kernels
/// (OpenBLAS core, oneDNN ISA, bf16 path), the precision, and ranks × workers.
public struct MachineSummary: Equatable, Sendable {
    public var host: String
    public var cpuModel: String
    public var logicalCores: Int
    public var operatingSystem: String
    /// OpenBLAS's kernel set (e.g. `SkylakeX`, `Zen`).
    public var openBLASCore: String
    /// The ISA oneDNN dispatches to (e.g. `avx512_core_bf16`).
    public var cpuISA: String
    /// How bf16 GEMMs run here (natively through oneDNN, or rounded inputs on the fp32 path).
    public var bf16: String
    /// `fp32` or `bf16`: what this run's GEMMs use.
    public var precision: String
    public var ranks: Int
    public var workers: Int

    public init(host: String, cpuModel: String, logicalCores: Int, operatingSystem: String, openBLASCore: String,
                cpuISA: String, bf16: String, precision: String, ranks: Int, workers: Int) {
        (self.host, self.cpuModel, self.logicalCores, self.operatingSystem) = (host, cpuModel, logicalCores, operatingSystem)
        (self.openBLASCore, self.cpuISA, self.bf16, self.precision, self.ranks, self.workers) = (openBLASCore, cpuISA, bf16, precision, ranks, workers)
    }

    /// This machine, for a run in `precision` with `ranks` × `workers`.
    public static func current(precision: MatmulPrecision, ranks: Int, workers: Int) -> MachineSummary {
        let info = ProcessInfo.processInfo
        return MachineSummary(host: info.hostName, cpuModel: cpuModelName() ?? "unknown", logicalCores: info.activeProcessorCount,
                              operatingSystem: info.operatingSystemVersionString, openBLASCore: BLAS.coreName, cpuISA: BF16Engine.cpuISA,
                              bf16: BF16Engine.detected.summary, precision: precision.rawValue, ranks: ranks, workers: workers)
    }

    /// The first `model name` line of /proc/cpuinfo (Linux); nil elsewhere.
    static func cpuModelName(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> String? {
        guard let cpuinfo else { return nil }
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("model name") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
