import Foundation
import Evaluation

/// The report's evaluation charts and tables: one series per number of images evaluated, since a
/// periodic evaluation of the first `limit` items and the final one of the whole dataset measure
/// different things and never share a line.
enum ReportEvaluations {
    static func percent(_ v: Double) -> String { String(format: "%.2f %%", 100 * v) }

    /// Zero-shot top-1 (solid) and top-5 (dashed) against steps, one colour per subset, and the table.
    static func zeroShot(_ evals: [EvalRecord]) -> String {
        guard !evals.isEmpty else { return "" }
        let sizes = Array(Set(evals.map(\.images))).sorted()
        var series: [LineChart.Series] = []
        for (k, n) in sizes.enumerated() {
            let rows = evals.filter { $0.images == n }
            series.append(.init(name: "top-1, \(n) images", points: rows.map { (Double($0.step), 100 * $0.zeroshotTop1) }, colorIndex: k))
            series.append(.init(name: "top-5, \(n) images", points: rows.map { (Double($0.step), 100 * $0.zeroshotTop5) }, dashed: true, colorIndex: k))
        }
        var html = "<div class=\"grid\">" + LineChart(title: "Zero-shot accuracy", yTitle: "accuracy (%)", series: series, yFromZero: true).svg()
        html += "<table><tr><th>step</th><th>images</th><th>top-1</th><th>top-5</th></tr>"
        for e in evals {
            html += "<tr><td>\(e.step)</td><td>\(e.images)</td><td>\(percent(e.zeroshotTop1))</td><td>\(percent(e.zeroshotTop5))</td></tr>"
        }
        html += "</table></div>"
        if sizes.count > 1 {
            html += "<p class=\"note\">Evaluations over different numbers of images are separate series: a periodic evaluation on the first eval.zeroshot.limit images and the final one on the whole dataset measure different things.</p>"
        }
        return html
    }

    /// Retrieval R@1 (solid), R@5 (dashed) and R@10 (dotted) against steps, one chart per
    /// direction and one colour per subset, and the table of every evaluation.
    static func retrieval(_ records: [RetrievalRecord]) -> String {
        guard !records.isEmpty else { return "" }
        let sizes = Array(Set(records.map(\.images))).sorted()
        func chart(_ title: String, _ direction: String, _ summary: (RetrievalRecord) -> RankingMetrics.Summary) -> String {
            var series: [LineChart.Series] = []
            for (c, n) in sizes.enumerated() {
                let rows = records.filter { $0.images == n }
                let ks: [(String, (RankingMetrics.Summary) -> Double)] = [("R@1", \.recallAt1), ("R@5", \.recallAt5), ("R@10", \.recallAt10)]
                for (i, (name, value)) in ks.enumerated() {
                    series.append(.init(name: "\(direction) \(name), \(n) images", points: rows.map { (Double($0.step), 100 * value(summary($0))) },
                                        dashed: i == 1, colorIndex: c, dotted: i == 2))
                }
            }
            return LineChart(title: title, yTitle: "recall (%)", series: series, yFromZero: true).svg()
        }
        var html = "<div class=\"grid\">" + chart("Image → text retrieval", "image→text", \.imageToText)
            + chart("Text → image retrieval", "text→image", \.textToImage)
        html += "<table class=\"retrieval\"><tr><th rowspan=\"2\">step</th><th rowspan=\"2\">images</th><th rowspan=\"2\">captions</th>"
            + "<th colspan=\"4\">image → text</th><th colspan=\"4\">text → image</th></tr><tr>"
            + String(repeating: "<th>R@1</th><th>R@5</th><th>R@10</th><th>median rank</th>", count: 2) + "</tr>"
        for r in records {
            let cells = [r.imageToText, r.textToImage].flatMap { s in
                [percent(s.recallAt1), percent(s.recallAt5), percent(s.recallAt10), String(format: "%g", s.medianRank)]
            }
            html += "<tr><td>\(r.step)</td><td>\(r.images)</td><td>\(r.captions)</td>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
        }
        html += "</table></div>"
        html += "<p class=\"note\">Retrieval as evaluate --task retrieval scores it (the objective's similarity): image→text counts a hit when any "
            + "of the image's captions is among the top k captions, text→image when the caption's image is among the top k images; ties count against."
            + (sizes.count > 1 ? " Evaluations over different numbers of images are separate series (eval.retrieval.limit periodically, the whole dataset at the end)." : "")
            + "</p>"
        return html
    }
}
