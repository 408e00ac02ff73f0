import Foundation
import Tokenization

/// A delimited text table with a header row (OpenCLIP's CSV/TSV datasets): RFC 4180 quoting — fields in
/// double quotes may hold the separator, newlines and `""` for a quote — CRLF or LF line ends, an optional
/// UTF-8 byte-order mark.
public struct CSVTable: Sendable {
    public let path: String
    public let header: [String]
    /// Data rows, each with `header.count` fields (short rows are padded with ""). A field that is not
    /// valid UTF-8 holds U+FFFD for its bad bytes here; `text(row:column:)` refuses it.
    public let rows: [[String]]
    /// `[row, column]` of each field that is not valid UTF-8.
    private let invalidUTF8: Set<[Int]>

    /// The separator for a file name: tab for `.tsv`, comma otherwise.
    public static func defaultSeparator(for path: String) -> Character {
        path.lowercased().hasSuffix(".tsv") ? "\t" : ","
    }

    public init(path: String, separator: Character? = nil) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ShardBuildError(description: "\(path): cannot read CSV file")
        }
        let separator = separator ?? Self.defaultSeparator(for: path)
        guard let byte = separator.asciiValue else {
            throw ShardBuildError(description: "\(path): the separator must be one ASCII character, got \"\(separator)\"")
        }
        var (records, invalid) = try Self.parse(Array(data), separator: byte, path: path)
        while records.last == [""] { records.removeLast() }   // trailing blank lines
        guard let header = records.first, !(header.count == 1 && header[0].isEmpty) else {
            throw ShardBuildError(description: "\(path): CSV file has no header row")
        }
        self.header = header
        var rows: [[String]] = [], invalidUTF8 = Set<[Int]>()
        for (r, row) in records.enumerated().dropFirst() where row != [""] {
            for c in row.indices where invalid.contains([r, c]) { invalidUTF8.insert([rows.count, c]) }
            rows.append(row.count >= header.count ? row : row + [String](repeating: "", count: header.count - row.count))
        }
        (self.rows, self.invalidUTF8) = (rows, invalidUTF8)
    }

    /// Field `column` of data row `row` as text, or the text rule it breaks (`TextProblem`: not valid
    /// UTF-8, or a NUL byte).
    public func text(row: Int, column: Int) throws(TextProblem) -> String {
        if invalidUTF8.contains([row, column]) { throw .invalidUTF8 }
        try TextProblem.check(rows[row][column])
        return rows[row][column]
    }

    /// The index of column `name`; throws naming the file and the columns it has.
    public func column(_ name: String) throws -> Int {
        guard let index = header.firstIndex(of: name) else {
            throw ShardBuildError(description: "\(path): no column \"\(name)\" (columns: \(header.joined(separator: ", ")))")
        }
        return index
    }

    /// The records, and `[record, field]` of each field that is not valid UTF-8.
    private static func parse(_ bytes: [UInt8], separator: UInt8, path: String) throws -> ([[String]], Set<[Int]>) {
        let quote = UInt8(ascii: "\""), newline = UInt8(ascii: "\n"), ret = UInt8(ascii: "\r")
        var records: [[String]] = []
        var record: [String] = []
        var invalid = Set<[Int]>()
        var field: [UInt8] = []
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var inQuotes = false
        func endField() {
            if let text = String(validating: field, as: UTF8.self) { record.append(text) } else {
                invalid.insert([records.count, record.count])
                record.append(String(decoding: field, as: UTF8.self))
            }
            field.removeAll(keepingCapacity: true)
        }
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == quote {
                    if i + 1 < bytes.count && bytes[i + 1] == quote {
                        field.append(quote)
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(b)
                }
            } else if b == quote && field.isEmpty {
                inQuotes = true
            } else if b == separator {
                endField()
            } else if b == newline || b == ret {
                endField()
                records.append(record)
                record.removeAll()
                if b == ret && i + 1 < bytes.count && bytes[i + 1] == newline { i += 1 }
            } else {
                field.append(b)
            }
            i += 1
        }
        if inQuotes { throw ShardBuildError(description: "\(path): unterminated quoted field at the end of the file") }
        if !field.isEmpty || !record.isEmpty {
            endField()
            records.append(record)
        }
        return (records, invalid)
    }
}
