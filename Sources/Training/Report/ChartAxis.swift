import Foundation

/// A chart axis: a range widened to round tick values (1, 2 or 5 × 10ⁿ apart), and their labels.
struct ChartAxis: Equatable {
    var lower: Double
    var upper: Double
    var ticks: [Double]
    var step: Double

    /// An axis over `lo...hi` with about `count` ticks; a single value gets a unit-wide range around it.
    init(_ lo: Double, _ hi: Double, count: Int = 5, includeZero: Bool = false) {
        var (lo, hi) = (min(lo, hi), max(lo, hi))
        if includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        if hi - lo <= Swift.abs(hi) * 1e-12 || hi == lo {
            let pad = hi == 0 ? 1 : Swift.abs(hi) * 0.1
            (lo, hi) = (lo - pad, hi + pad)
            if includeZero && lo < 0 && (hi - pad) >= 0 { lo = 0 }
        }
        let raw = (hi - lo) / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let n = raw / magnitude
        let step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * magnitude
        let lower = floor(lo / step + 1e-9) * step, upper = ceil(hi / step - 1e-9) * step
        let k = Int(((upper - lower) / step).rounded())
        (self.step, self.lower, self.upper) = (step, lower, upper)
        ticks = (0...k).map { lower + Double($0) * step }
    }

    /// A tick's label: as many decimals as the tick spacing needs, exponent form for tiny or huge values.
    func label(_ v: Double) -> String {
        if v == 0 || Swift.abs(v) < step * 1e-6 { return "0" }
        if usesExponent {   // the fewest mantissa digits that still give this tick exactly
            let digits = (0...3).first { d in Double(String(format: "%.\(d)e", v)).map { Swift.abs($0 - v) <= step * 1e-6 } ?? false } ?? 3
            return String(format: "%.\(digits)e", v).replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e")
                .replacingOccurrences(of: "e+", with: "e")
        }
        let decimals = max(0, Int(ceil(-log10(step) - 1e-9)))
        if decimals == 0 && Swift.max(Swift.abs(lower), Swift.abs(upper)) >= 10_000 { return Self.grouped(Int(v.rounded())) }
        return String(format: "%.\(decimals)f", v)
    }

    /// Every label of the axis in exponent form when its ticks are tiny (spacing under 0.001) or huge.
    var usesExponent: Bool { step < 1e-3 || Swift.max(Swift.abs(lower), Swift.abs(upper)) >= 1e6 }

    /// 12345 → "12 345" (a thin space groups thousands).
    static func grouped(_ n: Int) -> String {
        var digits = String(Swift.abs(n)), out = ""
        while digits.count > 3 { out = "\u{2009}" + digits.suffix(3) + out; digits.removeLast(3) }
        return (n < 0 ? "−" : "") + digits + out
    }
}
