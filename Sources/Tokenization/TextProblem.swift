/// Why bytes are not usable as text: the one rule for every text SwiftCLIP reads — captions in
/// `make-shards` inputs, `embed --texts` files, class names and templates, `tokenize`'s input — is
/// valid UTF-8 without NUL bytes. Invalid bytes would otherwise become U+FFFD unnoticed, and HDF5
/// strings end at NUL ("line2\0nul" would be stored as "line2"). An item that breaks the rule is
/// skipped and counted by reason (`make-shards`); a line of a file that breaks it is refused, naming
/// the file and the line (`TextFileError`).
public enum TextProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidUTF8
    case nulByte

    public var description: String {
        switch self {
        case .invalidUTF8: "not valid UTF-8"
        case .nulByte: "holds a NUL byte"
        }
    }

    /// `bytes` as text, or the rule they break.
    public static func decode(_ bytes: some Collection<UInt8>) throws(TextProblem) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8 }
        try check(text)
        return text
    }

    /// Throws `.nulByte` when `text` (valid Unicode already) holds U+0000.
    public static func check(_ text: String) throws(TextProblem) {
        if text.utf8.contains(0) { throw .nulByte }
    }

    /// The lines of a text file's bytes (as `TextLines` splits them), each checked; throws a
    /// `TextFileError` naming `source` and the first line that breaks the rule.
    public static func lines(of bytes: some Sequence<UInt8>, source: String) throws(TextFileError) -> [String] {
        var reader = TextLines()
        let lines = reader.feed(bytes) + (reader.finish().map { [$0] } ?? [])
        var texts: [String] = []
        for (n, line) in lines.enumerated() {
            do throws(TextProblem) { texts.append(try decode(line)) } catch { throw TextFileError(source: source, line: n + 1, problem: error) }
        }
        return texts
    }
}

/// A line of a text file that breaks the text rule (`TextProblem`): "PATH line 3: not valid UTF-8".
public struct TextFileError: Error, Sendable, CustomStringConvertible {
    public let source: String
    public let line: Int
    public let problem: TextProblem

    public var description: String { "\(source) line \(line): \(problem)" }
}
