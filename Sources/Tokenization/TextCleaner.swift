import Foundation

/// OpenCLIP's text cleaning before BPE: `whitespace_clean(basic_clean(text)).lower()`, i.e.
/// ```
/// ftfy.fix_text → html.unescape ×2 → split on whitespace, join with " " → lower-case
/// ```
/// ftfy is reproduced for its deterministic, per-character fixes (see `FixText`); its mojibake
/// repair (`fix_encoding`) is not, so text that is itself mis-decoded UTF-8 ("cafÃ©") keeps
/// its mojibake here while OpenCLIP would repair it.
enum TextCleaner {
    /// Cleans one caption. - Returns: lower-cased code points, single spaces, no outer spaces.
    static func clean(_ text: String) -> [Unicode.Scalar] {
        if let fast = cleanPlainASCII(text) { return fast }
        var scalars = FixText.fixText(text)
        scalars = HTMLEntities.unescape(HTMLEntities.unescape(scalars))
        return lowercased(collapsingWhitespace(scalars))
    }

    /// Fast path for printable ASCII without "&" (nothing for ftfy or html to change).
    private static func cleanPlainASCII(_ text: String) -> [Unicode.Scalar]? {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.utf8.count)
        var pendingSpace = false
        for byte in text.utf8 {
            switch byte {
            case 0x09, 0x0A, 0x0C, 0x0D, 0x20:
                pendingSpace = !out.isEmpty
            case 0x21...0x7E where byte != 0x26:
                if pendingSpace { out.append(" "); pendingSpace = false }
                let lower = (0x41...0x5A).contains(byte) ? byte + 32 : byte
                out.append(Unicode.Scalar(lower))
            default:
                return nil
            }
        }
        return out
    }

    // MARK: - Python's str.split() / str.lower()

    /// Python's `str.isspace`: Unicode White_Space plus the separators U+001C–U+001F.
    static func isPythonWhitespace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F,
             0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `" ".join(text.split())`: whitespace runs become one space; leading/trailing ones go.
    static func collapsingWhitespace(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var pendingSpace = false
        for c in text {
            if isPythonWhitespace(c) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" "); pendingSpace = false }
                out.append(c)
            }
        }
        return out
    }

    /// Python's `str.lower()`: full lower-case mappings (U+0130 → "i̇"), and capital sigma
    /// becomes final "ς" after a cased letter when no cased letter follows (case-ignorable
    /// characters such as apostrophes are skipped on both sides), otherwise "σ".
    static func lowercased(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for (index, c) in text.enumerated() {
            if c.value < 0x80 {
                out.append((0x41...0x5A).contains(c.value) ? Unicode.Scalar(UInt8(c.value + 32)) : c)
            } else if c.value == 0x3A3 {
                out.append(isFinalSigma(text, at: index) ? "\u{3C2}" : "\u{3C3}")
            } else if c.properties.changesWhenLowercased {
                out += c.properties.lowercaseMapping.unicodeScalars
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// Unicode's Final_Sigma context: `\p{cased} \p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})`.
    private static func isFinalSigma(_ text: [Unicode.Scalar], at index: Int) -> Bool {
        var j = index - 1
        while j >= 0, text[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, text[j].properties.isCased else { return false }
        j = index + 1
        while j < text.count, text[j].properties.isCaseIgnorable { j += 1 }
        return j == text.count || !text[j].properties.isCased
    }
}

/// The deterministic part of ftfy's `fix_text` (ftfy 6.x defaults), applied per line:
/// ```
/// repeat until unchanged:
///   unescape_html (only if the line has no "<", and no earlier line had one)
///   fix_c1_controls      U+0080–U+009F read as Windows-1252
///   fix_latin_ligatures  ﬁ → fi, ĳ → ij, …
///   fix_character_width  fullwidth/halfwidth forms → NFKC, U+3000 → " "
///   uncurl_quotes        ‘ ’ ‚ ‛ ʼ → ',  “ ” „ ‟ → "
///   fix_line_breaks      CRLF, CR, U+2028, U+2029, U+0085 → "\n"
///   remove_terminal_escapes, remove_control_chars, NFC
/// ```
/// Not reproduced: `fix_encoding`, ftfy's heuristic mojibake repair (re-decoding "cafÃ©",
/// "â€™", or mixed C1/Latin-1 runs such as "\u{8E}\u{89}", with its sub-steps
/// `decode_inconsistent_utf8`, `restore_byte_a0`, `replace_lossy_sequences`); `fix_surrogates`
/// (Swift strings hold no surrogates); the one-million-character segment limit.
enum FixText {
    static func fixText(_ text: String) -> [Unicode.Scalar] {
        let scalars = Array(text.unicodeScalars)
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        var unescape = true
        var start = 0
        while start < scalars.count {
            var end = start
            while end < scalars.count, scalars[end] != "\n" { end += 1 }
            end = min(end + 1, scalars.count)           // keep the "\n" with its line
            let line = Array(scalars[start..<end])
            if unescape, line.contains("<") { unescape = false }
            out += fixLine(line, unescape: unescape)
            start = end
        }
        return out
    }

    static func fixLine(_ line: [Unicode.Scalar], unescape: Bool) -> [Unicode.Scalar] {
        var text = line
        while true {
            let original = text
            if unescape { text = HTMLEntities.unescapeStrict(text) }
            text = fixCharacters(text)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text = text.filter { !isControlToRemove($0) }
            text = nfc(text)
            if text == original { return text }
        }
    }

    /// C1 controls, ligatures, widths and curly quotes, chained per character in ftfy's order.
    static func fixCharacters(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains(where: { $0.value >= 0x80 }) else { return text }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for c in text {
            let c1 = (0x80...0x9F).contains(c.value) ? Windows1252.character(forByte: UInt8(c.value)) : c
            for l in ligature(c1) {
                for w in width(l) { out.append(uncurled(w)) }
            }
        }
        return out
    }

    static func ligature(_ c: Unicode.Scalar) -> [Unicode.Scalar] {
        switch c.value {
        case 0x132: return ["I", "J"]
        case 0x133: return ["i", "j"]
        case 0x149: return ["\u{2BC}", "n"]
        case 0x1F1: return ["D", "Z"]
        case 0x1F2: return ["D", "z"]
        case 0x1F3: return ["d", "z"]
        case 0x1C4: return ["D", "\u{17D}"]
        case 0x1C5: return ["D", "\u{17E}"]
        case 0x1C6: return ["d", "\u{17E}"]
        case 0x1C7: return ["L", "J"]
        case 0x1C8: return ["L", "j"]
        case 0x1C9: return ["l", "j"]
        case 0x1CA: return ["N", "J"]
        case 0x1CB: return ["N", "j"]
        case 0x1CC: return ["n", "j"]
        case 0xFB00: return ["f", "f"]
        case 0xFB01: return ["f", "i"]
        case 0xFB02: return ["f", "l"]
        case 0xFB03: return ["f", "f", "i"]
        case 0xFB04: return ["f", "f", "l"]
        case 0xFB05: return ["\u{17F}", "t"]
        case 0xFB06: return ["s", "t"]
        default: return [c]
        }
    }

    /// U+3000 → " "; U+FF01–U+FFEF → their NFKC form when that differs.
    static func width(_ c: Unicode.Scalar) -> [Unicode.Scalar] {
        if c.value == 0x3000 { return [" "] }
        guard (0xFF01...0xFFEF).contains(c.value) else { return [c] }
        return widthTable[Int(c.value - 0xFF01)]
    }

    private static let widthTable: [[Unicode.Scalar]] = (0xFF01...0xFFEF).map { value in
        guard let c = Unicode.Scalar(UInt32(value)) else { return [] }
        return Array(String(c).precomposedStringWithCompatibilityMapping.unicodeScalars)
    }

    static func uncurled(_ c: Unicode.Scalar) -> Unicode.Scalar {
        switch c.value {
        case 0x2BC, 0x2018...0x201B: return "'"
        case 0x201C...0x201F: return "\""
        default: return c
        }
    }

    static func fixLineBreaks(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains(where: { $0 == "\r" || $0 == "\u{2028}" || $0 == "\u{2029}" || $0 == "\u{85}" })
        else { return text }
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < text.count {
            switch text[i] {
            case "\r":
                out.append("\n")
                if i + 1 < text.count, text[i + 1] == "\n" { i += 1 }
            case "\u{2028}", "\u{2029}", "\u{85}":
                out.append("\n")
            default:
                out.append(text[i])
            }
            i += 1
        }
        return out
    }

    /// Removes ANSI escapes `ESC [ (\d|;)* [A-Za-z]` (`\d`: any decimal digit, as Python's `re`).
    static func removeTerminalEscapes(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("\u{1B}") else { return text }
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < text.count {
            if text[i] == "\u{1B}", i + 1 < text.count, text[i + 1] == "[" {
                var j = i + 2
                while j < text.count, text[j] == ";" || text[j].properties.generalCategory == .decimalNumber {
                    j += 1
                }
                if j < text.count, (0x41...0x5A).contains(text[j].value) || (0x61...0x7A).contains(text[j].value) {
                    i = j + 1
                    continue
                }
            }
            out.append(text[i])
            i += 1
        }
        return out
    }

    /// ftfy's `remove_control_chars`: U+0000–0008, 000B, 000E–001F, 007F, 206A–206F, FEFF, FFF9–FFFC.
    static func isControlToRemove(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
        default: return false
        }
    }

    /// Unicode NFC; text below U+0300 is already in NFC and is returned as is.
    ///
    /// Uses the standard library's normalizer (`_nfcCodeUnits`, public though underscored):
    /// Foundation's `precomposedStringWithCanonicalMapping` on Linux composes Hangul wrongly
    /// (U+1113 U+116E → U+FFFD, U+1100 U+1176 → U+AE4C) where Python and the stdlib do not.
    static func nfc(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains(where: { $0.value >= 0x300 }) else { return text }
        let string = String(String.UnicodeScalarView(text))
        return Array(String(decoding: string._nfcCodeUnits, as: UTF8.self).unicodeScalars)
    }
}
