/// Brace patterns as WebDataset expands its URLs (the `braceexpand` package): `{a,b,c}` alternatives,
/// `{00000..00099}` integer ranges (zero-padded to the wider bound when either bound starts with a
/// zero), `{1..9..2}` with a step, `{a..e}` letter ranges; several braces and nested braces expand to
/// every combination, the leftmost brace varying slowest. `\{`, `\}` and `\,` are literal.
public enum BraceExpansion {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Whether `pattern` holds an unescaped brace.
    public static func hasBraces(_ pattern: String) -> Bool {
        var escaped = false
        for c in pattern {
            if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "{" || c == "}" { return true }
        }
        return false
    }

    /// Every string `pattern` stands for, in order. Throws for an unbalanced brace.
    public static func expand(_ pattern: String) throws -> [String] {
        var tokens = Array(pattern)
        var position = 0
        let result = try sequence(&tokens, &position, inBrace: false)
        guard position == tokens.count else { throw Failure(description: "\(pattern): unbalanced '}' at character \(position + 1)") }
        return result
    }

    /// A run of literals and braces up to the end, or (inside a brace) up to an unescaped `,` or `}`.
    private static func sequence(_ t: inout [Character], _ i: inout Int, inBrace: Bool) throws -> [String] {
        var results = [""]
        var literal = ""
        func flush() { if !literal.isEmpty { results = results.map { $0 + literal }; literal = "" } }
        while i < t.count {
            let c = t[i]
            if c == "\\", i + 1 < t.count {
                literal.append(t[i + 1]); i += 2; continue
            }
            if inBrace && (c == "," || c == "}") { break }
            if c == "}" { break }
            if c == "{" {
                flush()
                let open = i
                i += 1
                let options = try brace(&t, &i, openedAt: open)
                results = results.flatMap { prefix in options.map { prefix + $0 } }
                continue
            }
            literal.append(c)
            i += 1
        }
        flush()
        return results
    }

    /// The alternatives of a brace whose `{` was at `open`; `i` is just after it and ends after its `}`.
    private static func brace(_ t: inout [Character], _ i: inout Int, openedAt open: Int) throws -> [String] {
        // A range: the brace's text up to its `}` is `x..y` or `x..y..step`.
        if let close = t[i...].firstIndex(of: "}") , !t[i..<close].contains("{"), !t[i..<close].contains(","),
           let range = self.range(String(t[i..<close])) {
            i = close + 1
            return range
        }
        var options: [String] = []
        var parts = 0
        while true {
            options += try sequence(&t, &i, inBrace: true)
            parts += 1
            guard i < t.count else { throw Failure(description: "\(String(t)): unbalanced '{' at character \(open + 1)") }
            i += 1
            if t[i - 1] == "}" { break }
        }
        // `{x}` without a comma or range is kept literally, as braceexpand does.
        return parts == 1 ? options.map { "{" + $0 + "}" } : options
    }

    /// The items of `x..y[..step]`, integers or single letters; nil when `text` is no range.
    private static func range(_ text: String) -> [String]? {
        let parts = text.components(separatedBy: "..")
        guard parts.count == 2 || parts.count == 3 else { return nil }
        var step = 1
        if parts.count == 3 { guard let s = Int(parts[2]), s != 0 else { return nil }; step = abs(s) }
        if let a = Int(parts[0]), let b = Int(parts[1]) {
            func padded(_ s: String) -> Bool { let digits = s.hasPrefix("-") ? s.dropFirst() : Substring(s); return digits.count > 1 && digits.hasPrefix("0") }
            let width = padded(parts[0]) || padded(parts[1]) ? max(parts[0].count, parts[1].count) : 0
            let values = a <= b ? Array(stride(from: a, through: b, by: step)) : Array(stride(from: a, through: b, by: -step))
            return values.map { value in
                let digits = String(abs(value))
                let sign = value < 0 ? "-" : ""
                return sign + String(repeating: "0", count: max(0, width - sign.count - digits.count)) + digits
            }
        }
        guard parts[0].count == 1, parts[1].count == 1, let a = parts[0].unicodeScalars.first, let b = parts[1].unicodeScalars.first,
              a.properties.isAlphabetic, b.properties.isAlphabetic else { return nil }
        let values = a.value <= b.value ? Array(stride(from: a.value, through: b.value, by: step))
                                        : Array(stride(from: a.value, through: b.value, by: -step))
        return values.compactMap { Unicode.Scalar($0).map { String(Character($0)) } }
    }
}
