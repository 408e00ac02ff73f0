/// Splits a caption into sentences: a sentence ends with a run of ".", "!" or "?" that is
/// followed by whitespace or the end of the text. Sentences keep their end marks, are trimmed,
/// and empty ones are dropped; "3.5" or "a.m." inside a word do not split, "e.g. this" does.
///
/// Long-CLIP trains the short-caption objective on the first sentence; multi-positive
/// objectives (DreamLIP) use each sentence as a positive.
///
///     sentences(of: "A dog runs. It is happy!  Why?") == ["A dog runs.", "It is happy!", "Why?"]
public func sentences(of text: String) -> [String] {
    let scalars = Array(text.unicodeScalars)
    var result: [String] = []
    var start = 0
    var i = 0
    func flush(upTo end: Int) {
        let piece = String(String.UnicodeScalarView(scalars[start..<end]))
        let trimmed = piece.trimmingWhitespace()
        if !trimmed.isEmpty { result.append(trimmed) }
        start = end
    }
    while i < scalars.count {
        guard isSentenceEnd(scalars[i]) else { i += 1; continue }
        var end = i + 1
        while end < scalars.count, isSentenceEnd(scalars[end]) { end += 1 }
        if end == scalars.count || scalars[end].properties.isWhitespace { flush(upTo: end) }
        i = end
    }
    flush(upTo: scalars.count)
    return result
}

private func isSentenceEnd(_ c: Unicode.Scalar) -> Bool {
    c == "." || c == "!" || c == "?"
}

extension String {
    /// The string without leading and trailing Unicode whitespace.
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
