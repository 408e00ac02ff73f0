/// A TensorBoard `Event` protobuf (tensorboard/compat/proto/event.proto), the part SwiftCLIP
/// writes and reads back: wall time, step, and either the file version or scalar summary values.
///
/// Encoded as protobuf's own serializer does (fields in number order, proto3 defaults omitted,
/// a oneof member always written), so that the bytes match a Python writer's for the same event:
/// `wall_time` = 1 (double), `step` = 2 (int64), `file_version` = 3 (string), `summary` = 5;
/// `Summary.value` = 1, `Summary.Value.tag` = 1, `Summary.Value.simple_value` = 2 (float).
public struct TensorBoardEvent: Equatable, Sendable {
    /// What an event carries.
    public enum Content: Equatable, Sendable {
        /// The first event of every file, `brain.Event:2`.
        case fileVersion(String)
        /// Scalars: (tag, value) pairs.
        case scalars([Scalar])
        /// A field this reader does not interpret (graphs, histograms, session logs, ...).
        case other
    }

    /// One scalar summary value.
    public struct Scalar: Equatable, Sendable {
        public var tag: String
        public var value: Float
        public init(tag: String, value: Float) { (self.tag, self.value) = (tag, value) }
    }

    public var wallTime: Double
    public var step: Int64
    public var content: Content

    public init(wallTime: Double, step: Int64, content: Content) {
        (self.wallTime, self.step, self.content) = (wallTime, step, content)
    }

    /// The protobuf encoding.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        if wallTime.bitPattern != 0 { out += [0x09] + TFRecord.littleEndian(wallTime.bitPattern) }
        if step != 0 { out.append(0x10); Self.varint(UInt64(bitPattern: step), into: &out) }
        switch content {
        case .fileVersion(let v): Self.lengthDelimited(field: 3, Array(v.utf8), into: &out)
        case .scalars(let values):
            var summary: [UInt8] = []
            for s in values {
                var value: [UInt8] = []
                if !s.tag.isEmpty { Self.lengthDelimited(field: 1, Array(s.tag.utf8), into: &value) }
                value += [0x15] + TFRecord.littleEndian(s.value.bitPattern)
                Self.lengthDelimited(field: 1, value, into: &summary)
            }
            Self.lengthDelimited(field: 5, summary, into: &out)
        case .other: break
        }
        return out
    }

    /// Decodes an event; nil when the bytes are not a well-formed protobuf message.
    public init?(decoding bytes: [UInt8]) {
        var reader = ProtoReader(bytes[...])
        (wallTime, step, content) = (0, 0, .other)
        while !reader.atEnd {
            guard let (field, wire) = reader.key() else { return nil }
            switch (field, wire) {
            case (1, 1): guard let v = reader.fixed64() else { return nil }; wallTime = Double(bitPattern: v)
            case (2, 0): guard let v = reader.varint() else { return nil }; step = Int64(bitPattern: v)
            case (3, 2): guard let v = reader.bytes() else { return nil }; content = .fileVersion(String(decoding: v, as: UTF8.self))
            case (5, 2):
                guard let v = reader.bytes(), let scalars = Self.scalars(v) else { return nil }
                content = .scalars(scalars)
            default: guard reader.skip(wire) else { return nil }; if field >= 3 && field <= 9 { content = .other }
            }
        }
    }

    private static func scalars(_ bytes: ArraySlice<UInt8>) -> [Scalar]? {
        var reader = ProtoReader(bytes), result: [Scalar] = []
        while !reader.atEnd {
            guard let (field, wire) = reader.key() else { return nil }
            guard field == 1, wire == 2 else { guard reader.skip(wire) else { return nil }; continue }
            guard let valueBytes = reader.bytes() else { return nil }
            var value = ProtoReader(valueBytes), tag = "", simple: Float? = nil
            while !value.atEnd {
                guard let (f, w) = value.key() else { return nil }
                switch (f, w) {
                case (1, 2): guard let t = value.bytes() else { return nil }; tag = String(decoding: t, as: UTF8.self)
                case (2, 5): guard let v = value.fixed32() else { return nil }; simple = Float(bitPattern: v)
                default: guard value.skip(w) else { return nil }
                }
            }
            if let simple { result.append(Scalar(tag: tag, value: simple)) }   // non-scalar values are skipped
        }
        return result
    }

    static func varint(_ v: UInt64, into out: inout [UInt8]) {
        var v = v
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    static func lengthDelimited(field: Int, _ bytes: [UInt8], into out: inout [UInt8]) {
        varint(UInt64(field << 3 | 2), into: &out)
        varint(UInt64(bytes.count), into: &out)
        out += bytes
    }
}

/// Reads protobuf wire-format fields; every read returns nil rather than running past the end.
struct ProtoReader {
    private var rest: ArraySlice<UInt8>
    init(_ bytes: ArraySlice<UInt8>) { rest = bytes }
    var atEnd: Bool { rest.isEmpty }

    mutating func varint() -> UInt64? {
        var result: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let b = rest.popFirst() else { return nil }
            result |= UInt64(b & 0x7F) << UInt64(shift)
            if b < 0x80 { return result }
        }
        return nil
    }

    mutating func key() -> (Int, Int)? {
        guard let k = varint(), k >> 3 > 0, k >> 3 < 1 << 29 else { return nil }
        return (Int(k >> 3), Int(k & 7))
    }

    mutating func fixed64() -> UInt64? { fixed(8) }
    mutating func fixed32() -> UInt32? { fixed(4).map { UInt32($0) } }

    private mutating func fixed(_ n: Int) -> UInt64? {
        guard rest.count >= n else { return nil }
        let v = rest.prefix(n).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        rest = rest.dropFirst(n)
        return v
    }

    mutating func bytes() -> ArraySlice<UInt8>? {
        guard let n = varint(), n <= UInt64(rest.count) else { return nil }
        let v = rest.prefix(Int(n))
        rest = rest.dropFirst(Int(n))
        return v
    }

    mutating func skip(_ wire: Int) -> Bool {
        switch wire {
        case 0: return varint() != nil
        case 1: return fixed64() != nil
        case 2: return bytes() != nil
        case 5: return fixed32() != nil
        default: return false
        }
    }
}
