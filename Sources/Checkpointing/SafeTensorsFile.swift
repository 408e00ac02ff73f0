import Foundation

/// A safetensors file, read and validated in full before any tensor is handed out.
///
/// Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
/// N bytes of UTF-8 JSON (an object: tensor name → `{"dtype", "shape", "data_offsets"}`, plus an
/// optional `"__metadata__"` object of strings), then the data region. Offsets are relative to
/// the data region; the tensors must cover it exactly, without gaps or overlaps.
///
/// Every violation — truncation, a lying header length, bad JSON, duplicate names, offsets out of
/// range or overlapping, a byte count that disagrees with dtype × shape, an unknown dtype — throws
/// a one-line `CheckpointingError` naming the file. Nothing is allocated from a size the file
/// claims before that size is checked against the real file size.
public struct SafeTensorsFile: Sendable {
    /// Header lengths above this are rejected (the limit of the reference implementation).
    public static let maximumHeaderLength = 100_000_000

    /// The path used in error messages.
    public let path: String
    /// The `__metadata__` strings (empty if the file has none).
    public let metadata: [String: String]
    /// All tensors, sorted by name (UTF-8 byte order).
    public let records: [TensorRecord]
    private let recordIndex: [String: Int]
    /// Holds the data region (everything after the header) from byte `dataStart` on.
    let storage: Data
    let dataStart: Int

    /// Reads and validates the file at `url`. The header is checked before the data is read.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let file = try ReadableFile(path: path)
        guard file.size >= 8 else { throw Self.tooShort(path: path, size: file.size) }
        let headerLength = try Self.headerLength(file.read(at: 0, count: 8), fileSize: file.size, path: path)
        let header = try file.read(at: 8, count: headerLength)
        let dataSize = file.size - 8 - headerLength
        let parsed = try Self.parseHeader(header, dataSize: dataSize, path: path)
        self.init(path: path, header: parsed, storage: try file.read(at: 8 + headerLength, count: dataSize), dataStart: 0)
    }

    /// Validates the safetensors bytes in `data`; `path` names them in error messages.
    public init(data: Data, path: String) throws {
        guard data.count >= 8 else { throw Self.tooShort(path: path, size: data.count) }
        let start = data.startIndex
        let headerLength = try Self.headerLength(data[start..<start + 8], fileSize: data.count, path: path)
        let header = data[start + 8..<start + 8 + headerLength]
        let parsed = try Self.parseHeader(header, dataSize: data.count - 8 - headerLength, path: path)
        // Keep `data` itself (no copy); the data region starts after the header.
        self.init(path: path, header: parsed, storage: data, dataStart: 8 + headerLength)
    }

    private init(path: String, header: (metadata: [String: String], records: [TensorRecord]), storage: Data,
                 dataStart: Int) {
        self.path = path
        metadata = header.metadata
        records = header.records
        recordIndex = Dictionary(uniqueKeysWithValues: header.records.enumerated().map { ($1.name, $0) })
        self.storage = storage
        self.dataStart = dataStart
    }

    /// Tensor names, sorted.
    public var names: [String] { records.map(\.name) }

    public func record(named name: String) -> TensorRecord? {
        recordIndex[name].map { records[$0] }
    }
}

// MARK: - Validation

extension SafeTensorsFile {
    private static func malformed(_ path: String, _ reason: String) -> CheckpointingError {
        CheckpointingError(.malformedFile, path: path, reason: "invalid safetensors file: " + reason)
    }

    private static func tooShort(path: String, size: Int) -> CheckpointingError {
        malformed(path, "\(size) bytes, shorter than the 8-byte header length")
    }

    /// The header length from the first 8 bytes, checked against the limit and the file size.
    private static func headerLength(_ bytes: Data, fileSize: Int, path: String) throws -> Int {
        let length = bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(maximumHeaderLength) else {
            throw malformed(path, "header length \(length) exceeds the limit of \(maximumHeaderLength) bytes")
        }
        guard Int(length) <= fileSize - 8 else {
            throw malformed(path, "header length \(length) runs past the end of the file (\(fileSize) bytes; truncated?)")
        }
        guard length >= 2 else { throw malformed(path, "header length \(length) is too small for a JSON object") }
        return Int(length)
    }

    /// Parses the JSON header and checks every entry against the data region of `dataSize` bytes.
    static func parseHeader(_ header: Data, dataSize: Int,
                            path: String) throws -> (metadata: [String: String], records: [TensorRecord]) {
        let json: JSONValue
        do throws(JSONParseError) {
            json = try JSONValue.parse(Array(header))
        } catch {
            throw malformed(path, "header is not valid JSON: \(error.message) at byte \(8 + error.offset)")
        }
        guard case .object(let members) = json else {
            throw malformed(path, "header is a JSON \(json.kindName), not an object")
        }
        var metadata: [String: String] = [:]
        var records: [TensorRecord] = []
        records.reserveCapacity(members.count)
        for (name, entry) in members {
            if name == "__metadata__" {
                metadata = try parseMetadata(entry, path: path)
            } else {
                records.append(try parseEntry(name: name, entry, dataSize: dataSize, path: path))
            }
        }
        try checkCoverage(records, dataSize: dataSize, path: path)
        records.sort { $0.name.precedesByUTF8($1.name) }
        return (metadata, records)
    }

    private static func parseMetadata(_ value: JSONValue, path: String) throws -> [String: String] {
        guard case .object(let members) = value else {
            throw malformed(path, "__metadata__ is a JSON \(value.kindName), not an object of strings")
        }
        var metadata: [String: String] = [:]
        for (key, value) in members {
            guard case .string(let text) = value else {
                throw malformed(path, "__metadata__ value for \(quotedForMessage(key)) is a \(value.kindName), not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static let unsupportedDTypes: Set<String> = ["F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2",
                                                         "F4", "C64"]

    private static func parseEntry(name: String, _ value: JSONValue, dataSize: Int,
                                   path: String) throws -> TensorRecord {
        let quoted = quotedForMessage(name)
        guard case .object(let fields) = value else {
            throw malformed(path, "entry \(quoted) is a JSON \(value.kindName), not an object")
        }
        guard let dtypeValue = fields["dtype"] else { throw malformed(path, "tensor \(quoted) has no dtype") }
        guard case .string(let dtypeName) = dtypeValue else {
            throw malformed(path, "dtype of \(quoted) is a \(dtypeValue.kindName), not a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            if unsupportedDTypes.contains(dtypeName) {
                throw CheckpointingError(.unsupported, path: path,
                                         reason: "tensor \(quoted) has dtype \(dtypeName), which is not supported")
            }
            throw malformed(path, "tensor \(quoted) has unknown dtype \(quotedForMessage(dtypeName))")
        }
        guard let shapeValue = fields["shape"] else { throw malformed(path, "tensor \(quoted) has no shape") }
        guard case .array(let dimensions) = shapeValue else {
            throw malformed(path, "shape of \(quoted) is a \(shapeValue.kindName), not an array")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dimensions.count)
        for dimension in dimensions {
            guard let size = dimension.integer, size >= 0 else {
                throw malformed(path, "shape of \(quoted) has a dimension that is not a non-negative integer")
            }
            shape.append(size)
        }
        guard let offsetsValue = fields["data_offsets"] else {
            throw malformed(path, "tensor \(quoted) has no data_offsets")
        }
        guard case .array(let offsets) = offsetsValue, offsets.count == 2,
              let begin = offsets[0].integer, let end = offsets[1].integer, begin >= 0, end >= 0 else {
            throw malformed(path, "data_offsets of \(quoted) must be two non-negative integers [begin, end]")
        }
        guard begin <= end else {
            throw malformed(path, "data_offsets of \(quoted) are reversed: [\(begin), \(end)]")
        }
        guard end <= dataSize else {
            throw malformed(path, "data_offsets of \(quoted) [\(begin), \(end)] run past the data region "
                + "(\(dataSize) bytes; truncated?)")
        }
        guard let expected = byteCount(shape: shape, elementSize: dtype.byteSize) else {
            throw malformed(path, "shape of \(quoted) \(shapeText(shape)) has too many elements")
        }
        guard expected == end - begin else {
            throw malformed(path, "tensor \(quoted): \(dtype.rawValue) × \(shapeText(shape)) needs \(expected) bytes, "
                + "but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return TensorRecord(name: name, shape: shape, dtype: dtype, dataOffsets: begin..<end)
    }

    /// The tensors must tile the data region: sorted by offset, each starts where the last ended.
    private static func checkCoverage(_ records: [TensorRecord], dataSize: Int, path: String) throws {
        let ordered = records.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
        }
        var position = 0
        var previous: TensorRecord?
        for record in ordered {
            if record.dataOffsets.lowerBound < position, let previous {
                throw malformed(path, "data of \(quotedForMessage(record.name)) overlaps "
                    + "the data of \(quotedForMessage(previous.name))")
            }
            if record.dataOffsets.lowerBound > position {
                throw malformed(path, "bytes \(position)..<\(record.dataOffsets.lowerBound) of the data region "
                    + "belong to no tensor")
            }
            position = record.dataOffsets.upperBound
            previous = record
        }
        guard position == dataSize else {
            throw malformed(path, "the last \(dataSize - position) bytes of the data region belong to no tensor")
        }
    }
}

/// `[2, 3]`, for messages.
func shapeText(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
