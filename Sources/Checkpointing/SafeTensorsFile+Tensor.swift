import TensorCore

/// Reading a floating-point tensor straight into a `Tensor` (F32 bytes are copied once, into the
/// tensor's own storage; F16, BF16 and F64 go through `floats(named:)`).
extension SafeTensorsFile {
    /// Tensor `name` with its shape; throws if it is missing or not floating point.
    public func tensor(named name: String) throws -> Tensor {
        guard let record = record(named: name), record.dtype == .float32 else {
            let values = try floats(named: name)  // throws for a missing or non-floating-point tensor
            return Tensor(shape: record(named: name)!.shape, scalars: values)
        }
        var tensor = Tensor(uninitializedShape: record.shape)
        storage.withUnsafeBytes { all in
            let start = dataStart + record.dataOffsets.lowerBound
            tensor.withUnsafeMutableBufferPointer { destination in
                #if _endian(little)
                let source = UnsafeRawBufferPointer(rebasing: all[start..<start + record.byteCount])
                UnsafeMutableRawBufferPointer(destination).copyMemory(from: source)
                #else
                for i in destination.indices {
                    destination[i] = Float(bitPattern: UInt32(littleEndian: all.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)))
                }
                #endif
            }
        }
        return tensor
    }

    /// Every tensor of the file, by name (all must be floating point).
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for record in records { result[record.name] = try tensor(named: record.name) }
        return result
    }
}
