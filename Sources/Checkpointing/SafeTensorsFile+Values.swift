import Foundation

/// Reading tensor values: floating types convert to `[Float]` (F16 and BF16 exactly, F64 rounded),
/// integer and boolean types widen to `[Int64]`. Data is little-endian and row-major.
extension SafeTensorsFile {
    /// The values of the floating-point tensor `name` (F32, F16, BF16 or F64) as `Float`s.
    /// - Returns: `record.elementCount` values, row-major.
    public func floats(named name: String) throws -> [Float] {
        let record = try requireRecord(name)
        guard record.dtype.isFloatingPoint else {
            throw wrongType(record, wanted: "floats(named:) reads F16, BF16, F32 and F64")
        }
        let count = record.elementCount
        return withBytes(of: record) { bytes in
            switch record.dtype {
            case .float32:
                #if _endian(little)
                return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    if count > 0 { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes) }
                    initialized = count
                }
                #else
                return decode(bytes, count: count) { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
                #endif
            case .float16:
                return decode(bytes, count: count) { floatFromFloat16Bits(UInt16(littleEndian: $0.loadUnaligned(as: UInt16.self))) }
            case .bfloat16:
                return decode(bytes, count: count) { floatFromBFloat16Bits(UInt16(littleEndian: $0.loadUnaligned(as: UInt16.self))) }
            default:  // .float64
                return decode(bytes, count: count) { Float(Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)))) }
            }
        }
    }

    /// The values of the integer or boolean tensor `name` widened to `Int64`.
    /// Throws if a `U64` value does not fit in `Int64`.
    public func int64s(named name: String) throws -> [Int64] {
        let record = try requireRecord(name)
        let count = record.elementCount
        let values: [Int64]? = withBytes(of: record) { bytes in
            switch record.dtype {
            case .bool, .uint8: decode(bytes, count: count) { Int64($0.load(as: UInt8.self)) }
            case .int8: decode(bytes, count: count) { Int64($0.load(as: Int8.self)) }
            case .int16: decode(bytes, count: count) { Int64(Int16(littleEndian: $0.loadUnaligned(as: Int16.self))) }
            case .uint16: decode(bytes, count: count) { Int64(UInt16(littleEndian: $0.loadUnaligned(as: UInt16.self))) }
            case .int32: decode(bytes, count: count) { Int64(Int32(littleEndian: $0.loadUnaligned(as: Int32.self))) }
            case .uint32: decode(bytes, count: count) { Int64(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
            case .int64: decode(bytes, count: count) { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
            case .uint64: decode(bytes, count: count) { Int64(bitPattern: UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
            case .float16, .bfloat16, .float32, .float64: nil
            }
        }
        guard let values else {
            throw wrongType(record, wanted: "int64s(named:) reads BOOL, U8, I8, I16, U16, I32, U32, I64 and U64")
        }
        if record.dtype == .uint64, let index = values.firstIndex(where: { $0 < 0 }) {
            throw CheckpointingError(.unsupported, path: path,
                                     reason: "U64 tensor \(quotedForMessage(name)) holds \(UInt64(bitPattern: values[index])) "
                                         + "at index \(index), which does not fit in Int64")
        }
        return values
    }

    /// The raw little-endian bytes of tensor `name`.
    public func bytes(named name: String) throws -> Data {
        let record = try requireRecord(name)
        let start = storage.startIndex + dataStart + record.dataOffsets.lowerBound
        return Data(storage[start..<start + record.byteCount])
    }

    // MARK: Helpers

    private func requireRecord(_ name: String) throws -> TensorRecord {
        guard let record = record(named: name) else {
            throw CheckpointingError(.notFound, path: path, reason: "no tensor named \(quotedForMessage(name))")
        }
        return record
    }

    private func wrongType(_ record: TensorRecord, wanted: String) -> CheckpointingError {
        CheckpointingError(.invalidArgument, path: path,
                           reason: "tensor \(quotedForMessage(record.name)) has dtype \(record.dtype.rawValue); \(wanted)")
    }

    private func withBytes<R>(of record: TensorRecord, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        storage.withUnsafeBytes { all in
            let start = dataStart + record.dataOffsets.lowerBound
            return body(UnsafeRawBufferPointer(rebasing: all[start..<start + record.byteCount]))
        }
    }
}

/// `count` values decoded from consecutive elements of `bytes` (element size `bytes.count / count`).
private func decode<T>(_ bytes: UnsafeRawBufferPointer, count: Int,
                       _ element: (UnsafeRawPointer) -> T) -> [T] {
    guard count > 0, let base = bytes.baseAddress else { return [] }
    let stride = bytes.count / count
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        for i in 0..<count {
            (buffer.baseAddress! + i).initialize(to: element(base + i * stride))
        }
        initialized = count
    }
}
