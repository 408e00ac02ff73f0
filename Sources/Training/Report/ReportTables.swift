import Foundation
import Evaluation

/// The zero-shot per-class table and confusion matrix of the report.
enum ReportTables {
    static func zeroShot(_ snapshot: TrainingReport.ZeroShotSnapshot?) -> String {
        guard let s = snapshot else { return "" }
        let r = s.result
        var html = "<h2>Zero-shot per class (step \(s.step), \(r.count) images of \(HTML.escape(s.dataset)))</h2>"
        html += "<p>top-1 \(String(format: "%.2f %%", 100 * r.top1)), top-5 \(String(format: "%.2f %%", 100 * r.top5)), "
            + "mean per-class recall \(String(format: "%.2f %%", 100 * meanPerClassRecall(r))).</p>"
        html += "<div class=\"grid\">" + perClass(r) + confusion(r) + "</div>"
        return html
    }

    /// The mean of per-class accuracy over the classes that have images.
    static func meanPerClassRecall(_ r: ZeroShotResult) -> Double {
        let present = r.confusion.indices.filter { r.confusion[$0].reduce(0, +) > 0 }
        return present.map { r.perClassAccuracy[$0] }.reduce(0, +) / Double(max(present.count, 1))
    }

    static func perClass(_ r: ZeroShotResult) -> String {
        var html = "<table class=\"perclass\"><tr><th class=\"l\">class</th><th>images</th><th>correct</th><th>accuracy</th><th class=\"l\"></th></tr>"
        for (k, name) in r.classnames.enumerated() {
            let total = r.confusion[k].reduce(0, +), acc = r.perClassAccuracy[k]
            let bar = "<svg width=\"120\" height=\"10\"><rect width=\"120\" height=\"10\" fill=\"#eee\"/><rect width=\"\(String(format: "%.1f", 120 * acc))\" height=\"10\" fill=\"#1f77b4\"/></svg>"
            html += "<tr><td class=\"l\">\(HTML.escape(name))</td><td>\(total)</td><td>\(r.confusion[k][k])</td>"
                + "<td>\(total == 0 ? "–" : String(format: "%.1f %%", 100 * acc))</td><td class=\"l\">\(bar)</td></tr>"
        }
        return html + "</table>"
    }

    /// Rows: true class; columns: predicted class; cells shaded by their share of the row
    /// (green on the diagonal, red off it).
    static func confusion(_ r: ZeroShotResult) -> String {
        var html = "<table class=\"cm\"><caption>Confusion matrix (rows: true class, columns: predicted)</caption><tr><th></th>"
        html += r.classnames.map { "<th class=\"rot\">\(HTML.escape($0))</th>" }.joined() + "</tr>"
        for (t, name) in r.classnames.enumerated() {
            let total = max(r.confusion[t].reduce(0, +), 1)
            html += "<tr><th class=\"l\">\(HTML.escape(name))</th>"
            for p in r.classnames.indices {
                let n = r.confusion[t][p], share = Double(n) / Double(total)
                let color = n == 0 ? "#ffffff" : t == p ? shade(share, (27, 127, 59)) : shade(share, (200, 30, 30))
                let text = share > 0.55 ? "#fff" : "#222"
                html += "<td data-true=\"\(t)\" data-predicted=\"\(p)\" style=\"background:\(color);color:\(text)\">\(n)</td>"
            }
            html += "</tr>"
        }
        return html + "</table>"
    }

    /// White blended towards `rgb` by `share` (at least a light tint for any non-zero count).
    static func shade(_ share: Double, _ rgb: (Int, Int, Int)) -> String {
        let a = 0.12 + 0.88 * min(max(share, 0), 1)
        func mix(_ c: Int) -> Int { Int((255 * (1 - a) + Double(c) * a).rounded()) }
        return String(format: "#%02x%02x%02x", mix(rgb.0), mix(rgb.1), mix(rgb.2))
    }
}
