/// Splits cleaned text into the pieces BPE encodes, by hand, as Python `regex`'s `findall` with
/// ```
/// <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
/// ```
/// and `IGNORECASE`. At each position the alternatives are tried in order; a position that
/// matches none (whitespace) is skipped. So a contraction is only found at the start of a piece
/// (`"!!'s"` → `!!'`, `s`), every digit is its own piece, and letters run together.
///
/// Case-insensitivity: the literals also match upper case, and `s` also matches "ſ" (U+017F)
/// by simple case folding. U+0345 (combining ypogegrammeni, which folds to the letter ι) is
/// neither a letter nor "other" under `IGNORECASE`, so it is skipped like whitespace.
/// Categories come from Swift's Unicode tables; code points assigned after the Unicode version
/// of this Swift may be classified differently from `regex`.
enum PreTokenizer {
    /// Character classes of the pattern.
    enum Kind { case space, letter, number, other }

    @inline(__always)
    static func kind(of c: Unicode.Scalar) -> Kind {
        let v = c.value
        if v < 0x80 {
            if (0x61...0x7A).contains(v) || (0x41...0x5A).contains(v) { return .letter }
            if (0x30...0x39).contains(v) { return .number }
            if v == 0x20 || (0x09...0x0D).contains(v) { return .space }
            return .other
        }
        if v == 0x345 { return .space }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return isRegexWhitespace(c) ? .space : .other
        }
    }

    /// `regex`'s `\s` for text: Unicode White_Space.
    static func isRegexWhitespace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    private static let specials: [[Unicode.Scalar]] = [
        Array(BPEVocabulary.startOfTextToken.unicodeScalars),
        Array(BPEVocabulary.endOfTextToken.unicodeScalars),
    ]
    private static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map {
        Array(("'" + $0).unicodeScalars)
    }

    /// The pieces of `text`, as ranges of indices into it.
    static func pieces(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var i = 0
        let n = text.count
        scan: while i < n {
            let c = text[i]
            if c == "<" {
                for special in specials where matches(special, in: text, at: i) {
                    pieces.append(i..<(i + special.count)); i += special.count
                    continue scan
                }
            } else if c == "'" {
                for contraction in contractions where matches(contraction, in: text, at: i) {
                    pieces.append(i..<(i + contraction.count)); i += contraction.count
                    continue scan
                }
            }
            let start = i
            switch kind(of: c) {
            case .space:
                i += 1
            case .letter:
                i += 1
                while i < n, kind(of: text[i]) == .letter { i += 1 }
                pieces.append(start..<i)
            case .number:
                i += 1
                pieces.append(start..<i)
            case .other:
                i += 1
                while i < n, kind(of: text[i]) == .other { i += 1 }
                pieces.append(start..<i)
            }
        }
        return pieces
    }

    /// Whether `literal` (lower-case ASCII) occurs at `index`, ignoring case as `regex` does.
    private static func matches(_ literal: [Unicode.Scalar], in text: [Unicode.Scalar], at index: Int) -> Bool {
        guard index + literal.count <= text.count else { return false }
        for (offset, expected) in literal.enumerated() {
            let c = text[index + offset]
            if c == expected { continue }
            let upper = (0x61...0x7A).contains(expected.value) ? expected.value - 32 : expected.value
            if c.value == upper || (expected == "s" && c == "\u{17F}") { continue }
            return false
        }
        return true
    }
}
