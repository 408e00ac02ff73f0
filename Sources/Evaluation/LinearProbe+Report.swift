import Foundation

extension ZeroShotReport {
    /// The linear probe's scores on the test set, the λ it chose, and per-class recall.
    public static func table(_ r: LinearProbeResult) -> String {
        let held = r.validationCount > 0 ? String(format: ", chosen on %d held-out images", r.validationCount) : " (fixed)"
        var lines = [
            String(format: "linear probe on %d images: top-1 %.2f%%, top-5 %.2f%%, mean per-class recall %.2f%%",
                   r.count, 100 * r.top1, 100 * r.top5, 100 * r.meanPerClassRecall),
            String(format: "  fit on %d images, λ = %.4g (C = %.4g)%@; %d L-BFGS iterations%@", r.trainCount, r.lambda, 1 / r.lambda,
                   held, r.fit.iterations, r.fit.converged ? "" : " (not converged)"),
        ]
        let width = max(10, r.classnames.map(\.count).max() ?? 10)
        lines.append("  " + "class".padding(toLength: width, withPad: " ", startingAt: 0) + "  recall")
        for (name, acc) in zip(r.classnames, r.perClassAccuracy) {
            lines.append("  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %6.2f%%", 100 * acc))
        }
        return lines.joined(separator: "\n")
    }
}
