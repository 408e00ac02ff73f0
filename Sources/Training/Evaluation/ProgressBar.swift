import Foundation

/// A one-line progress bar on a terminal (silent otherwise), plus the result tables of `evaluate`.
public final class ProgressBar: @unchecked Sendable {
    let label: String
    let live = isatty(STDERR_FILENO) == 1
    public init(label: String) { self.label = label }

    public func update(_ done: Int, _ total: Int) {
        guard live, total > 0 else { return }
        let width = 30, filled = min(width, width * done / total)
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)".utf8))
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
        return ["retrieval on \(r.count) pairs", row("image→text", r.imageToText), row("text→image", r.textToImage)].joined(separator: "\n")
    }
}
