/// Deterministic JSON text for the files we write (safetensors headers, manifests): compact,
/// members in the order given, strings escaped minimally (`"`, `\`, control characters) with
/// everything else as raw UTF-8. The same input always gives the same bytes.
enum JSONText {
    /// `text` as a JSON string literal, quotes included.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// `{"k1":v1,"k2":v2}` from already-encoded member values, in the given order.
    static func object(_ members: [(key: String, json: String)]) -> String {
        "{" + members.map { quoted($0.key) + ":" + $0.json }.joined(separator: ",") + "}"
    }

    /// `[1,2,3]`.
    static func array(_ integers: [Int]) -> String {
        "[" + integers.map(String.init).joined(separator: ",") + "]"
    }
}

extension String {
    /// True if `self` sorts before `other` by UTF-8 bytes: the order of our headers and listings.
    /// (Swift's `<` compares canonical equivalence and could tie distinct byte strings.)
    func precedesByUTF8(_ other: String) -> Bool {
        utf8.lexicographicallyPrecedes(other.utf8)
    }
}
