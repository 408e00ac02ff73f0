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

/// A per-op table of one training step: time, share of the step, GFLOP/s.
public enum OpProfile {
    public struct Row: Codable {
        public var op: String
        public var milliseconds: Double
        public var share: Double
        public var gflops: Double?
    }

    /// Runs `step` once with the profiler on and returns rows sorted by time, plus an
    /// "other" row for work outside recorded ops (objective glue, gather/reduce, optimizer).
    public static func measure(_ step: () -> Void) -> [Row] {
        Profiler.reset()
        Profiler.isEnabled = true
        Profiler.markStart()
        let start = DispatchTime.now().uptimeNanoseconds
        step()
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        Profiler.isEnabled = false
        let entries = Profiler.snapshot()
        // Worker threads run concurrently: scale thread-seconds to the wall time they share.
        let threadSeconds = entries.values.reduce(0) { $0 + $1.forwardSeconds + $1.backwardSeconds }
        var rows = entries.map { name, e -> Row in
            let s = e.forwardSeconds + e.backwardSeconds
            return Row(op: name, milliseconds: s * 1e3, share: s / max(threadSeconds, total),
                       gflops: e.flops > 0 ? e.flops / s / 1e9 : nil)
        }
        rows.sort { $0.milliseconds > $1.milliseconds }
        rows.append(Row(op: "(step wall time)", milliseconds: total * 1e3, share: 1, gflops: nil))
        return rows
    }
}
