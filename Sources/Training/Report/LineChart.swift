import Foundation

/// A line chart as inline SVG: axes with round ticks and labels, a y-axis title with its unit,
/// grid lines, one line per series (markers when points are few), and a legend when there is more
/// than one series. Non-finite points are left out.
struct LineChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var dashed = false
        /// The palette index of the line's colour; nil: the series' position.
        var colorIndex: Int? = nil
        /// A dotted line (a third style, after solid and dashed).
        var dotted = false
        /// The SVG `stroke-dasharray` attribute of the line ("" when solid).
        var dashAttribute: String { dotted ? " stroke-dasharray=\"1.5 3\"" : dashed ? " stroke-dasharray=\"5 3\"" : "" }
    }

    var title: String
    var yTitle: String
    var xTitle = "optimizer step"
    var series: [Series]
    /// Draw the y axis from zero (throughput, accuracy), not from the data's minimum.
    var yFromZero = false
    /// Extra marks along the x axis (e.g. skipped steps), drawn as red ticks, with their legend name.
    var markers: (name: String, xs: [Double])? = nil

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    static let width = 480.0
    static let (left, right, top, bottom) = (70.0, 16.0, 14.0, 48.0)

    func svg() -> String {
        let drawn = series.map { s in Series(name: s.name, points: s.points.filter { $0.x.isFinite && $0.y.isFinite }, dashed: s.dashed, colorIndex: s.colorIndex, dotted: s.dotted) }
        func color(_ i: Int) -> String { Self.palette[(drawn[i].colorIndex ?? i) % Self.palette.count] }
        let all = drawn.flatMap(\.points)
        // The legend (when more than one thing is drawn) sits above the plot, never over the data.
        var legend = drawn.enumerated().filter { !$0.element.points.isEmpty }.map { ($0.element.name, color($0.offset), $0.element.dashAttribute) }
        if let markers, !markers.xs.isEmpty { legend.append((markers.name, "#d62728", "")) }
        if legend.count < 2 && markers.map({ $0.xs.isEmpty }) != false { legend = [] }
        let legendRows = (legend.count + 1) / 2
        let top = Self.top + Double(legendRows) * 16
        let (w, h) = (Self.width, 240.0 + top)
        var out = "<figure class=\"chart\" data-chart=\"\(HTML.escape(title))\"><figcaption>\(HTML.escape(title))</figcaption>"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        out += "<rect x=\"0\" y=\"0\" width=\"\(Int(w))\" height=\"\(Int(h))\" fill=\"#ffffff\"/>"
        guard let first = all.first else {
            return out + "<text x=\"\(Int(w / 2))\" y=\"\(Int(h / 2))\" text-anchor=\"middle\" fill=\"#777\" font-size=\"13\">no data yet</text></svg></figure>"
        }
        let xs = all.map(\.x) + (markers?.xs ?? []), ys = all.map(\.y)
        let xAxis = ChartAxis(min(xs.min()!, first.x), xs.max()!, count: 6)
        let yAxis = ChartAxis(ys.min()!, ys.max()!, count: 5, includeZero: yFromZero)
        let (x0, x1, y0, y1) = (Self.left, w - Self.right, top, h - Self.bottom)
        let inset = 6.0   // points at the ends of the x range stay clear of the axis and the edge
        func px(_ x: Double) -> Double { x0 + inset + (x - xAxis.lower) / (xAxis.upper - xAxis.lower) * (x1 - x0 - 2 * inset) }
        func py(_ y: Double) -> Double { y1 - (y - yAxis.lower) / (yAxis.upper - yAxis.lower) * (y1 - y0) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        for t in yAxis.ticks {
            out += "<line x1=\"\(f(x0))\" y1=\"\(f(py(t)))\" x2=\"\(f(x1))\" y2=\"\(f(py(t)))\" stroke=\"#e6e6e6\"/>"
            out += "<text x=\"\(f(x0 - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#333\">\(HTML.escape(yAxis.label(t)))</text>"
        }
        for t in xAxis.ticks {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(y1))\" x2=\"\(f(px(t)))\" y2=\"\(f(y1 + 5))\" stroke=\"#555\"/>"
            out += "<text x=\"\(f(px(t)))\" y=\"\(f(y1 + 18))\" text-anchor=\"middle\" font-size=\"11\" fill=\"#333\">\(HTML.escape(xAxis.label(t)))</text>"
        }
        out += "<line x1=\"\(f(x0))\" y1=\"\(f(y1))\" x2=\"\(f(x1))\" y2=\"\(f(y1))\" stroke=\"#555\"/>"
        out += "<line x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x0))\" y2=\"\(f(y1))\" stroke=\"#555\"/>"
        out += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(f(h - 8))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#333\">\(HTML.escape(xTitle))</text>"
        out += "<text transform=\"translate(14 \(f((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\" fill=\"#333\">\(HTML.escape(yTitle))</text>"

        for (i, s) in drawn.enumerated() where !s.points.isEmpty {
            let color = color(i)
            let path = s.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            out += "<polyline data-series=\"\(HTML.escape(s.name))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(s.dashAttribute) points=\"\(path)\"/>"
            if s.points.count <= 60 {
                out += s.points.map { "<circle cx=\"\(f(px($0.x)))\" cy=\"\(f(py($0.y)))\" r=\"2.8\" fill=\"\(color)\"/>" }.joined()
            }
        }
        if let markers {
            out += markers.xs.map { "<line x1=\"\(f(px($0)))\" y1=\"\(f(y1 - 10))\" x2=\"\(f(px($0)))\" y2=\"\(f(y1))\" stroke=\"#d62728\" stroke-width=\"2\"/>" }.joined()
        }
        for (i, (name, color, dash)) in legend.enumerated() {
            let x = x0 + Double(i % 2) * (x1 - x0) / 2, y = Self.top / 2 + 4 + Double(i / 2) * 16
            out += "<line x1=\"\(f(x))\" y1=\"\(f(y))\" x2=\"\(f(x + 20))\" y2=\"\(f(y))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>"
            out += "<text x=\"\(f(x + 25))\" y=\"\(f(y + 4))\" font-size=\"11\" fill=\"#333\">\(HTML.escape(name))</text>"
        }
        return out + "</svg></figure>"
    }
}

/// HTML text escaping.
enum HTML {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
