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

/// A self-contained `report.html` (inline SVG, no network) plotting loss, learning rate, the
/// objective's logit multiplier (exp(t) for CLIP, 1/σ for ALIGN), throughput and zero-shot accuracy against steps.
public enum TrainingReport {
    public static func html(title: String, steps: [StepRecord], evals: [EvalRecord]) -> String {
        let charts: [(String, [(Double, Double)])] = [
            ("Loss", steps.compactMap { r in r.loss.map { (Double(r.step), $0) } }),
            ("Learning rate", steps.map { (Double($0.step), $0.lr) }),
            ("Logit multiplier", steps.map { (Double($0.step), $0.logitMultiplier) }),
            ("Images per second", steps.map { (Double($0.step), $0.imagesPerSecond) }),
            ("Zero-shot top-1", evals.map { (Double($0.step), $0.zeroshotTop1) }),
        ]
        let body = charts.map { svg(title: $0.0, points: $0.1) }.joined(separator: "\n")
        let last = steps.last.map { "step \($0.step), loss \($0.loss.map { String(format: "%.4f", $0) } ?? "non-finite")" } ?? "no steps yet"
        let acc = evals.last.map { String(format: ", zero-shot top-1 %.2f%%", 100 * $0.zeroshotTop1) } ?? ""
        return """
        <!doctype html><html><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:sans-serif;margin:24px;color:#222} .grid{display:flex;flex-wrap:wrap;gap:16px}
        figure{margin:0} figcaption{font-weight:bold;margin-bottom:4px}</style></head><body>
        <h1>\(escape(title))</h1><p>\(escape(last + acc))</p><div class="grid">\(body)</div></body></html>
        """
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func svg(title: String, points: [(Double, Double)]) -> String {
        let (w, h, pad) = (420.0, 220.0, 40.0)
        let finite = points.filter { $0.1.isFinite }
        guard let first = finite.first else {
            return "<figure><figcaption>\(escape(title))</figcaption><svg width=\"\(Int(w))\" height=\"\(Int(h))\"><text x=\"20\" y=\"110\">no data</text></svg></figure>"
        }
        var (x0, x1, y0, y1) = (first.0, first.0, first.1, first.1)
        for (x, y) in finite { x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y) }
        if x1 == x0 { x1 = x0 + 1 }
        if y1 == y0 { y1 = y0 + 1; y0 -= 1 }
        func px(_ x: Double) -> Double { pad + (x - x0) / (x1 - x0) * (w - 1.5 * pad) }
        func py(_ y: Double) -> Double { h - pad + (y0 - y) / (y1 - y0) * (h - 1.5 * pad) }
        let path = finite.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
        let marks = finite.count <= 40 ? finite.map { String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#1f77b4\"/>", px($0.0), py($0.1)) }.joined() : ""
        func label(_ v: Double) -> String { abs(v) < 1e-2 && v != 0 ? String(format: "%.1e", v) : String(format: "%.4g", v) }
        return """
        <figure><figcaption>\(escape(title))</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))">
        <rect x="0" y="0" width="\(Int(w))" height="\(Int(h))" fill="#fafafa" stroke="#ddd"/>
        <line x1="\(pad)" y1="\(h - pad)" x2="\(w - pad / 2)" y2="\(h - pad)" stroke="#888"/>
        <line x1="\(pad)" y1="\(pad / 2)" x2="\(pad)" y2="\(h - pad)" stroke="#888"/>
        <text x="\(pad)" y="\(h - pad + 16)" font-size="11">\(label(x0))</text>
        <text x="\(w - pad)" y="\(h - pad + 16)" font-size="11" text-anchor="end">step \(label(x1))</text>
        <text x="4" y="\(pad / 2 + 8)" font-size="11">\(label(y1))</text>
        <text x="4" y="\(h - pad)" font-size="11">\(label(y0))</text>
        <polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="\(path)"/>\(marks)</svg></figure>
        """
    }
}
