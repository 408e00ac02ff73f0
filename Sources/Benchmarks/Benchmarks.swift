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

/// Engine and training-step measurements behind the `bench` command.
public enum Benchmarks {
    /// Median wall time of `body` over `repeats` runs after one warm-up, in seconds.
    public static func time(repeats: Int = 5, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    /// GFLOP/s of square GEMM at size `n` (2n³ FLOPs) with the current BLAS threads, in `precision`.
    public static func sgemm(n: Int, precision: MatmulPrecision = .fp32) -> Double {
        var rng = RandomGenerator(seed: 1)
        let a = Tensor.randomNormal([n, n], using: &rng), b = Tensor.randomNormal([n, n], using: &rng)
        let c = Tensor.zeros([n, n])
        let repeats = n <= 256 ? 50 : n <= 1024 ? 5 : 2
        let t = time(repeats: repeats) {
            MatmulPrecision.with(precision) {
                BLAS.sgemm(transA: false, transB: false, m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n,
                           c: c.pointer, ldc: n)
            }
        }
        return 2 * Double(n * n * n) / t / 1e9
    }

    /// Memory bandwidth of a plain streaming copy (read + write bytes per second), the machine reference.
    public static func copyBandwidth(elements: Int = 1 << 25) -> Double {
        let a = Tensor.ones([elements]), b = Tensor.zeros([elements])
        let t = time { b.pointer.update(from: a.pointer, count: elements) }
        return Double(8 * elements) / t / 1e9
    }

    /// Bandwidth (GB/s) of the element-wise add kernel (2 reads + 1 write per element).
    public static func addBandwidth(elements: Int = 1 << 25) -> Double {
        let a = Tensor.ones([elements]), b = Tensor.ones([elements])
        let t = time { _ = a + b }
        return Double(12 * elements) / t / 1e9
    }

    /// Bandwidth (GB/s) of layer norm forward over rows of `width` (1 read + 1 write per element).
    public static func layerNormBandwidth(rows: Int = 1 << 15, width: Int = 512) -> Double {
        let x = Tensor.ones([rows, width]), g = Tensor.ones([width]), b = Tensor.zeros([width])
        let t = time { _ = LayerNormKernel.forward(x, gamma: g, beta: b) }
        return Double(8 * rows * width) / t / 1e9
    }

    /// Bandwidth (GB/s) of exact GELU forward (1 read + 1 write).
    public static func geluBandwidth(elements: Int = 1 << 24) -> Double {
        var rng = RandomGenerator(seed: 2)
        let x = Tensor.randomNormal([elements], using: &rng)
        let t = time { _ = x.gelu() }
        return Double(8 * elements) / t / 1e9
    }

    /// Forward + backward time (ms) of fused attention for `qkv` [B, T, 3W].
    public static func attention(batch: Int, tokens: Int, width: Int, heads: Int) -> (forward: Double, backward: Double) {
        var rng = RandomGenerator(seed: 3)
        let qkv = Tensor.randomNormal([batch, tokens, 3 * width], using: &rng)
        let dout = Tensor.randomNormal([batch, tokens, width], using: &rng)
        var probs = Tensor.zeros([1])
        let f = time { probs = AttentionKernel.forward(qkv: qkv, heads: heads).probs }
        let b = time { _ = AttentionKernel.backward(qkv: qkv, probs: probs, heads: heads, dout: dout) }
        return (f * 1e3, b * 1e3)
    }

    /// Peak resident set size of the process in bytes.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
