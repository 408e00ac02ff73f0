import Foundation
import TensorCore

/// Builds a safetensors file from `F32` and `I64` tensors, byte-for-byte deterministically.
///
/// Layout: 8-byte little-endian header length N; N bytes of compact JSON header — first
/// `"__metadata__"` (its keys sorted, always including `format_version`), then the tensors in
/// UTF-8 byte order of their names, each `{"dtype","shape","data_offsets"}` — padded with spaces
/// so the data starts at a multiple of 8; then the tensors' little-endian data in that same
/// name order, with no gaps. Identical input gives identical bytes.
///
/// ```swift
/// var writer = try SafeTensorsWriter(metadata: ["model": "ViT-B-32"])
/// try writer.add("logit_scale", shape: [], floats: [2.6593])
/// try writer.write(to: url)   // atomic
/// ```
public struct SafeTensorsWriter: Sendable {
    /// The version written as `__metadata__.format_version`.
    public static let formatVersion = "1"

    private enum Values: Sendable {
        case float32([Float])
        /// Written from the tensor's own buffer, without a copy.
        case tensor(Tensor)
        case int64([Int64])
    }

    private struct Entry: Sendable {
        let name: String
        let shape: [Int]
        let values: Values
    }

    /// Metadata as it will be written (caller's keys plus `format_version`).
    public let metadata: [String: String]
    private var entries: [String: Entry] = [:]

    /// - Parameter metadata: strings stored under `__metadata__`. `format_version` is added;
    ///   passing it with a different value is an error.
    public init(metadata: [String: String] = [:]) throws {
        if let version = metadata["format_version"], version != Self.formatVersion {
            throw CheckpointingError(.invalidArgument, path: "metadata",
                                     reason: "format_version is written by SafeTensorsWriter (\(Self.formatVersion)); got '\(version)'")
        }
        var metadata = metadata
        metadata["format_version"] = Self.formatVersion
        self.metadata = metadata
    }

    /// Adds an `F32` tensor. - Parameter floats: `shape.reduce(1, *)` values, row-major.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) throws {
        try add(Entry(name: name, shape: shape, values: .float32(floats)), count: floats.count)
    }

    /// Adds an `F32` tensor whose values are streamed from its buffer when the file is written
    /// (no copy is made; the tensor is copy-on-write, so later changes to the caller's do not show).
    public mutating func add(_ name: String, tensor: Tensor) throws {
        try add(Entry(name: name, shape: tensor.shape, values: .tensor(tensor)), count: tensor.count)
    }

    /// Adds an `I64` tensor. - Parameter int64s: `shape.reduce(1, *)` values, row-major.
    public mutating func add(_ name: String, shape: [Int], int64s: [Int64]) throws {
        try add(Entry(name: name, shape: shape, values: .int64(int64s)), count: int64s.count)
    }

    private mutating func add(_ entry: Entry, count: Int) throws {
        let subject = "tensor \(quotedForMessage(entry.name))"
        guard !entry.name.isEmpty, entry.name != "__metadata__" else {
            throw CheckpointingError(.invalidArgument, path: subject, reason: "is not a usable tensor name")
        }
        guard entries[entry.name] == nil else {
            throw CheckpointingError(.invalidArgument, path: subject, reason: "was already added")
        }
        guard let bytes = byteCount(shape: entry.shape, elementSize: 1), bytes == count else {
            throw CheckpointingError(.invalidArgument, path: subject,
                                     reason: "shape \(shapeText(entry.shape)) does not match the \(count) values given")
        }
        entries[entry.name] = entry
    }

    /// Tensor names in file order.
    public var names: [String] { entries.keys.sorted { $0.precedesByUTF8($1) } }

    // MARK: Output

    /// The whole file in memory.
    public func serialized() -> Data {
        var data = Data()
        emit { data.append(contentsOf: $0) }
        return data
    }

    /// Streams the file into `sink` (e.g. one file of a checkpoint being saved).
    public func write(into sink: inout FileSink) throws {
        try emit { try sink.write($0) }
    }

    /// Atomically writes the file to `url` (see `AtomicFile`).
    public func write(to url: URL) throws {
        try AtomicFile.write(to: url) { sink in try write(into: &sink) }
    }

    private func emit(_ output: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let ordered = names.map { entries[$0]! }
        var members: [(key: String, json: String)] = [
            ("__metadata__", JSONText.object(metadata.keys.sorted { $0.precedesByUTF8($1) }.map {
                ($0, JSONText.quoted(metadata[$0]!))
            })),
        ]
        var offset = 0
        for entry in ordered {
            let (dtype, size) = switch entry.values {
            case .float32(let values): ("F32", values.count * 4)
            case .tensor(let tensor): ("F32", tensor.count * 4)
            case .int64(let values): ("I64", values.count * 8)
            }
            members.append((entry.name, JSONText.object([
                ("dtype", JSONText.quoted(dtype)),
                ("shape", JSONText.array(entry.shape)),
                ("data_offsets", JSONText.array([offset, offset + size])),
            ])))
            offset += size
        }
        var header = Array(JSONText.object(members).utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try output($0) }
        try header.withUnsafeBytes { try output($0) }
        for entry in ordered {
            switch entry.values {
            case .float32(let values):
                #if _endian(little)
                try values.withUnsafeBytes { try output($0) }  // Float's bytes are its little-endian bit pattern
                #else
                try emitLittleEndian(values.map(\.bitPattern), output)
                #endif
            case .tensor(let tensor):
                #if _endian(little)
                try tensor.withUnsafeBufferPointer { try output(UnsafeRawBufferPointer($0)) }
                #else
                try emitLittleEndian(tensor.scalars.map(\.bitPattern), output)
                #endif
            case .int64(let values): try emitLittleEndian(values, output)
            }
        }
    }
}

/// Writes integers as little-endian bytes, in chunks so big-endian hosts need little memory.
private func emitLittleEndian<T: FixedWidthInteger>(_ values: [T],
                                                    _ output: (UnsafeRawBufferPointer) throws -> Void) rethrows {
    #if _endian(little)
    try values.withUnsafeBytes { try output($0) }
    #else
    let chunk = 1 << 16
    for start in stride(from: 0, to: values.count, by: chunk) {
        let converted = values[start..<min(start + chunk, values.count)].map(\.littleEndian)
        try converted.withUnsafeBytes { try output($0) }
    }
    #endif
}

/// Writes a safetensors file of `F32` tensors atomically; see `SafeTensorsWriter` for the layout.
public func writeSafeTensors(_ records: [(name: String, shape: [Int], data: [Float])],
                             metadata: [String: String] = [:], to url: URL) throws {
    var writer = try SafeTensorsWriter(metadata: metadata)
    for record in records {
        try writer.add(record.name, shape: record.shape, floats: record.data)
    }
    try writer.write(to: url)
}
