/// Lines of text files and streams, split on bytes: a line ends at "\n" or "\r\n".
///
/// Splitting a Swift `String` on the Character "\n" never splits a CRLF file, because "\r\n" is one
/// Character; this works on UTF-8 bytes instead. Every line counts, empty ones included; a final line
/// without a terminator counts too, and a terminator at the very end does not start another line
/// (so "a\n\nb\n" has the three lines "a", "", "b").
public struct TextLines {
    private var pending: [UInt8] = []

    public init() {}

    /// The lines completed by `chunk` (the next bytes of the stream), without their terminators.
    public mutating func feed(_ chunk: some Sequence<UInt8>) -> [[UInt8]] {
        pending += chunk
        var lines: [[UInt8]] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: 0x0A) {
            lines.append(Self.line(pending[start..<newline]))
            start = newline + 1
        }
        pending.removeFirst(start)
        return lines
    }

    /// The last line when the stream did not end with a terminator.
    public mutating func finish() -> [UInt8]? {
        defer { pending = [] }
        return pending.isEmpty ? nil : Self.line(pending[...])
    }

    /// The lines of a whole text, as strings (decoded as UTF-8, each line on its own).
    public static func split(_ text: String) -> [String] {
        var reader = TextLines()
        let lines = reader.feed(text.utf8) + (reader.finish().map { [$0] } ?? [])
        return lines.map { String(decoding: $0, as: UTF8.self) }
    }

    /// A line's bytes without a trailing "\r" (the first half of a "\r\n" terminator).
    private static func line(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        Array(bytes.last == 0x0D ? bytes.dropLast() : bytes)
    }
}
