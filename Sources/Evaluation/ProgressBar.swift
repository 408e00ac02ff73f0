import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import DataPipeline
import Tokenization
import Checkpointing
import ModelStore

/// A one-line progress bar with an ETA on a terminal (silent otherwise), plus the result tables of `evaluate`.
public final class ProgressBar: @unchecked Sendable {
    let label: String
    let live = isatty(STDERR_FILENO) == 1
    let start = DispatchTime.now().uptimeNanoseconds
    public init(label: String) { self.label = label }

    /// "ETA m:ss" from the mean rate so far ("" before any progress).
    static func eta(done: Int, total: Int, elapsedSeconds: Double) -> String {
        guard done > 0, done < total else { return "" }
        let left = Int((elapsedSeconds / Double(done) * Double(total - done)).rounded())
        return String(format: " ETA %d:%02d", left / 60, left % 60)
    }

    public func update(_ done: Int, _ total: Int) {
        guard live, total > 0 else { return }
        let width = 30, filled = min(width, width * done / total)
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let eta = Self.eta(done: done, total: total, elapsedSeconds: elapsed)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)\(eta)\u{1B}[K".utf8))
    }

    public func finish() { if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
}

public enum ZeroShotReport {
    public static func table(_ r: ZeroShotResult) -> String {
        var lines = [String(format: "zero-shot on %d images: top-1 %.2f%%, top-5 %.2f%%", r.count, 100 * r.top1, 100 * r.top5)]
        let width = max(10, r.classnames.map(\.count).max() ?? 10)
        lines.append("  " + "class".padding(toLength: width, withPad: " ", startingAt: 0) + "  accuracy")
        for (name, acc) in zip(r.classnames, r.perClassAccuracy) {
            lines.append("  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %6.2f%%", 100 * acc))
        }
        return lines.joined(separator: "\n")
    }

    public static func table(_ r: RetrievalResult) -> String {
        func row(_ name: String, _ s: RankingMetrics.Summary) -> String {
            String(format: "  %@  R@1 %6.2f%%  R@5 %6.2f%%  R@10 %6.2f%%  mean rank %.1f  median rank %.0f",
                   name as NSString, 100 * s.recallAt1, 100 * s.recallAt5, 100 * s.recallAt10, s.meanRank, s.medianRank)
        }
        let what = r.captions == r.count ? "\(r.count) pairs" : "\(r.count) images with \(r.captions) captions"
        return ["retrieval on \(what)", row("image→text", r.imageToText), row("text→image", r.textToImage)].joined(separator: "\n")
    }
}
