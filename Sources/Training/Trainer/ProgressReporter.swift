import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// Progress output: a live line on a terminal, plain periodic lines otherwise.
final class ProgressReporter {
    let total: Int
    let every: Int
    let live = isatty(STDOUT_FILENO) == 1
    private var printedLive = false

    let output: (String) -> Void

    init(total: Int, every: Int, output: @escaping (String) -> Void) { (self.total, self.every, self.output) = (total, every, output) }

    func report(_ r: StepRecord) {
        let remaining = Double(total - r.step) * (r.trainingSeconds ?? r.elapsedSeconds) / Double(max(r.step, 1))
        let loss = r.loss.map { String(format: "%.4f", $0) } ?? "nan"
        let line = String(format: "step %d/%d  loss %@  lr %.2e  scale %.2f  %.1f img/s  data wait %.0f%%  ETA %@",
                          r.step, total, loss as NSString, r.lr, r.logitMultiplier, r.imagesPerSecond, 100 * r.dataWaitShare,
                          Self.duration(remaining) as NSString)
        if live {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
            printedLive = true
        } else {
            output(line)
        }
    }

    func finish() { if printedLive { writeLine(""); printedLive = false } }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}

/// Writes a line to standard output unbuffered (progress must show up promptly in logs and pipes).
public func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
