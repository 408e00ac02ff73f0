/// HTML character-reference decoding, as Python's `html.unescape` and ftfy's `unescape_html`.
///
/// Named references use the HTML 4.01 table (252 names, with `lang`/`rang` as HTML5 redefined
/// them), `apos`, the all-caps `AMP COPY GT LT QUOT REG TRADE`, HTML5's names for ASCII
/// punctuation (`&excl;`, `&lpar;`, `&commat;`, …) and a few symbols (`&check;`, `&star;`,
/// `&hyphen;`, `&half;`); HTML5's other ~1,900 names (`&Sum;`, `&rarrw;`, …) stay undecoded.
/// Numeric references follow HTML5 exactly.
enum HTMLEntities {
    /// Entity name → code point: HTML 4.01 names and HTML5's legacy all-caps ones.
    static let html4: [String: UInt32] = [
        "quot": 0x22, "amp": 0x26, "lt": 0x3C, "gt": 0x3E, "nbsp": 0xA0, "iexcl": 0xA1, "cent": 0xA2,
        "pound": 0xA3, "curren": 0xA4, "yen": 0xA5, "brvbar": 0xA6, "sect": 0xA7, "uml": 0xA8,
        "copy": 0xA9, "ordf": 0xAA, "laquo": 0xAB, "not": 0xAC, "shy": 0xAD, "reg": 0xAE, "macr": 0xAF,
        "deg": 0xB0, "plusmn": 0xB1, "sup2": 0xB2, "sup3": 0xB3, "acute": 0xB4, "micro": 0xB5,
        "para": 0xB6, "middot": 0xB7, "cedil": 0xB8, "sup1": 0xB9, "ordm": 0xBA, "raquo": 0xBB,
        "frac14": 0xBC, "frac12": 0xBD, "frac34": 0xBE, "iquest": 0xBF, "Agrave": 0xC0, "Aacute": 0xC1,
        "Acirc": 0xC2, "Atilde": 0xC3, "Auml": 0xC4, "Aring": 0xC5, "AElig": 0xC6, "Ccedil": 0xC7,
        "Egrave": 0xC8, "Eacute": 0xC9, "Ecirc": 0xCA, "Euml": 0xCB, "Igrave": 0xCC, "Iacute": 0xCD,
        "Icirc": 0xCE, "Iuml": 0xCF, "ETH": 0xD0, "Ntilde": 0xD1, "Ograve": 0xD2, "Oacute": 0xD3,
        "Ocirc": 0xD4, "Otilde": 0xD5, "Ouml": 0xD6, "times": 0xD7, "Oslash": 0xD8, "Ugrave": 0xD9,
        "Uacute": 0xDA, "Ucirc": 0xDB, "Uuml": 0xDC, "Yacute": 0xDD, "THORN": 0xDE, "szlig": 0xDF,
        "agrave": 0xE0, "aacute": 0xE1, "acirc": 0xE2, "atilde": 0xE3, "auml": 0xE4, "aring": 0xE5,
        "aelig": 0xE6, "ccedil": 0xE7, "egrave": 0xE8, "eacute": 0xE9, "ecirc": 0xEA, "euml": 0xEB,
        "igrave": 0xEC, "iacute": 0xED, "icirc": 0xEE, "iuml": 0xEF, "eth": 0xF0, "ntilde": 0xF1,
        "ograve": 0xF2, "oacute": 0xF3, "ocirc": 0xF4, "otilde": 0xF5, "ouml": 0xF6, "divide": 0xF7,
        "oslash": 0xF8, "ugrave": 0xF9, "uacute": 0xFA, "ucirc": 0xFB, "uuml": 0xFC, "yacute": 0xFD,
        "thorn": 0xFE, "yuml": 0xFF, "OElig": 0x152, "oelig": 0x153, "Scaron": 0x160, "scaron": 0x161,
        "Yuml": 0x178, "fnof": 0x192, "circ": 0x2C6, "tilde": 0x2DC, "Alpha": 0x391, "Beta": 0x392,
        "Gamma": 0x393, "Delta": 0x394, "Epsilon": 0x395, "Zeta": 0x396, "Eta": 0x397, "Theta": 0x398,
        "Iota": 0x399, "Kappa": 0x39A, "Lambda": 0x39B, "Mu": 0x39C, "Nu": 0x39D, "Xi": 0x39E,
        "Omicron": 0x39F, "Pi": 0x3A0, "Rho": 0x3A1, "Sigma": 0x3A3, "Tau": 0x3A4, "Upsilon": 0x3A5,
        "Phi": 0x3A6, "Chi": 0x3A7, "Psi": 0x3A8, "Omega": 0x3A9, "alpha": 0x3B1, "beta": 0x3B2,
        "gamma": 0x3B3, "delta": 0x3B4, "epsilon": 0x3B5, "zeta": 0x3B6, "eta": 0x3B7, "theta": 0x3B8,
        "iota": 0x3B9, "kappa": 0x3BA, "lambda": 0x3BB, "mu": 0x3BC, "nu": 0x3BD, "xi": 0x3BE,
        "omicron": 0x3BF, "pi": 0x3C0, "rho": 0x3C1, "sigmaf": 0x3C2, "sigma": 0x3C3, "tau": 0x3C4,
        "upsilon": 0x3C5, "phi": 0x3C6, "chi": 0x3C7, "psi": 0x3C8, "omega": 0x3C9, "thetasym": 0x3D1,
        "upsih": 0x3D2, "piv": 0x3D6, "ensp": 0x2002, "emsp": 0x2003, "thinsp": 0x2009, "zwnj": 0x200C,
        "zwj": 0x200D, "lrm": 0x200E, "rlm": 0x200F, "ndash": 0x2013, "mdash": 0x2014, "lsquo": 0x2018,
        "rsquo": 0x2019, "sbquo": 0x201A, "ldquo": 0x201C, "rdquo": 0x201D, "bdquo": 0x201E,
        "dagger": 0x2020, "Dagger": 0x2021, "bull": 0x2022, "hellip": 0x2026, "permil": 0x2030,
        "prime": 0x2032, "Prime": 0x2033, "lsaquo": 0x2039, "rsaquo": 0x203A, "oline": 0x203E,
        "frasl": 0x2044, "euro": 0x20AC, "image": 0x2111, "weierp": 0x2118, "real": 0x211C,
        "trade": 0x2122, "alefsym": 0x2135, "larr": 0x2190, "uarr": 0x2191, "rarr": 0x2192, "darr": 0x2193,
        "harr": 0x2194, "crarr": 0x21B5, "lArr": 0x21D0, "uArr": 0x21D1, "rArr": 0x21D2, "dArr": 0x21D3,
        "hArr": 0x21D4, "forall": 0x2200, "part": 0x2202, "exist": 0x2203, "empty": 0x2205,
        "nabla": 0x2207, "isin": 0x2208, "notin": 0x2209, "ni": 0x220B, "prod": 0x220F, "sum": 0x2211,
        "minus": 0x2212, "lowast": 0x2217, "radic": 0x221A, "prop": 0x221D, "infin": 0x221E, "ang": 0x2220,
        "and": 0x2227, "or": 0x2228, "cap": 0x2229, "cup": 0x222A, "int": 0x222B, "there4": 0x2234,
        "sim": 0x223C, "cong": 0x2245, "asymp": 0x2248, "ne": 0x2260, "equiv": 0x2261, "le": 0x2264,
        "ge": 0x2265, "sub": 0x2282, "sup": 0x2283, "nsub": 0x2284, "sube": 0x2286, "supe": 0x2287,
        "oplus": 0x2295, "otimes": 0x2297, "perp": 0x22A5, "sdot": 0x22C5, "lceil": 0x2308,
        "rceil": 0x2309, "lfloor": 0x230A, "rfloor": 0x230B, "lang": 0x27E8, "rang": 0x27E9, "loz": 0x25CA,
        "spades": 0x2660, "clubs": 0x2663, "hearts": 0x2665, "diams": 0x2666, "AMP": 0x26,
        "COPY": 0xA9, "GT": 0x3E, "LT": 0x3C, "QUOT": 0x22, "REG": 0xAE,
    ]

    /// HTML5-only names: `apos`, all-caps TRADE, ASCII punctuation, a few common symbols.
    static let html5Additions: [String: UInt32] = [
        "apos": 0x27, "TRADE": 0x2122, "Tab": 0x9, "NewLine": 0xA, "excl": 0x21, "num": 0x23,
        "dollar": 0x24, "percnt": 0x25, "lpar": 0x28, "rpar": 0x29, "ast": 0x2A, "midast": 0x2A, "plus": 0x2B,
        "comma": 0x2C, "period": 0x2E, "sol": 0x2F, "colon": 0x3A, "semi": 0x3B, "equals": 0x3D,
        "quest": 0x3F, "commat": 0x40, "lbrack": 0x5B, "lsqb": 0x5B, "bsol": 0x5C, "rbrack": 0x5D,
        "rsqb": 0x5D, "Hat": 0x5E, "UnderBar": 0x5F, "lowbar": 0x5F, "DiacriticalGrave": 0x60,
        "grave": 0x60, "lbrace": 0x7B, "lcub": 0x7B, "VerticalLine": 0x7C, "verbar": 0x7C,
        "vert": 0x7C, "rbrace": 0x7D, "rcub": 0x7D, "check": 0x2713, "cross": 0x2717,
        "star": 0x2606, "starf": 0x2605, "hyphen": 0x2010, "dash": 0x2010, "half": 0xBD,
    ]

    /// Entity name → code point, all names.
    static let named: [String: UInt32] = html4.merging(html5Additions) { first, _ in first }

    /// Names that also decode without a trailing ";": HTML 4's Latin-1 ones (HTML5's legacy set).
    static func isLegacy(_ name: String) -> Bool {
        guard let value = html4[name] else { return false }
        return value <= 0xFF
    }

    /// ftfy also decodes all-caps spellings of lower-case names (`&EACUTE;` → "É") when the
    /// all-caps name is not an entity itself: name → upper-cased character(s).
    static let allCaps: [String: [Unicode.Scalar]] = {
        var table: [String: [Unicode.Scalar]] = [:]
        for (name, value) in named where name == name.lowercased() {
            let upper = name.uppercased()
            guard named[upper] == nil, let scalar = Unicode.Scalar(value) else { continue }
            table[upper] = Array(String(scalar).uppercased().unicodeScalars)
        }
        return table
    }()

    // MARK: - Python's html.unescape

    /// Python's `html.unescape`: every match of
    /// `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)` is replaced by its character.
    /// Named references without ";" decode only for legacy names, longest prefix first
    /// (`&ampx` → "&x"); unknown ones stay as written.
    static func unescape(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("&") else { return text }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            guard text[i] == "&", i + 1 < text.count else { out.append(text[i]); i += 1; continue }
            if text[i + 1] == "#" {
                if let (value, end) = numericReference(text, from: i + 2, requireSemicolon: false) {
                    out += characterForNumber(value)
                    i = end
                } else {
                    out.append("&"); i += 1
                }
                continue
            }
            // Named: up to 32 characters outside \t \n \f space < & # ;, then an optional ";".
            var end = i + 1
            while end < text.count, end - (i + 1) < 32, !isNameTerminator(text[end]) { end += 1 }
            guard end > i + 1 else { out.append("&"); i += 1; continue }
            let hasSemicolon = end < text.count && text[end] == ";"
            let name = String(String.UnicodeScalarView(text[(i + 1)..<end]))
            if hasSemicolon, let value = named[name], let scalar = Unicode.Scalar(value) {
                out.append(scalar); i = end + 1; continue
            }
            if !hasSemicolon, isLegacy(name), let scalar = Unicode.Scalar(named[name] ?? 0) {
                out.append(scalar); i = end; continue
            }
            // Longest legacy prefix (at least two characters) of the name plus optional ";".
            let candidates = Array(text[(i + 1)..<(hasSemicolon ? end + 1 : end)])
            var matched = false
            var length = candidates.count - 1
            while length >= 2 {
                let prefix = String(String.UnicodeScalarView(candidates[0..<length]))
                if isLegacy(prefix), let scalar = Unicode.Scalar(named[prefix] ?? 0) {
                    out.append(scalar)
                    out += candidates[length...]
                    matched = true
                    break
                }
                length -= 1
            }
            if !matched { out.append("&"); out += candidates }
            i += 1 + candidates.count
        }
        return out
    }

    private static func isNameTerminator(_ c: Unicode.Scalar) -> Bool {
        c == "\t" || c == "\n" || c == "\u{0C}" || c == " " || c == "<" || c == "&" || c == "#" || c == ";"
    }

    /// Parses `[0-9]+;?` or `[xX][0-9a-fA-F]+;?` at `start` (just after "&#").
    /// - Returns: the value (saturated above 0x10FFFF) and the index after the reference.
    static func numericReference(_ text: [Unicode.Scalar], from start: Int,
                                 requireSemicolon: Bool) -> (value: UInt32, end: Int)? {
        var i = start
        var radix: UInt32 = 10
        if i < text.count, text[i] == "x" || text[i] == "X" { radix = 16; i += 1 }
        let digitsStart = i
        var value: UInt32 = 0
        while i < text.count, let digit = digitValue(text[i], radix: radix) {
            value = value > 0x10FFFF ? value : value * radix + digit
            i += 1
        }
        guard i > digitsStart else { return nil }
        if i < text.count, text[i] == ";" { return (value, i + 1) }
        return requireSemicolon ? nil : (value, i)
    }

    private static func digitValue(_ c: Unicode.Scalar, radix: UInt32) -> UInt32? {
        switch c.value {
        case 0x30...0x39: return c.value - 0x30
        case 0x41...0x46 where radix == 16: return c.value - 0x41 + 10
        case 0x61...0x66 where radix == 16: return c.value - 0x61 + 10
        default: return nil
        }
    }

    /// HTML5's rules for a numeric reference: NUL → U+FFFD, CR stays, 0x80–0x9F as Windows-1252,
    /// surrogates and values above 0x10FFFF → U+FFFD, other controls and non-characters → "".
    static func characterForNumber(_ value: UInt32) -> [Unicode.Scalar] {
        if value == 0 { return ["\u{FFFD}"] }
        if value == 0x0D { return ["\r"] }
        if (0x80...0x9F).contains(value) { return [Windows1252.character(forByte: UInt8(value))] }
        if (0xD800...0xDFFF).contains(value) || value > 0x10FFFF { return ["\u{FFFD}"] }
        let invalid = (0x01...0x08).contains(value) || value == 0x0B || (0x0E...0x1F).contains(value)
            || (0x7F...0x9F).contains(value) || (0xFDD0...0xFDEF).contains(value)
            || (value & 0xFFFE) == 0xFFFE
        if invalid { return [] }
        return Unicode.Scalar(value).map { [$0] } ?? ["\u{FFFD}"]
    }

    // MARK: - ftfy's unescape_html

    /// ftfy's `unescape_html`: only references matching `&#?[0-9A-Za-z]{1,24};` are decoded —
    /// names from the table (and their all-caps spellings), numbers when `html.unescape`
    /// consumes the whole reference.
    static func unescapeStrict(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("&") else { return text }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            guard text[i] == "&" else { out.append(text[i]); i += 1; continue }
            let hash = i + 1 < text.count && text[i + 1] == "#"
            let runStart = hash ? i + 2 : i + 1
            var end = runStart
            while end < text.count, isASCIIAlphanumeric(text[end]) { end += 1 }
            let length = end - runStart
            guard (1...24).contains(length), end < text.count, text[end] == ";" else {
                out.append("&"); i += 1; continue
            }
            let reference = Array(text[i...end])
            if hash {
                // html.unescape of the reference; keep it unless that consumed the ";".
                let decoded = unescape(reference)
                out += decoded.contains(";") ? reference : decoded
            } else {
                let name = String(String.UnicodeScalarView(text[runStart..<end]))
                if let value = named[name], let scalar = Unicode.Scalar(value) {
                    out.append(scalar)
                } else if let upper = allCaps[name] {
                    out += upper
                } else {
                    out += reference
                }
            }
            i = end + 1
        }
        return out
    }

    private static func isASCIIAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        (0x30...0x39).contains(c.value) || (0x41...0x5A).contains(c.value) || (0x61...0x7A).contains(c.value)
    }
}

/// Windows-1252 for bytes 0x80–0x9F; the five undefined bytes map to themselves ("sloppy").
enum Windows1252 {
    private static let high: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D, 0x17D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
    ]

    /// - Precondition: `byte` in 0x80...0x9F.
    static func character(forByte byte: UInt8) -> Unicode.Scalar {
        Unicode.Scalar(high[Int(byte) - 0x80]) ?? "\u{FFFD}"
    }
}
